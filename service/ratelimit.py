"""Per-key rate limiting that holds across gunicorn workers.

flask-limiter's in-memory storage is per process, so N workers would allow N times the
budget. With ``RATELIMIT_STORAGE_URI=redis://...`` the counters live in Redis; by default
they live in a small SQLite file that every worker on the machine shares, through the
``SQLiteStorage`` below (registered with the ``limits`` package under ``sqlite://``).

The strategy is the moving window: a request is let through if the requests of the last
period (one minute for "... per minute") plus its own cost fit the budget, and a refused
request costs nothing. With a fixed window, ``limits`` adds the cost before it compares, so
a batch refused for being larger than the budget left still spent it, and locked the key
out until the window ended.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from limits.storage import MovingWindowSupport, Storage

from .api import batch_items
from .errors import ApiError
from .sqlite_conn import ThreadConnections

#: Statuses on which Retry-After is meaningful (RFC 9110: 503, and 429 by RFC 6585).
RETRY_AFTER_STATUSES = frozenset({429, 503})
#: Seconds a worker waits for another worker's counter write before giving up.
SQLITE_BUSY_SECONDS = 5.0


class SQLiteStorage(Storage, MovingWindowSupport):
    """Rate-limit state in one SQLite file: moving-window entries (``entries``: one row per
    request let through, with its cost and when it leaves the window; ``entry_totals``: their
    sum per key), and fixed-window counters (``counters``) for the ``limits`` API's other
    strategies.

    URI: ``sqlite:///absolute/path.db`` (``sqlite:///:memory:`` is refused: it would not be
    shared between workers).
    """

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        if not uri or not uri.startswith("sqlite:///") or uri.endswith(":memory:"):
            raise ValueError(f"expected sqlite:///PATH for the rate-limit store, got {uri!r}")
        self.path = uri[len("sqlite:///"):]  # sqlite:////abs/path -> /abs/path; sqlite:///rel -> rel
        setup = sqlite3.connect(self.path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None)
        try:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, "
                          "count INTEGER NOT NULL, expiry REAL NOT NULL)")
            setup.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT NOT NULL, "
                          "expires REAL NOT NULL, amount INTEGER NOT NULL)")
            setup.execute("CREATE INDEX IF NOT EXISTS entries_by_key ON entries (key, expires)")
            # Per key, the sum of its rows in ``entries``: a request then reads the few rows
            # that left the window since, not the whole window (600 or 60,000 rows a minute).
            setup.execute("CREATE TABLE IF NOT EXISTS entry_totals (key TEXT PRIMARY KEY, "
                          "amount INTEGER NOT NULL)")
        finally:
            setup.close()
        # Counters need no durability (a crash at worst forgives a few requests), so no fsync.
        self._conns = ThreadConnections(self.path, timeout=SQLITE_BUSY_SECONDS, pragmas=["synchronous=OFF"])

    def _conn(self) -> sqlite3.Connection:
        return self._conns.get()

    def close(self) -> None:
        """Close this process's connections (tests; workers just exit)."""
        self._conns.close()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        # One atomic upsert: a fresh or expired window restarts at ``amount``.
        row = self._conn().execute(
            "INSERT INTO counters (key, count, expiry) VALUES (?1, ?2, ?3) "
            "ON CONFLICT(key) DO UPDATE SET "
            "count = CASE WHEN expiry <= ?4 THEN ?2 ELSE count + ?2 END, "
            "expiry = CASE WHEN expiry <= ?4 THEN ?3 ELSE expiry END "
            "RETURNING count", (key, amount, now + expiry, now)).fetchone()
        return int(row[0])

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Let ``amount`` through if it fits what the last ``expiry`` seconds left of
        ``limit``; a refusal records nothing. One write transaction, so two workers cannot
        both take the last of a budget."""
        if amount > limit:
            return False
        now = time.time()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            used = self._in_window(conn, key, now)
            conn.execute("DELETE FROM entries WHERE key = ? AND expires <= ?", (key, now))
            fits = used + amount <= limit
            if fits:
                conn.execute("INSERT INTO entries (key, expires, amount) VALUES (?, ?, ?)",
                             (key, now + expiry, amount))
                used += amount
            conn.execute("INSERT INTO entry_totals (key, amount) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET amount = excluded.amount", (key, used))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return fits

    @staticmethod
    def _in_window(conn: sqlite3.Connection, key: str, now: float) -> int:
        # The key's total, less its entries that have left the window (not yet deleted).
        total = conn.execute("SELECT amount FROM entry_totals WHERE key = ?", (key,)).fetchone()
        gone = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM entries WHERE key = ? AND expires <= ?",
                            (key, now)).fetchone()[0]
        return (int(total[0]) if total else 0) - int(gone)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(when the window's oldest entry was let through, the cost of its entries)."""
        now = time.time()
        conn = self._conn()
        first = conn.execute("SELECT MIN(expires) FROM entries WHERE key = ? AND expires > ?",
                             (key, now)).fetchone()[0]
        if first is None:
            return now, 0
        return float(first) - expiry, self._in_window(conn, key, now)

    def get(self, key: str) -> int:
        row = self._conn().execute("SELECT count FROM counters WHERE key = ? AND expiry > ?",
                                   (key, time.time())).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._conn().execute("SELECT expiry FROM counters WHERE key = ? AND expiry > ?",
                                   (key, time.time())).fetchone()
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        try:
            self._conn().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        conn = self._conn()
        conn.execute("DELETE FROM entry_totals")
        return conn.execute("DELETE FROM counters").rowcount + conn.execute("DELETE FROM entries").rowcount

    def clear(self, key: str) -> None:
        conn = self._conn()
        conn.execute("DELETE FROM counters WHERE key = ?", (key,))
        conn.execute("DELETE FROM entries WHERE key = ?", (key,))
        conn.execute("DELETE FROM entry_totals WHERE key = ?", (key,))


