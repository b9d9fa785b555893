"""The HTTP service: ``create_app(config=None)`` builds the Flask app.

Run by gunicorn in production (``gunicorn -c python:service.gunicorn_conf 'service:create_app()'``)
and by ``cleaner serve`` locally, which starts that same gunicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

# Nothing heavy is imported at package import: gunicorn loads ``service.gunicorn_conf`` in
# its master, which must set PROMETHEUS_MULTIPROC_DIR before prometheus_client is imported.

__all__ = ["close_app", "create_app"]

_BEARER = "bearer "


def _authenticate(app: Flask) -> None:
    """Before every ``/v1`` request: a valid ``Authorization: Bearer <key>`` or a 401."""
    from flask import g, request

    from .auth import KeyStoreError
    from .errors import ApiError

    @app.before_request
    def _require_key() -> None:
        g.principal = None
        if not request.path.startswith("/v1/"):
            return
        header = request.headers.get("Authorization", "")
        if not header[: len(_BEARER)].lower() == _BEARER:
            raise ApiError(401, "unauthorized", "send your API key as 'Authorization: Bearer <key>'",
                           headers={"WWW-Authenticate": 'Bearer realm="cleaner"'})
        try:
            principal = app.extensions["cleaner.keys"].authenticate(header[len(_BEARER):].strip())
        except KeyStoreError:
            raise ApiError(503, "storage_unavailable", "the key store is unavailable, try again later") from None
        if principal is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API key",
                           headers={"WWW-Authenticate": 'Bearer realm="cleaner", error="invalid_token"'})
        g.principal = principal


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config layers (defaults, environment, ``config``), then each part's ``init_app``."""
    from flask import Flask

    from . import api, audit, errors, index, metrics, openapi, ratelimit
    from .auth import KeyStore
    from .config import build_config

    app = Flask(__name__)
    app.config.update(build_config(config))
    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.extensions["cleaner.keys"] = KeyStore(str(app.config["CLEANER_DB"]), app.config["DB_SCHEMA"])
    index.init_app(app)
    # Hook order matters: the timer first, then auth (sets g.principal), then the rate
    # limiter (keys its counters on g.principal), all before any route runs.
    metrics.init_app(app)
    _authenticate(app)
    app.extensions["cleaner.limiter"] = ratelimit.init_app(app)
    errors.init_app(app)
    audit.init_app(app)
    api.init_app(app)
    app.register_blueprint(openapi.docs)
    return app


def close_app(app: Flask) -> None:
    """Close the database handles ``app`` opened in this process (tests; workers just exit)."""
    app.extensions["cleaner.story_index"].close()
    app.extensions["cleaner.keys"].close()
    storage = getattr(app.extensions["cleaner.limiter"], "storage", None)
    close = getattr(storage, "close", None)
    if callable(close):
        close()
