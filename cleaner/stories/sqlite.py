"""SQLite backend: one file (WAL) shared by threads and processes, or ``:memory:`` for tests.

Writers take ``BEGIN IMMEDIATE`` so that two processes serialise on the file lock instead of
failing at commit; ``busy_timeout`` makes them wait for each other rather than raise at once.
One connection per storage, guarded by a lock, so a gunicorn worker's threads may share it.
"""

from __future__ import annotations

import os
import re
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
#: Bytes of the file read through a memory map instead of read() calls: candidate lookups
#: touch about 250 random pages per add, and a mapped page costs no system call and no copy
#: into the page cache (about a third of an add at 150,000 articles). The mapped pages are
#: the OS's file cache, shared between processes and dropped under memory pressure. 4 GiB:
#: new articles go at the end of the file, so a map shorter than the file leaves out the
#: pages read most (the last two slices of a run to 200,000 articles, past 1 GiB of file:
#: 410 and 441 adds/s with a 1 GiB map, 520 and 528 with 4 GiB).
MMAP_BYTES = 4 << 30
#: The WAL is copied back into the database file (checkpointed) every this many seconds by a
#: background thread of the writing process, instead of by whichever add() crosses SQLite's
#: default 1,000 pages: a checkpoint writes hundreds of random pages and syncs them (0.3-1.5 s
#: on this machine's disk), a stall no add should wait for. A commit is durable once it is in
#: the WAL either way (synchronous=NORMAL).
CHECKPOINT_EVERY_S = 0.5
#: A passive checkpoint cannot restart the WAL while adds keep appending to it, so once the
#: WAL holds this many pages (about 80 MB) the thread follows its passive checkpoint with a
#: RESTART one between two of this process's writes: that copies the few pages written
#: meanwhile and makes the next write start the WAL from its beginning, holding writers back
#: only for that short copy.
CHECKPOINT_RESTART_PAGES = 20_000

_META_DDL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
# articles: the compact row candidates read (ids, story, signature, band keys); texts: the
# bulky part. changes: the pks of rows that removes changed or deleted, in order (AUTOINCREMENT:
# a seq is never handed out twice), for the processes' mirrors (see mirror.py).
_DDL = """
CREATE TABLE IF NOT EXISTS namespaces (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS stories (
    ns INTEGER NOT NULL, id TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (ns, id));
CREATE INDEX IF NOT EXISTS stories_by_update ON stories (ns, updated);
CREATE TABLE IF NOT EXISTS articles (
    pk INTEGER PRIMARY KEY, ns INTEGER NOT NULL, id TEXT NOT NULL, source TEXT, published TEXT,
    days REAL, story TEXT NOT NULL, duplicate_of TEXT, sig BLOB NOT NULL, keys BLOB NOT NULL,
    added REAL NOT NULL, UNIQUE (ns, id));
CREATE INDEX IF NOT EXISTS articles_by_story ON articles (ns, story, duplicate_of);
CREATE TABLE IF NOT EXISTS texts (
    pk INTEGER PRIMARY KEY, text TEXT NOT NULL, meta TEXT, matches TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, pk INTEGER NOT NULL);
"""


#: The index's own tables (all but ``meta``), as _DDL creates them.
_OUR_TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _DDL)) | {"postings"}


class SQLiteStorage(Storage):
    """Storage in one SQLite file (created if missing) or in memory (``":memory:"``)."""

    kind = "sqlite"

    def __init__(self, path: str | Path = ":memory:", *, timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        super().__init__()
        self.path = str(path)
        self._lock = threading.RLock()
        self._timeout_ms = timeout_ms
        self._checkpointer: _Checkpointer | None = None
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=timeout_ms / 1000, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        try:
            c = self._conn
            c.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
            c.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            # A file may hold other tables (the service keeps its API keys beside the index),
            # but one whose tables have our names without being ours is left as it is: no WAL
            # switch, nothing added.
            names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if names & _OUR_TABLES and "meta" not in names:
                raise StorageError(f"{self.path!r} holds tables named like the story index's "
                                   f"({', '.join(sorted(names & _OUR_TABLES))}) that are not the "
                                   f"index's; give another file")
            if self.path != ":memory:":
                mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StorageError(f"cannot switch {self.path!r} to WAL mode (got {mode})")
            # NORMAL in WAL mode: a commit survives a process crash (SIGKILL); only an OS crash
            # or power loss may drop the last commits, never corrupt the file.
            c.execute("PRAGMA synchronous = NORMAL")
            c.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                c.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
                c.execute("PRAGMA wal_autocheckpoint = 0")  # see CHECKPOINT_EVERY_S
            with self.write() as cur:
                cur.execute(_META_DDL)
                upgrade = self.check_params(cur)
                for stmt in filter(None, (s.strip() for s in _DDL.split(";"))):
                    cur.execute(stmt)
                if upgrade:
                    self.upgrade_from_3(cur)
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

    def _start_checkpointer(self) -> None:
        """Start this process's checkpoint thread (again in a forked child)."""
        ck = self._checkpointer
        if self.path != ":memory:" and (ck is None or ck.pid != os.getpid()):
            self._checkpointer = _Checkpointer(self.path, self._timeout_ms, self._lock)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            conn = self.conn
            self._start_checkpointer()
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
        cur.execute("INSERT INTO articles (ns, id, source, published, days, story, duplicate_of, "
                    "sig, keys, added) VALUES (?,?,?,?,?,?,?,?,?,?)", values)
        return int(cur.lastrowid)

    def close(self) -> None:
        # The checkpoint thread takes self._lock for its WAL restarts: stop (join) it without
        # holding the lock, or a close() racing a restart would wait for it forever.
        with self._lock:
            ck, self._checkpointer = self._checkpointer, None
        if ck is not None and ck.pid == os.getpid():
            ck.stop()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _Checkpointer:
    """A daemon thread with its own connection that checkpoints the WAL every
    CHECKPOINT_EVERY_S (PASSIVE: it blocks neither writers nor readers), and restarts it when
    it has grown past CHECKPOINT_RESTART_PAGES."""

    def __init__(self, path: str, timeout_ms: int, write_lock: threading.RLock) -> None:
        self.pid = os.getpid()
        self._write_lock = write_lock
        self._stop = threading.Event()
        self._conn = sqlite3.connect(path, timeout=timeout_ms / 1000, isolation_level=None,
                                     check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="cleaner-sqlite-checkpoint",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(CHECKPOINT_EVERY_S):
                try:
                    pages = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
                    if pages > CHECKPOINT_RESTART_PAGES:
                        with self._write_lock:
                            self._conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                except sqlite3.Error:  # busy or locked: the next round tries again
                    continue
        finally:
            self._conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
