"""Tenants and API keys, kept in the service's own tables of the same database as the index.

A key is shown once, when made, and only its SHA-256 is stored: keys are 256-bit random
secrets, so a fast hash is enough (no password stretching needed) and a stolen database
gives no usable key. A key reads ``ck_<key id>_<secret>``; the key id is public (audit
lines, ``cleaner keys list``, revocation) and finds the row, the secret proves possession.

Tenant ids are random and serve as the story-index namespace; they never leave the
server (HTTP answers carry neither tenant ids nor tenant names).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .config import is_dsn
from .sqlite_conn import ThreadConnections

KEY_PREFIX = "ck_"
#: Bytes of randomness in a key's secret part (256 bits: unguessable, so SHA-256 suffices).
KEY_SECRET_BYTES = 32
#: Bytes of randomness in a key id (public, only needs to be unique).
KEY_ID_BYTES = 6
#: Bytes of randomness in a tenant id (the namespace; must not be guessable from outside).
TENANT_ID_BYTES = 16
#: Seconds a SQLite connection waits for another worker's write lock before failing.
SQLITE_BUSY_SECONDS = 10.0

# Used with ``fullmatch`` only: ``re``'s ``$`` also matches before a final newline.
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TENANT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEY_RE = re.compile(r"^ck_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS service_tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS service_keys (
        key_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES service_tenants(id),
        secret_hash TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        revoked DOUBLE PRECISION)""",
)


class KeyStoreError(ValueError):
    """A bad tenant name, an unknown key id, or a store that cannot be opened."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant (id = index namespace, name for logs) and the key used."""

    tenant_id: str
    tenant_name: str
    key_id: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    tenant: str
    created: float
    revoked: float | None


