"""gunicorn settings shared by ``cleaner serve`` and the Docker image
(``gunicorn -c python:service.gunicorn_conf 'service:create_app()'``), so local runs production.

Environment: ``PORT`` (default 8000), ``HOST`` (default 0.0.0.0), ``WEB_CONCURRENCY``
(workers, default 2 = one per core of the target box), ``PROMETHEUS_MULTIPROC_DIR``
(made fresh in a temp dir when unset, so ``/metrics`` sums all workers).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn import util as gunicorn_util

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
#: Seconds before a stuck worker is killed: a full batch of large pages takes a few seconds.
timeout = 60
graceful_timeout = 20
#: Recycle a worker after this many requests (plus jitter, so workers do not restart together):
#: bounds the memory any slow leak in a parser can take.
max_requests = 20000
max_requests_jitter = 2000
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# gunicorn 27's control socket sits at one fixed path per user: two instances (tests, a
# second service) would fight over it, and nothing here uses it.
control_socket_disable = True
# Workers load the app after fork: each opens its own database handles.
preload_app = False



def _json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    from service.errors import raw_error_response

    gunicorn_util.write_nonblock(sock, raw_error_response(status_int, reason, mesg))


# gunicorn answers a request it cannot parse (a bad request line or method, headers too large,
# broken chunked framing) itself, before the app sees it, with an HTML page that its worker
# writes through gunicorn.util.write_error. Every error of this service is JSON: the workers,
# forked from this master where this module runs, write that answer in the service's shape.
gunicorn_util.write_error = _json_error

_created_metrics_dir: str | None = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Set at import (in the master, before any worker exists), so every worker inherits it.
    _created_metrics_dir = tempfile.mkdtemp(prefix="cleaner-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_metrics_dir


def on_starting(server: Any) -> None:
    """Start from empty metric files: counters from a previous run must not leak in. Then
    compile the story index's kernels once, here in the master: the workers it forks next
    load them from numba's cache instead of each compiling them on its first request."""
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    for f in path.glob("*.db"):
        f.unlink()
    from cleaner.stories.rule import warm_up

    warm_up()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges (its counters stay summed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
