"""SQLite backend: one file (WAL) shared by threads and processes, or ``:memory:`` for tests.

Writers take ``BEGIN IMMEDIATE`` so that two processes serialise on the file lock instead of
failing at commit; ``busy_timeout`` makes them wait for each other rather than raise at once.
One connection per storage, guarded by a lock, so a gunicorn worker's threads may share it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import StorageError
from .storage import Storage

#: How long a writer waits for another process's write transaction before giving up (ms).
BUSY_TIMEOUT_MS = 30_000
#: SQLite page cache per connection (KiB). Band-key lookups hit random pages of a large
#: index; 64 MB keeps its upper levels in memory, and bounds the process's memory.
CACHE_KIB = 65_536

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS stories (
    ns INTEGER NOT NULL, id TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (ns, id));
CREATE INDEX IF NOT EXISTS stories_by_update ON stories (ns, updated);
CREATE TABLE IF NOT EXISTS articles (
    pk INTEGER PRIMARY KEY, ns INTEGER NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL,
    source TEXT, published TEXT, meta TEXT, story TEXT NOT NULL, duplicate_of TEXT,
    matches TEXT NOT NULL, sig BLOB NOT NULL, added REAL NOT NULL, UNIQUE (ns, id));
CREATE INDEX IF NOT EXISTS articles_by_story ON articles (ns, story);
CREATE TABLE IF NOT EXISTS bands (
    ns INTEGER NOT NULL, key INTEGER NOT NULL, article INTEGER NOT NULL,
    PRIMARY KEY (ns, key, article)) WITHOUT ROWID;
"""


class SQLiteStorage(Storage):
    """Storage in one SQLite file (created if missing) or in memory (``":memory:"``)."""

    kind = "sqlite"

    def __init__(self, path: str | Path = ":memory:", *, timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        super().__init__()
        self.path = str(path)
        self._lock = threading.RLock()
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=timeout_ms / 1000, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        try:
            c = self._conn
            c.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
            c.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            if self.path != ":memory:":
                mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StorageError(f"cannot switch {self.path!r} to WAL mode (got {mode})")
            # NORMAL in WAL mode: a commit survives a process crash (SIGKILL); only an OS crash
            # or power loss may drop the last commits, never corrupt the file.
            c.execute("PRAGMA synchronous = NORMAL")
            c.execute("PRAGMA foreign_keys = ON")
            with self.write() as cur:
                for stmt in filter(None, (s.strip() for s in _DDL.split(";"))):
                    cur.execute(stmt)
                self.check_params(cur)
        except sqlite3.Error as exc:
            self.close()
            raise StorageError(f"cannot initialise SQLite store {self.path!r}: {exc}") from None
        except BaseException:
            self.close()
            raise

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError("the store is closed")
        return self._conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            conn = self.conn
            cur = conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                cur.close()
                raise StorageError(f"cannot start a write transaction on {self.path!r}: {exc}") from None
            try:
                yield cur
            except BaseException:
                conn.rollback()
                self.forget_namespace_cache()
                cur.close()
                raise
            try:
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.rollback()
                self.forget_namespace_cache()
                raise StorageError(f"commit failed on {self.path!r}: {exc}") from None
            finally:
                cur.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            conn = self.conn
            cur = conn.cursor()
            try:
                cur.execute("BEGIN")
                yield cur
            finally:
                try:
                    conn.rollback()
                finally:
                    cur.close()

    def _insert_article_row(self, cur: Any, values: Sequence[Any]) -> int:
        cur.execute("INSERT INTO articles (ns, id, text, source, published, meta, story, "
                    "duplicate_of, matches, sig, added) VALUES (?,?,?,?,?,?,?,?,?,?,?)", values)
        return int(cur.lastrowid)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
