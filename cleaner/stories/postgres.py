"""PostgreSQL backend, for several nodes sharing one index (``pip install psycopg[binary]``).

Writers serialise on a transaction-scoped advisory lock, so two nodes never both start a story
for one event; readers use plain transactions. Tables live in ``schema`` (default ``public``),
which lets tests and tenants-per-schema deployments keep stores apart in one database.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import InvalidArgumentError, StorageError
from .storage import Storage

#: Advisory lock key of write transactions (any constant; one lock per schema via hashtext).
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(%s))"
#: Seconds to wait for the server when connecting.
CONNECT_TIMEOUT_S = 10

_META_DDL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_DDL = [
    "CREATE TABLE IF NOT EXISTS namespaces (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    """CREATE TABLE IF NOT EXISTS stories (ns BIGINT NOT NULL, id TEXT NOT NULL,
       created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (ns, id))""",
    "CREATE INDEX IF NOT EXISTS stories_by_update ON stories (ns, updated)",
    """CREATE TABLE IF NOT EXISTS articles (pk BIGSERIAL PRIMARY KEY, ns BIGINT NOT NULL,
       id TEXT NOT NULL, source TEXT, published TEXT, days DOUBLE PRECISION,
       story TEXT NOT NULL, duplicate_of TEXT, sig BYTEA NOT NULL, keys BYTEA NOT NULL,
       added DOUBLE PRECISION NOT NULL, UNIQUE (ns, id))""",
    "CREATE INDEX IF NOT EXISTS articles_by_story ON articles (ns, story, duplicate_of)",
    """CREATE TABLE IF NOT EXISTS texts (pk BIGINT PRIMARY KEY, text TEXT NOT NULL, meta TEXT,
       matches TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS changes (seq BIGSERIAL PRIMARY KEY, pk BIGINT NOT NULL)",
]
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresStorage(Storage):
    """Storage in a PostgreSQL database given by a ``postgresql://`` URL."""

    placeholder = "%s"
    kind = "postgresql"
    blob_type = "BYTEA"

    def __init__(self, url: str, *, schema: str = "public") -> None:
        super().__init__()
        if not _SCHEMA_NAME.match(schema):
            raise InvalidArgumentError(f"schema must be a lower-case SQL identifier, got {schema!r}")
        try:
            import psycopg
        except ImportError:
            raise StorageError("the PostgreSQL backend needs psycopg: pip install 'article-cleaner[postgres]'") from None
        self._psycopg = psycopg
        self.schema = schema
        self.url = url
        self._lock = threading.RLock()
        try:
            self._conn: Any = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {exc}") from None
        try:
            self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self._conn.execute(f'SET search_path TO "{schema}"')
            with self.write() as cur:
                cur.execute(_META_DDL)
                upgrade = self.check_params(cur)
                for stmt in _DDL:
                    cur.execute(stmt)
                if upgrade:
                    self.upgrade_from_3(cur)
        except psycopg.Error as exc:
            self.close()
            raise StorageError(f"cannot initialise the PostgreSQL store: {exc}") from None
        except BaseException:
            self.close()
            raise

    @property
    def conn(self) -> Any:
        if self._conn is None:
            raise StorageError("the store is closed")
        return self._conn

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self._lock:
            try:
                with self.conn.transaction(), self.conn.cursor() as cur:
                    cur.execute(_LOCK_SQL, (f"cleaner-stories:{self.schema}",))
                    yield cur
            except BaseException:
                self.forget_namespace_cache()
                raise

    @contextmanager
    def read(self) -> Iterator[Any]:
        with self._lock, self.conn.transaction(), self.conn.cursor() as cur:
            yield cur

    def _insert_article_row(self, cur: Any, values: Sequence[Any]) -> int:
        cur.execute("INSERT INTO articles (ns, id, source, published, days, story, duplicate_of, "
                    "sig, keys, added) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING pk", values)
        return int(cur.fetchone()[0])

    def drop_schema(self) -> None:
        """Drop this store's schema and everything in it (tests, decommissioning)."""
        with self._lock:
            self.conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
