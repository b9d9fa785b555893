"""Long-lived SQLite connections, one per thread and process, for the per-request lookups.

Opening and closing a connection on every request is not free with WAL: closing the last
connection to a database checkpoints and deletes the WAL file, ~0.5 ms each time. A
connection kept per thread avoids that; keying it by process id means a connection is
never used on both sides of a fork.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable


class ThreadConnections:
    """``get()`` returns this thread's open autocommit connection to ``path``."""

    def __init__(self, path: str, *, timeout: float, pragmas: Iterable[str] = ()) -> None:
        self.path = path
        self.timeout = timeout
        self.pragmas = tuple(pragmas)
        self._local = threading.local()
        self._all: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            conn: sqlite3.Connection = held[1]
            return conn
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        for pragma in self.pragmas:
            conn.execute(f"PRAGMA {pragma}")
        self._local.held = (os.getpid(), conn)
        with self._lock:
            self._all.append((os.getpid(), conn))
        return conn

    def close(self) -> None:
        """Close every connection this process opened (tests; workers just exit)."""
        with self._lock:
            conns, self._all = self._all, []
        self._local = threading.local()
        for pid, conn in conns:
            if pid == os.getpid():  # never close a parent's connection from a forked child
                conn.close()
