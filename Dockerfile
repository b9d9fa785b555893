# The article-cleaner HTTP service: gunicorn on $PORT, SQLite store on the /data volume.
#   docker build -t article-cleaner .
#   docker run -d -p 8000:8000 -v cleaner-data:/data --name cleaner article-cleaner
#   docker exec cleaner cleaner keys create --tenant acme
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLEANER_DB=/data/cleaner.db \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    NUMBA_CACHE_DIR=/home/cleaner/.cache/numba

RUN groupadd --system --gid 10001 cleaner \
    && useradd --system --uid 10001 --gid cleaner --create-home --home-dir /home/cleaner cleaner \
    && mkdir -p /data \
    && chown cleaner:cleaner /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY cleaner ./cleaner
COPY service ./service
RUN pip install --no-cache-dir .

USER 10001:10001
# Compile the story index's numba kernels into the image (NUMBA_CACHE_DIR), as the user that
# runs the service: no container pays the compile time on start.
RUN python -c "from cleaner.stories.rule import warm_up; warm_up()"
VOLUME ["/data"]
EXPOSE 8000

# No curl in the slim image: Python's urllib does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

CMD ["gunicorn", "-c", "python:service.gunicorn_conf", "service:create_app()"]