def _key_of_caller() -> str:
    # The auth hook has run by now (it is registered before the limiter's); limits are per key.
    principal = g.get("principal")
    return f"key:{principal.key_id}" if principal is not None else "anonymous"


def _cost_of_request() -> int:
    """A batch counts as one request per article in it, so batching cannot multiply the budget.

    Only a well-formed batch: one the route will refuse (422: not a batch, empty, over the
    cap) costs one request, like any other refused request.
    """
    if request.endpoint != "v1.add_articles_batch" or not request.is_json:
        return 1
    try:
        body = request.get_json(silent=True)  # the route then reads the same, cached, bytes
        return len(batch_items(body, current_app.config["MAX_BATCH_ARTICLES"]))
    except (ApiError, RecursionError):  # the route answers 422 (or 400: absurdly nested)
        return 1


def init_app(app: Flask) -> Limiter:
    """Attach a limiter to ``app``: one ``RATE_LIMIT`` budget per API key, shared by all the
    ``/v1`` routes (an application-wide limit keyed by key id, not one budget per route)."""

    # Registered before the limiter, so it runs after the limiter's header hook (Flask runs
    # after_request functions last-registered first): flask-limiter sets Retry-After on every
    # response, but it means "wait" and belongs on a 429 only.
    @app.after_request
    def _retry_after_only_when_limited(resp: Response) -> Response:
        if resp.status_code not in RETRY_AFTER_STATUSES:
            resp.headers.pop("Retry-After", None)
        return resp

    limiter = Limiter(
        _key_of_caller,
        app=app,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        strategy="moving-window",  # a refused request costs nothing (module docstring)
        headers_enabled=True,
        key_prefix="cleaner",
        # One counter per key for the whole API: flask-limiter's default limits would keep
        # one per route, so a key could spend the budget once on each of the seven routes.
        # Other routes (health, metrics, docs) carry no key and need no budget.
        application_limits=[lambda: app.config["RATE_LIMIT"]],
        application_limits_exempt_when=lambda: g.get("principal") is None,
        application_limits_cost=_cost_of_request,
    )
    return limiter
