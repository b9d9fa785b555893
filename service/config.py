"""Service settings in one place: defaults, then environment variables, then the caller's overrides.

Every HTTP limit the service enforces is a named constant here, so the OpenAPI document,
the README and the code cannot disagree.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

#: Largest request body accepted. A news page is rarely over 1 MB of HTML; 5 MB leaves
#: room for bloated markup while keeping one request from holding a worker for seconds.
MAX_BODY_BYTES = 5 * 1024 * 1024

#: Most articles in one ``POST /v1/articles/batch``. Cleaning takes ~10-50 ms per article,
#: so 100 keeps a batch under the gunicorn worker timeout with room to spare.
MAX_BATCH_ARTICLES = 100

#: Per-key request budget. Generous for an aggregator's crawler, small enough that one
#: runaway client cannot starve the others on a two-core box.
DEFAULT_RATE_LIMIT = "600 per minute"

#: Longest client-supplied article id (ids appear in URL paths and audit lines).
MAX_ARTICLE_ID_CHARS = 128

#: Largest page size of ``GET /v1/stories``.
MAX_STORIES_PAGE = 100

#: Largest ``offset`` of ``GET /v1/stories``: far past any tenant's story count, and far
#: inside the 64-bit integers SQL databases take (a larger one was a 500).
MAX_STORIES_OFFSET = 1_000_000_000

#: Default page size of ``GET /v1/stories``.
DEFAULT_STORIES_PAGE = 20

DEFAULT_DB = "cleaner.db"

# Environment variables read by ``from_env`` and the config key each one sets.
ENV_VARS: dict[str, str] = {
    "CLEANER_DB": "CLEANER_DB",
    "CLEANER_RATE_LIMIT": "RATE_LIMIT",
    "RATELIMIT_STORAGE_URI": "RATELIMIT_STORAGE_URI",
    "CLEANER_AUDIT_LOG": "AUDIT_LOG",
    "CLEANER_MAX_BATCH": "MAX_BATCH_ARTICLES",
    "CLEANER_METRICS_TOKEN": "METRICS_TOKEN",
    "CLEANER_DB_SCHEMA": "DB_SCHEMA",
    "CLEANER_STORY_WINDOW": "STORY_WINDOW",
}
#: Config keys whose value is a whole number of at least 1 (None: the default) and the
#: environment variable that sets each.
_INT_KEYS = {"MAX_BATCH_ARTICLES": "CLEANER_MAX_BATCH", "STORY_WINDOW": "CLEANER_STORY_WINDOW"}


class ConfigError(ValueError):
    """A setting the service cannot start with (``cleaner serve`` prints it and exits)."""


def default_db() -> str:
    """The store ``cleaner serve``/``cleaner keys`` use without ``--db``: ``$CLEANER_DB`` else ./cleaner.db."""
    return os.environ.get("CLEANER_DB") or DEFAULT_DB


def is_dsn(db: str) -> bool:
    """True for a PostgreSQL DSN rather than a SQLite file path."""
    return db.startswith(("postgresql://", "postgres://"))


def ratelimit_uri_for(db: str) -> str:
    """The default rate-limit store: a SQLite file next to the database, shared by all workers.

    A separate file keeps the per-request counter writes off the article database's write lock.
    With a PostgreSQL store there is no database file to sit next to, so the counters go to
    the temp directory (shared by the workers of one machine; several machines need Redis).
    """
    if is_dsn(db):
        return "sqlite:///" + str(Path(tempfile.gettempdir()) / "cleaner-ratelimit.db")
    path = Path(db).resolve()
    return "sqlite:///" + str(path.with_name(path.stem + ".ratelimit.db"))


def build_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then environment variables, then ``overrides`` (tests and ``create_app(config)``)."""
    cfg: dict[str, Any] = {
        "CLEANER_DB": DEFAULT_DB,
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        "MAX_BATCH_ARTICLES": MAX_BATCH_ARTICLES,
        "RATE_LIMIT": DEFAULT_RATE_LIMIT,
        "RATELIMIT_STORAGE_URI": None,  # None: derived from CLEANER_DB by ratelimit_uri_for
        "AUDIT_LOG": "-",  # "-": stderr; a path: append JSON lines there; "": no handler
        "METRICS_TOKEN": None,  # None: /metrics answers loopback callers only
        "DB_SCHEMA": "public",  # PostgreSQL only: the schema holding the index and key tables
        # Most recent articles per tenant that each worker keeps in memory as candidates
        # (about 2 KB each); None: the story index's own default, cleaner.stories.storage.WINDOW.
        "STORY_WINDOW": None,
    }
    for env, key in ENV_VARS.items():
        value = os.environ.get(env)
        if value:
            cfg[key] = _whole_number(env, value) if key in _INT_KEYS else value
    if overrides:
        cfg.update(overrides)
    for key, env in _INT_KEYS.items():
        value = cfg[key]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ConfigError(f"{key} ({env}) must be a whole number of at least 1; got {value!r}")
    if not cfg.get("RATELIMIT_STORAGE_URI"):
        cfg["RATELIMIT_STORAGE_URI"] = ratelimit_uri_for(str(cfg["CLEANER_DB"]))
    return cfg


def _whole_number(env: str, value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"{env} must be a whole number of at least 1; got {value!r}") from None
    if number < 1:
        raise ConfigError(f"{env} must be a whole number of at least 1; got {value!r}")
    return number