@dataclass(frozen=True, slots=True)
class TenantInfo:
    name: str
    created: float
    active_keys: int


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """Tenants and keys in SQLite (a file path) or PostgreSQL (a ``postgresql://`` DSN).

    A connection is opened per operation: one auth lookup costs well under a millisecond
    on SQLite, and nothing is left open across gunicorn's fork.
    """

    def __init__(self, db: str, schema: str = "public") -> None:
        self.db = db
        self._pg = is_dsn(db)
        if self._pg and not _SCHEMA_RE.fullmatch(schema):
            raise KeyStoreError(f"schema must be a lower-case SQL identifier, got {schema!r}")
        self.schema = schema
        with self._tx() as cur:
            for stmt in _SCHEMA:
                cur.execute(stmt)
        # Per-request key lookups reuse one connection per thread (see sqlite_conn).
        self._readers = None if self._pg else ThreadConnections(db, timeout=SQLITE_BUSY_SECONDS)

    def close(self) -> None:
        """Close this process's long-lived read connections (tests; workers just exit)."""
        if self._readers is not None:
            self._readers.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        if self._pg:
            try:
                import psycopg
            except ImportError as exc:  # pragma: no cover - depends on extras
                raise KeyStoreError("a postgresql:// store needs psycopg: pip install 'article-cleaner[postgres]'") from exc
            try:
                conn = psycopg.connect(self.db, autocommit=True)  # transaction() below is the real one
            except psycopg.Error as exc:
                raise KeyStoreError(f"cannot connect to {self.db.split('@')[-1]}: {exc}") from None
            try:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                conn.execute(f'SET search_path TO "{self.schema}"')
                with conn.transaction():
                    yield _PgCursor(conn)
            except psycopg.Error as exc:
                raise KeyStoreError(f"key store query failed: {exc}") from None
            finally:
                conn.close()
            return
        conn = self._sqlite()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextmanager
    def _read(self) -> Iterator[Any]:
        if self._pg:
            with self._tx() as cur:
                yield cur
            return
        conn = self._sqlite()
        try:
            yield conn
        finally:
            conn.close()

    def _sqlite(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.db, timeout=SQLITE_BUSY_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise KeyStoreError(f"cannot open {self.db}: {exc}") from None

    # -- keys -----------------------------------------------------------------------------

    def create_key(self, tenant: str) -> tuple[str, str]:
        """Make a key for ``tenant`` (created on first use); returns ``(key, key_id)``.

        The key itself is not stored anywhere: the caller must show it now or lose it.
        """
        if not TENANT_NAME_RE.fullmatch(tenant):
            raise KeyStoreError(
                f"tenant name {tenant!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit")
        key_id = secrets.token_hex(KEY_ID_BYTES)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(KEY_SECRET_BYTES)}"
        now = time.time()
        with self._tx() as cur:
            row = cur.execute("SELECT id FROM service_tenants WHERE name = ?", (tenant,)).fetchone()
            if row is None:
                tenant_id = secrets.token_hex(TENANT_ID_BYTES)
                cur.execute("INSERT INTO service_tenants (id, name, created) VALUES (?, ?, ?)",
                            (tenant_id, tenant, now))
            else:
                tenant_id = row[0]
            cur.execute("INSERT INTO service_keys (key_id, tenant_id, secret_hash, created) VALUES (?, ?, ?, ?)",
                        (key_id, tenant_id, _hash(key), now))
        return key, key_id

    def authenticate(self, key: str) -> Principal | None:
        """The principal for a valid, unrevoked key, else None (unknown, revoked or malformed)."""
        m = _KEY_RE.fullmatch(key)
        digest = _hash(key)
        if not m:
            return None
        sql = ("SELECT k.secret_hash, k.revoked, t.id, t.name FROM service_keys k "
               "JOIN service_tenants t ON t.id = k.tenant_id WHERE k.key_id = ?")
        if self._readers is not None:
            try:
                row = self._readers.get().execute(sql, (m.group(1),)).fetchone()
            except sqlite3.Error as exc:
                raise KeyStoreError(f"cannot read keys from {self.db}: {exc}") from None
        else:
            with self._read() as cur:
                row = cur.execute(sql, (m.group(1),)).fetchone()
        if row is None:
            hmac.compare_digest(digest, digest)  # same work as a real comparison
            return None
        stored, revoked, tenant_id, tenant_name = row
        if not hmac.compare_digest(digest, stored) or revoked is not None:
            return None
        return Principal(tenant_id=tenant_id, tenant_name=tenant_name, key_id=m.group(1))

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by its id; False when no active key has that id."""
        with self._tx() as cur:
            row = cur.execute("SELECT revoked FROM service_keys WHERE key_id = ?", (key_id,)).fetchone()
            if row is None or row[0] is not None:
                return False
            cur.execute("UPDATE service_keys SET revoked = ? WHERE key_id = ?", (time.time(), key_id))
        return True

    def list_keys(self, tenant: str | None = None) -> list[KeyInfo]:
        """Every key (or one tenant's), oldest first; never the secret, never its hash."""
        sql = ("SELECT k.key_id, t.name, k.created, k.revoked FROM service_keys k "
               "JOIN service_tenants t ON t.id = k.tenant_id")
        params: tuple[Any, ...] = ()
        if tenant is not None:
            sql += " WHERE t.name = ?"
            params = (tenant,)
        with self._read() as cur:
            rows = cur.execute(sql + " ORDER BY k.created, k.key_id", params).fetchall()
        return [KeyInfo(*r) for r in rows]

    def list_tenants(self) -> list[TenantInfo]:
        """Every tenant by name with its count of active keys."""
        with self._read() as cur:
            rows = cur.execute(
                "SELECT t.name, t.created, COUNT(k.key_id) FROM service_tenants t "
                "LEFT JOIN service_keys k ON k.tenant_id = t.id AND k.revoked IS NULL "
                "GROUP BY t.id, t.name, t.created ORDER BY t.name").fetchall()
        return [TenantInfo(*r) for r in rows]

    def ping(self) -> None:
        """Raise KeyStoreError unless the store answers a trivial query."""
        try:
            with self._read() as cur:
                cur.execute("SELECT 1 FROM service_keys LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise KeyStoreError(str(exc)) from None


class _PgCursor:
    """Lets the SQLite-flavoured statements above (``?`` placeholders) run on psycopg."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), params)
