"""The service's one door to the story index: one storage per worker process, one
``StoryIndex`` per tenant (namespace = the tenant's secret id).

Storage is opened lazily in the process that uses it, so nothing opened before
gunicorn forks is shared by two workers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows; SQLite's own busy wait remains
    fcntl = None  # type: ignore[assignment]

from flask import Flask, current_app

from .config import is_dsn

_EXT = "cleaner.story_index"


class TenantIndexes:
    """Per-process cache of the storage handle and of each tenant's ``StoryIndex``."""

    def __init__(self, db: str, schema: str = "public", window: int | None = None) -> None:
        self.db = db
        self.schema = schema
        self.window = window
        self._lock_path = None if is_dsn(db) or db == ":memory:" else db + ".writelock"
        self._lock_fd: int | None = None
        self._lock_pid: int | None = None
        self._pid: int | None = None
        self._storage: Any = None
        self._indexes: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # flock does not exclude threads sharing one fd

    def storage(self) -> Any:
        from cleaner.stories import open_storage

        with self._lock:
            if self._storage is None or self._pid != os.getpid():
                # A handle inherited over fork belongs to the parent: open our own.
                self._storage = open_storage(self.db, schema=self.schema) if is_dsn(self.db) else open_storage(self.db)
                if self.window is not None:
                    self._storage.window = self.window
                self._pid = os.getpid()
                self._indexes = {}
            return self._storage

    def for_tenant(self, tenant_id: str) -> Any:
        """The story index of one tenant; tenants never share a namespace."""
        from cleaner.stories import StoryIndex

        storage = self.storage()
        with self._lock:
            idx = self._indexes.get(tenant_id)
            if idx is None:
                idx = StoryIndex(storage=storage, namespace=tenant_id)
                self._indexes[tenant_id] = idx
            return idx

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's cross-process write lock (SQLite only) around an add or remove.

        Two gunicorn workers writing the same SQLite file otherwise meet in SQLite's busy
        handler, which polls with sleeps of up to 100 ms: measured, 2 workers served fewer
        requests per second than 1. A blocking ``flock`` wakes the waiter the moment the
        other writer is done.
        """
        if self._lock_path is None or fcntl is None:
            yield
            return
        with self._write_lock:
            if self._lock_fd is None or self._lock_pid != os.getpid():
                self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                self._lock_pid = os.getpid()
            fd = self._lock_fd
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close this process's storage handle (tests; workers just exit)."""
        with self._write_lock:
            if self._lock_fd is not None and self._lock_pid == os.getpid():
                os.close(self._lock_fd)
            self._lock_fd = None
        with self._lock:
            if self._storage is not None and self._pid == os.getpid():
                close = getattr(self._storage, "close", None)
                if close is not None:
                    close()
            self._storage = None
            self._indexes = {}


def init_app(app: Flask) -> TenantIndexes:
    indexes = TenantIndexes(str(app.config["CLEANER_DB"]), app.config["DB_SCHEMA"],
                            app.config["STORY_WINDOW"])
    app.extensions[_EXT] = indexes
    return indexes


def indexes() -> TenantIndexes:
    ext: TenantIndexes = current_app.extensions[_EXT]
    return ext
