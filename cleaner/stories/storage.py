"""The storage interface of the story index, and its SQL implementation shared by backends.

:class:`StoryIndex` reaches its data only through :class:`Storage`: a write transaction
(serialised per store, so two writers never both create a story for one event), a read
transaction, and a handful of domain operations on the cursor they yield. The SQL is common;
:mod:`.sqlite` and :mod:`.postgres` supply connections, transactions and DDL. Candidates are
looked up in each process's :mod:`.mirror` of a namespace, which these operations feed.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, StorageError
from . import signatures as sg
from .mirror import KEYS_DTYPE, NamespaceMirror

#: Schema version written into the store's metadata with the signature parameters.
#: 2: article texts in their own table (``texts``), so that the rows read for candidates
#: (``articles``: ids, story, signature) stay compact; publication days stored as numbers.
#: 3: band keys as capped posting lists (``postings``: one row per key) instead of one row per
#: (key, article): a lookup reads one row per band key, not one index scan per key.
#: 4: band keys in the article's own row (``articles.keys``), looked up in each process's
#: memory (:mod:`.mirror`); ``changes`` logs the rows that removes change. A store of schema 3
#: is upgraded in place when it is opened.
SCHEMA_VERSION = "4"
#: At most this many candidates are scored per article: those sharing the most band keys.
#: Bounds the cost of an add when band keys are common (a big index, boilerplate that slipped
#: through). stories-dev is too small to tell 64 from 200 (pairwise F1 within 0.013), but a
#: synthetic feed of 30,000 articles is not: the share of same-story reports that find their
#: story falls from 0.963 (200) to 0.946 (128) and 0.881 (64), while an add at 40,000
#: articles costs 2.9, 2.5 and 2.2 ms.
MAX_CANDIDATES = 128
#: A lookup takes only each band key's this many most recent live articles: a key shared by
#: thousands (a big city's name) then costs a bounded walk, and news matches recent news.
PER_KEY_LIMIT = 50
#: Each process keeps the band keys and signatures of this many most recent articles of each
#: namespace it serves in memory (:mod:`.mirror`); only those are candidates. It bounds the
#: memory (about ``mirror.BYTES_PER_ARTICLE`` each) and the time to load a namespace; news
#: matches recent news. A storage's ``window`` attribute overrides it for that storage.
WINDOW = 200_000
#: The ``changes`` log (rows that removes changed, read by every process's mirror) keeps its
#: latest CHANGES_KEPT rows: once its oldest row is CHANGES_KEPT + CHANGES_PRUNE_EVERY behind,
#: a remove deletes the rows older than CHANGES_KEPT and logs a marker (pk = minus the last seq
#: deleted), from which a mirror that had not read them all knows to rebuild from the store.
CHANGES_KEPT = 100_000
CHANGES_PRUNE_EVERY = 10_000
#: A candidate must share at least this many band keys (with 32 one-row salient bands, a
#: single shared minimum is already meaningful; MAX_CANDIDATES keeps the best-sharing ones).
MIN_SHARED_BANDS = 1
#: Bound parameters per statement (SQLite allows 32,766; PostgreSQL 65,535).
MAX_SQL_PARAMS = 900


@dataclass(frozen=True, slots=True)
class ArticleRow:
    """One stored article, as the index reads it back."""

    pk: int
    id: str
    text: str
    source: str | None
    published: str | None
    meta: dict[str, Any] | None
    story: str
    duplicate_of: str | None
    matches: list[list[Any]]
    sig: bytes
    added: float


_ARTICLE_COLS = ("a.pk, a.id, t.text, a.source, a.published, t.meta, a.story, a.duplicate_of, "
                 "t.matches, a.sig, a.added")
_ARTICLE_FROM = "articles AS a JOIN texts AS t ON t.pk = a.pk"


def _row(r: Sequence[Any]) -> ArticleRow:
    return ArticleRow(pk=int(r[0]), id=r[1], text=r[2], source=r[3], published=r[4],
                      meta=json.loads(r[5]) if r[5] is not None else None, story=r[6],
                      duplicate_of=r[7], matches=json.loads(r[8]) if r[8] else [],
                      sig=bytes(r[9]), added=float(r[10]))


class Storage(ABC):
    """Base class of storage backends. Subclasses provide :meth:`write`, :meth:`read`,
    :meth:`close` and the placeholder style; the SQL operations below are shared."""

    #: DB-API parameter placeholder of the driver.
    placeholder = "?"
    #: A short name of the backend ("sqlite", "postgresql").
    kind = "sql"
    #: The SQL type of byte strings (SQLite's ``||`` gives text, so results are cast back).
    blob_type = "BLOB"

    def __init__(self) -> None:
        self._ns_cache: dict[str, int] = {}
        self._mirrors: dict[int, NamespaceMirror] = {}
        self._window = WINDOW

    @property
    def window(self) -> int:
        """See WINDOW (set before the first add or query): a whole number of at least 1."""
        return self._window

    @window.setter
    def window(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidArgumentError(f"window must be a whole number of articles, at least 1; "
                                       f"got {value!r}")
        self._window = value

    # -- transactions --------------------------------------------------------------------
    @abstractmethod
    def write(self) -> AbstractContextManager[Any]:
        """A serialised read-write transaction; yields a cursor. Commits on success."""

    @abstractmethod
    def read(self) -> AbstractContextManager[Any]:
        """A read transaction (a consistent snapshot); yields a cursor."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection(s). Idempotent."""

    def __enter__(self) -> "Storage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------
    def _q(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _exec(self, cur: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self._q(sql), tuple(params))
        return cur

    def check_params(self, cur: Any) -> bool:
        """Write the signature parameters into a new store, or refuse a store built with others.
        Backends call it right after creating ``meta``, before any other DDL, so an old store
        is refused untouched. True for a store of schema 3 with the same parameters: the
        backend upgrades it (:meth:`upgrade_from_3`) after its DDL, in the same transaction."""
        rows = dict(self._exec(cur, "SELECT key, value FROM meta").fetchall())
        want = dict(sg.PARAMS, schema=SCHEMA_VERSION)
        if not rows:
            for k, v in want.items():
                self._exec(cur, "INSERT INTO meta(key, value) VALUES (?, ?)", (k, v))
            return False
        diff = {k: (rows.get(k), v) for k, v in want.items() if rows.get(k) != v}
        if diff == {"schema": ("3", SCHEMA_VERSION)}:
            return True
        if diff:
            raise StorageError(
                "this store was built with other signature parameters or schema "
                + ", ".join(f"{k}: stored {a!r}, code {b!r}" for k, (a, b) in sorted(diff.items()))
                + "; rebuild it (re-add the articles to a new store)")
        return False

    def upgrade_from_3(self, cur: Any) -> None:
        """Schema 3 -> 4: each article's band keys (computed from its stored signature) go into
        its row, the posting lists are dropped."""
        self._exec(cur, f"ALTER TABLE articles ADD COLUMN keys {self.blob_type}")
        rows = self._exec(cur, "SELECT pk, sig FROM articles").fetchall()
        cur.executemany(self._q("UPDATE articles SET keys = ? WHERE pk = ?"), [
            (encode_keys(sg.band_keys(sg.Signature.from_bytes(bytes(sig)))), pk)
            for pk, sig in rows])
        self._exec(cur, "DROP TABLE IF EXISTS postings")
        self._exec(cur, "UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))

    # -- namespaces ------------------------------------------------------------------------
    def namespace_id(self, cur: Any, name: str, *, create: bool) -> int | None:
        """The internal id of a namespace (created in this write transaction if asked)."""
        if name in self._ns_cache:
            return self._ns_cache[name]
        r = self._exec(cur, "SELECT id FROM namespaces WHERE name = ?", (name,)).fetchone()
        if r is None:
            if not create:
                return None
            self._exec(cur, "INSERT INTO namespaces(name) VALUES (?)", (name,))
            r = self._exec(cur, "SELECT id FROM namespaces WHERE name = ?", (name,)).fetchone()
        self._ns_cache[name] = int(r[0])
        return int(r[0])

    def forget_namespace_cache(self) -> None:
        """Drop cached namespace ids (after a rolled-back transaction that created one)."""
        self._ns_cache.clear()

    # -- articles ------------------------------------------------------------------------
    def get_article(self, cur: Any, ns: int, id: str) -> ArticleRow | None:
        r = self._exec(cur, f"SELECT {_ARTICLE_COLS} FROM {_ARTICLE_FROM} WHERE a.ns = ? AND a.id = ?",
                       (ns, id)).fetchone()
        return _row(r) if r else None

    def existing_ids(self, cur: Any, ns: int, ids: Sequence[str]) -> list[str]:
        """Those of ``ids`` already in namespace ``ns``."""
        return [r[0] for r in self._rows_in(cur, "SELECT id FROM articles WHERE ns = ? AND id IN ({marks})",
                                            ids, ns)]

    def mirror(self, ns: int) -> NamespaceMirror:
        """This process's candidate index of namespace ``ns`` (see :mod:`.mirror`); the caller
        syncs it inside a transaction before using it."""
        found = self._mirrors.get(ns)
        if found is None:
            found = self._mirrors[ns] = NamespaceMirror(ns, PER_KEY_LIMIT, MAX_CANDIDATES,
                                                        MIN_SHARED_BANDS, self.window)
        return found

    _MIRROR_COLS = "pk, ns, id, story, duplicate_of, days, sig, keys"

    def last_change(self, cur: Any) -> int:
        return int(self._exec(cur, "SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])

    def changes_since(self, cur: Any, seq: int) -> list[tuple[int, int]]:
        """(seq, pk) of the rows changed or deleted after change ``seq``."""
        return [(int(a), int(b)) for a, b in self._exec(
            cur, "SELECT seq, pk FROM changes WHERE seq > ? ORDER BY seq", (seq,)).fetchall()]

    def mirror_rows_after(self, cur: Any, ns: int, pk: int) -> list[Any]:
        """The mirror rows (see :data:`.mirror.Row`) of ``ns`` with a pk above ``pk``. ``+ns``
        keeps the planner on the pk range (a few new rows) rather than on an index of ``ns``
        (all the namespace's rows, then sorted)."""
        return self._exec(cur, f"SELECT {self._MIRROR_COLS} FROM articles WHERE +ns = ? AND pk > ? "
                               f"ORDER BY pk", (ns, pk)).fetchall()

    def mirror_floor(self, cur: Any, ns: int, n: int) -> int:
        """The smallest pk among the ``n`` most recent articles of ``ns`` (0 if it has fewer)."""
        r = self._exec(cur, "SELECT pk FROM articles WHERE ns = ? ORDER BY pk DESC LIMIT 1 OFFSET ?",
                       (ns, n - 1)).fetchone()
        return 0 if r is None else int(r[0])

    def mirror_rows_from(self, cur: Any, ns: int, pk: int, chunk: int = 4096) -> Iterator[list[Any]]:
        """The mirror rows of ``ns`` from ``pk`` on, in pk order, ``chunk`` at a time (a
        pk range scan: nothing sorted, and only a chunk of rows held at once)."""
        self._exec(cur, f"SELECT {self._MIRROR_COLS} FROM articles WHERE +ns = ? AND pk >= ? "
                        f"ORDER BY pk", (ns, pk))
        while True:
            rows = cur.fetchmany(chunk)
            if not rows:
                return
            yield rows

    def mirror_rows_of(self, cur: Any, pks: Sequence[int]) -> list[Any]:
        """The mirror rows of these pks that exist, whatever their namespace."""
        return self._rows_in(cur, f"SELECT {self._MIRROR_COLS} FROM articles WHERE pk IN ({{marks}})",
                             pks)

    def _log_change(self, cur: Any, pk: int) -> None:
        self._exec(cur, "INSERT INTO changes (pk) VALUES (?)", (pk,))
        oldest, newest = self._exec(cur, "SELECT MIN(seq), MAX(seq) FROM changes").fetchone()
        if int(newest) - int(oldest) >= CHANGES_KEPT + CHANGES_PRUNE_EVERY:
            through = int(newest) - CHANGES_KEPT
            self._exec(cur, "DELETE FROM changes WHERE seq <= ?", (through,))
            self._exec(cur, "INSERT INTO changes (pk) VALUES (?)", (-through,))

    def _rows_in(self, cur: Any, sql: str, values: Sequence[Any], *before: Any) -> list[Any]:
        """All rows of ``sql``, whose ``{marks}`` is an IN list of ``values`` (bound after the
        parameters ``before``), run over chunks of MAX_SQL_PARAMS values."""
        rows: list[Any] = []
        for chunk in iter_chunks(values, MAX_SQL_PARAMS):
            rows += self._exec(cur, sql.format(marks=",".join("?" * len(chunk))),
                               (*before, *chunk)).fetchall()
        return rows

    def roots_in_stories(self, cur: Any, ns: int, stories: Sequence[str]) -> dict[str, int]:
        """Number of distinct copies (members that are not duplicates) of each story (read
        from the (ns, story, duplicate_of) index alone)."""
        rows = self._rows_in(cur, "SELECT story, COUNT(*) FROM articles WHERE ns = ? AND story "
                                  "IN ({marks}) AND duplicate_of IS NULL GROUP BY story", stories, ns)
        return {r[0]: int(r[1]) for r in rows}

    @abstractmethod
    def _insert_article_row(self, cur: Any, values: Sequence[Any]) -> int:
        """Insert into articles (ns, id, source, published, days, story, duplicate_of, sig,
        keys, added); return the new pk."""

    def insert_article(self, cur: Any, ns: int, *, id: str, text: str, source: str | None,
                       published: str | None, meta_json: str | None, story: str,
                       duplicate_of: str | None, matches: list[list[Any]], sig: bytes,
                       added: float, keys: bytes, days: float | None = None) -> int:
        """Store an article: its row, its text and its band keys. ``sig``, ``keys`` and
        ``meta_json`` come as stored (:meth:`.Signature.to_bytes`, :func:`encode_keys`,
        :func:`encode_meta`: the caller has them already). ``days`` is ``published`` as
        :func:`.rule.parse_published` reads it (kept so candidates need no parsing)."""
        pk = self._insert_article_row(cur, (ns, id, source, published, days, story, duplicate_of,
                                            sig, keys, added))
        self._exec(cur, "INSERT INTO texts (pk, text, meta, matches) VALUES (?, ?, ?, ?)",
                   (pk, text, meta_json, json.dumps(matches)))
        return pk

    def delete_article(self, cur: Any, ns: int, pk: int) -> None:
        """Delete the article's row (with its signature and band keys) and its text."""
        self._exec(cur, "DELETE FROM texts WHERE pk = ?", (pk,))
        self._exec(cur, "DELETE FROM articles WHERE pk = ?", (pk,))
        self._log_change(cur, pk)

    def set_membership(self, cur: Any, pk: int, story: str, duplicate_of: str | None) -> None:
        self._exec(cur, "UPDATE articles SET story = ?, duplicate_of = ? WHERE pk = ?",
                   (story, duplicate_of, pk))
        self._log_change(cur, pk)

    def members(self, cur: Any, ns: int, story: str) -> list[ArticleRow]:
        rows = self._exec(cur, f"SELECT {_ARTICLE_COLS} FROM {_ARTICLE_FROM} WHERE a.ns = ? "
                               f"AND a.story = ? ORDER BY a.pk", (ns, story)).fetchall()
        return [_row(r) for r in rows]

    def member_ids(self, cur: Any, ns: int, story: str) -> list[str]:
        rows = self._exec(cur, "SELECT id FROM articles WHERE ns = ? AND story = ? ORDER BY pk",
                          (ns, story)).fetchall()
        return [r[0] for r in rows]

    def count(self, cur: Any, ns: int) -> int:
        return int(self._exec(cur, "SELECT COUNT(*) FROM articles WHERE ns = ?", (ns,)).fetchone()[0])

    # -- stories -------------------------------------------------------------------------
    def create_story(self, cur: Any, ns: int, story: str, now: float) -> None:
        self._exec(cur, "INSERT INTO stories(ns, id, created, updated) VALUES (?, ?, ?, ?)",
                   (ns, story, now, now))

    def touch_story(self, cur: Any, ns: int, story: str, now: float) -> None:
        self._exec(cur, "UPDATE stories SET updated = ? WHERE ns = ? AND id = ?", (now, ns, story))

    def delete_story(self, cur: Any, ns: int, story: str) -> None:
        self._exec(cur, "DELETE FROM stories WHERE ns = ? AND id = ?", (ns, story))

    def get_story(self, cur: Any, ns: int, story: str) -> tuple[str, float, float] | None:
        r = self._exec(cur, "SELECT id, created, updated FROM stories WHERE ns = ? AND id = ?",
                       (ns, story)).fetchone()
        return (r[0], float(r[1]), float(r[2])) if r else None

    def list_stories(self, cur: Any, ns: int, limit: int, offset: int) -> list[tuple[str, float, float]]:
        rows = self._exec(cur, "SELECT id, created, updated FROM stories WHERE ns = ? "
                               "ORDER BY updated DESC, id LIMIT ? OFFSET ?",
                          (ns, limit, offset)).fetchall()
        return [(r[0], float(r[1]), float(r[2])) for r in rows]


def encode_keys(keys: Sequence[int]) -> bytes:
    """Band keys as an article row stores them."""
    return np.array(keys, KEYS_DTYPE).tobytes()


def encode_meta(meta: dict[str, Any] | None) -> str | None:
    """``meta`` as stored (JSON), or InvalidArgumentError if it would not read back the same."""
    try:
        # ASCII escapes: any str survives the round trip, a lone surrogate included.
        meta_json = json.dumps(meta, allow_nan=False) if meta is not None else None
        # What JSON cannot say (non-string keys, tuples) would come back changed: refuse it.
        if meta_json is not None and json.loads(meta_json) != meta:
            raise ValueError("it would not read back the same (keys must be strings, "
                             "sequences lists)")
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidArgumentError(f"meta must be a JSON-serialisable dict: {exc}") from None
    return meta_json


def open_storage(target: "str | os.PathLike[str]", **options: Any) -> Storage:
    """A storage for ``target``: a ``postgresql://`` URL, ``":memory:"`` or a SQLite file path."""
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str) or not target.strip() or "\x00" in target:
        raise InvalidArgumentError("storage target must be a SQLite path, ':memory:' or a "
                                   f"postgresql:// URL; got {target!r}")
    if target.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStorage

        return PostgresStorage(target, **options)
    from .sqlite import SQLiteStorage

    return SQLiteStorage(target, **options)


def iter_chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most ``size`` items (SQL parameter lists stay bounded)."""
    for i in range(0, len(seq), size):
        yield seq[i:i + size]
