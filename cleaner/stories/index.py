"""``StoryIndex``: add articles, get their verdict (story, original copy, matches), persistently.

Each :meth:`StoryIndex.add` (or :meth:`StoryIndex.add_many`, for a batch) computes the
signatures outside any transaction, then in ONE write transaction: brings this process's
candidate mirror of the namespace up to date (:mod:`.mirror`), looks up LSH candidates in it,
scores them (:func:`.rule.score_batch`, with the candidates' stories for the spread
weighting), applies the clustering rule (:func:`.rule.decide`), and stores the article, its
signature, its band keys and its story membership. A crash before the commit leaves nothing;
after it, everything.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ArticleExistsError, InvalidArgumentError, NotFoundError, StorageError
from ..models import Match, Story, Verdict
from . import rule
from .signatures import Signature, band_keys, signature
from .mirror import NamespaceMirror
from .storage import Storage, encode_keys, encode_meta, open_storage

#: Namespace used when none is given.
DEFAULT_NAMESPACE = "default"
#: Longest accepted article id / namespace name (they are keys, not content).
MAX_ID_CHARS = 512
#: Most stories returned by one :meth:`StoryIndex.stories` call.
MAX_STORIES_PAGE = 1000
#: Largest accepted offset into the story list (SQL integers are 64-bit).
MAX_OFFSET = 2**62


@dataclass(frozen=True, slots=True)
class IndexedArticle:
    """An article as stored in the index, with its current story."""

    id: str
    text: str
    source: str | None
    published: str | None
    meta: dict[str, Any] | None
    story_id: str
    duplicate_of: str | None
    matches: tuple[Match, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "source": self.source,
                "published": self.published, "meta": self.meta, "story_id": self.story_id,
                "duplicate_of": self.duplicate_of, "matches": [m.to_dict() for m in self.matches]}


_ARTICLE_FIELDS = frozenset({"id", "text", "source", "published", "meta"})


@dataclass(frozen=True, slots=True)
class _NewArticle:
    """An article to add, checked."""

    id: str
    text: str
    source: str | None
    published: str | None
    meta_json: str | None  # as stored: checked before any write
    days: float | None


def _new_article(id: object, text: object, source: object, published: object,
                 meta: object) -> _NewArticle:
    _check_id(id)
    _check_text(text)
    _check_source(source)
    if meta is not None and not isinstance(meta, dict):
        raise InvalidArgumentError(f"meta must be a dict or None, got {type(meta).__name__}")
    meta_json = encode_meta(meta)  # type: ignore[arg-type]
    days = rule.parse_published(published)  # type: ignore[arg-type]
    return _NewArticle(id, text, source, published, meta_json, days)  # type: ignore[arg-type]


def new_story_id() -> str:
    """A random, unguessable story id (never sequential: ids must not reveal volumes)."""
    return "s_" + secrets.token_hex(8)


def _check_id(value: object, what: str = "id") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{what} must be a non-empty string (e.g. the article's URL "
                                   f"or a database key); got {value!r}")
    if len(value) > MAX_ID_CHARS:
        raise InvalidArgumentError(f"{what} is {len(value)} characters long; at most "
                                   f"{MAX_ID_CHARS} are accepted")
    return _check_unicode(value, what)


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError("text must be a non-empty string: pass the article's cleaned "
                                   "text (see cleaner.clean)")
    return _check_unicode(text, "text")


def _check_source(source: object) -> str | None:
    if source is not None and not isinstance(source, str):
        raise InvalidArgumentError(f"source must be a string or None, got {type(source).__name__}")
    return source if source is None else _check_unicode(source, "source")


def _check_unicode(value: str, what: str) -> str:
    # A lone surrogate (e.g. "\ud800" from a JSON escape) cannot be stored as UTF-8.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(f"{what} holds a character that is not valid Unicode text "
                                   f"(a lone surrogate at position {exc.start}); cleaner.clean "
                                   f"removes such characters") from None
    return value


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"storage failed: {exc}") from None
    except Exception as exc:  # psycopg errors, without importing psycopg here
        if type(exc).__module__.startswith("psycopg"):
            raise StorageError(f"storage failed: {exc}") from None
        raise


class StoryIndex:
    """A persistent index of articles grouped into stories, with near-duplicate detection.

    ``StoryIndex("cleaner.db")`` (a SQLite file, WAL), ``StoryIndex(":memory:")``,
    ``StoryIndex("postgresql://...")``, or ``StoryIndex(storage=open_storage(...),
    namespace="tenant-a")`` to share one store between isolated namespaces.
    """

    def __init__(self, target: "str | os.PathLike[str] | None" = None, *, storage: Storage | None = None,
                 namespace: str = DEFAULT_NAMESPACE) -> None:
        if (target is None) == (storage is None):
            raise InvalidArgumentError("give either a store path/URL or storage=, not both "
                                       "(e.g. StoryIndex('cleaner.db') or StoryIndex(storage=st))")
        if storage is not None and not isinstance(storage, Storage):
            raise InvalidArgumentError(f"storage must be a Storage (from open_storage), got "
                                       f"{type(storage).__name__}")
        self.namespace = _check_id(namespace, "namespace")
        self._owns_storage = storage is None
        self.storage: Storage = open_storage(target) if storage is None else storage  # type: ignore[arg-type]

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the store if this index opened it (a shared storage stays open)."""
        if self._owns_storage:
            self.storage.close()

    def __enter__(self) -> "StoryIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- core ------------------------------------------------------------------------------
    def _verdict_parts(self, cur: Any, ns: int | None, sig: Signature, keys: list[int],
                       days: float | None) -> tuple[rule.Decision, list[tuple[str, str, float]]]:
        if ns is None:
            return rule.Decision(None, None, 0.0), []
        mirror = self.storage.mirror(ns)
        mirror.sync(self.storage, cur)
        return self._decide(cur, ns, mirror, sig, keys, days)

    def _decide(self, cur: Any, ns: int, mirror: NamespaceMirror, sig: Signature, keys: list[int],
                days: float | None) -> tuple[rule.Decision, list[tuple[str, str, float]]]:
        cands = mirror.candidates(keys)
        scores: dict[str, rule.PairScore] = {}
        story_of: dict[str, str] = {}
        root_of: dict[str, str] = {}
        if len(cands):
            batch = rule.score_batch(sig, cands.batch, days, cands.days, cands.story_labels)
            # Only pairs the rule can act on become PairScores (the others change no decision).
            for i in np.flatnonzero(batch.worth_keeping()).tolist():
                cid = cands.id(i)
                scores[cid] = batch.pair(i)
                story_of[cid] = cands.story(i)
                root_of[cid] = cands.duplicate_of(i) or cid
        involved = sorted(set(story_of.values()))
        roots = self.storage.roots_in_stories(cur, ns, involved)
        decision = rule.decide(scores, story_of, root_of, roots)
        return decision, rule.matches_of(scores.items())

    def add(self, id: str, text: str, *, source: str | None = None, published: str | None = None,
            meta: dict[str, Any] | None = None) -> Verdict:
        """Index one article (its cleaned text) and return its verdict.

        Raises ArticleExistsError if ``id`` is already in this namespace.
        """
        return self._add_all([_new_article(id, text, source, published, meta)])[0]

    def add_many(self, articles: Iterable[Mapping[str, Any]]) -> list[Verdict]:
        """Index several articles in ONE write transaction, in order (each sees those before
        it, as with consecutive :meth:`add` calls, which give the same verdicts), and return
        their verdicts. Each article is a dict with ``id`` and ``text``, and optionally
        ``source``, ``published`` and ``meta``, as :meth:`add` takes them.

        All or nothing: every article is checked before anything is written (an invalid one
        raises InvalidArgumentError naming its position; an id already in the index or given
        twice raises ArticleExistsError), and a failure while writing rolls all of them back.
        For bulk loads: one transaction per batch instead of per article saves the commit
        and the other per-transaction work (see the README's speed section).
        """
        if isinstance(articles, (str, bytes, Mapping)) or not isinstance(articles, Iterable):
            raise InvalidArgumentError("articles must be a list of dicts with 'id' and 'text'")
        items = []
        for n, art in enumerate(articles):
            if not isinstance(art, Mapping):
                raise InvalidArgumentError(f"article {n} must be a dict with 'id' and 'text', "
                                           f"got {type(art).__name__}")
            unknown = sorted(set(art) - _ARTICLE_FIELDS)
            if unknown or "id" not in art or "text" not in art:
                raise InvalidArgumentError(
                    f"article {n} must have 'id' and 'text' and may have "
                    f"'source', 'published', 'meta'; got {sorted(map(str, art))}")
            try:
                items.append(_new_article(art["id"], art["text"], art.get("source"),
                                          art.get("published"), art.get("meta")))
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"article {n}: {exc}") from None
        seen: set[str] = set()
        for it in items:
            if it.id in seen:
                raise ArticleExistsError(f"article {it.id!r} is given twice")
            seen.add(it.id)
        return self._add_all(items) if items else []

    def _add_all(self, items: list["_NewArticle"]) -> list[Verdict]:
        sigs = [signature(it.text, it.source) for it in items]
        now = time.time()
        verdicts = []
        mirror = None
        try:
            with _storage_errors(), self.storage.write() as cur:
                ns = self.storage.namespace_id(cur, self.namespace, create=True)
                assert ns is not None
                there = self.storage.existing_ids(cur, ns, [it.id for it in items])
                if there:
                    raise ArticleExistsError(f"article {there[0]!r} is already in the index; use "
                                             f"get() to read it or remove() it first")
                mirror = self.storage.mirror(ns)
                mirror.sync(self.storage, cur)
                for it, sig in zip(items, sigs):
                    keys = band_keys(sig)
                    decision, matches = self._decide(cur, ns, mirror, sig, keys, it.days)
                    if decision.story is None:
                        story = new_story_id()
                        self.storage.create_story(cur, ns, story, now)
                    else:
                        story = str(decision.story)
                        self.storage.touch_story(cur, ns, story, now)
                    sig_bytes, key_bytes = sig.to_bytes(), encode_keys(keys)
                    pk = self.storage.insert_article(
                        cur, ns, id=it.id, text=it.text, source=it.source, published=it.published,
                        meta_json=it.meta_json, story=story, duplicate_of=decision.duplicate_of,
                        matches=[list(m) for m in matches], sig=sig_bytes, added=now,
                        keys=key_bytes, days=it.days)
                    mirror.added((pk, ns, it.id, story, decision.duplicate_of, it.days, sig_bytes,
                                  key_bytes))
                    verdicts.append(Verdict(id=it.id, story_id=story, duplicate_of=decision.duplicate_of,
                                            matches=tuple(Match(i, k, s) for i, k, s in matches)))  # type: ignore[arg-type]
        except BaseException:
            if mirror is not None:  # it may hold rows that were not committed
                mirror.invalidate()
            raise
        return verdicts

    def query(self, text: str, *, published: str | None = None, source: str | None = None) -> Verdict:
        """The verdict ``text`` would get, without inserting it (``id`` is "", and
        ``story_id`` is "" when it would start a new story)."""
        _check_text(text)
        _check_source(source)
        days = rule.parse_published(published)
        sig = signature(text, source)
        with _storage_errors(), self.storage.read() as cur:
            ns = self.storage.namespace_id(cur, self.namespace, create=False)
            decision, matches = self._verdict_parts(cur, ns, sig, band_keys(sig), days)
        return Verdict(id="", story_id="" if decision.story is None else str(decision.story),
                       duplicate_of=decision.duplicate_of,
                       matches=tuple(Match(i, k, s) for i, k, s in matches))  # type: ignore[arg-type]

    def get(self, id: str) -> IndexedArticle | None:
        """The stored article, or None if it is not in this namespace."""
        _check_id(id)
        with _storage_errors(), self.storage.read() as cur:
            ns = self.storage.namespace_id(cur, self.namespace, create=False)
            row = None if ns is None else self.storage.get_article(cur, ns, id)
        if row is None:
            return None
        return IndexedArticle(id=row.id, text=row.text, source=row.source, published=row.published,
                              meta=row.meta, story_id=row.story, duplicate_of=row.duplicate_of,
                              matches=tuple(Match(m[0], m[1], float(m[2])) for m in row.matches))

    def remove(self, id: str) -> bool:
        """Delete an article (text, signature, band keys) and re-evaluate its story.

        The remaining members are re-clustered by the same rule in insertion order; the
        part holding the earliest member keeps the story id, any other part gets a new one,
        and copies whose original was removed point to the next copy. Returns False if the
        id was not in the index.
        """
        _check_id(id)
        now = time.time()
        with _storage_errors(), self.storage.write() as cur:
            ns = self.storage.namespace_id(cur, self.namespace, create=False)
            row = None if ns is None else self.storage.get_article(cur, ns, id)
            if row is None or ns is None:
                return False
            self.storage.delete_article(cur, ns, row.pk)
            self._recluster(cur, ns, row.story, now)
        return True

    def _recluster(self, cur: Any, ns: int, story: str, now: float) -> None:
        members = self.storage.members(cur, ns, story)
        if not members:
            self.storage.delete_story(cur, ns, story)
            return
        sigs = {m.id: Signature.from_bytes(m.sig) for m in members}
        days = {m.id: rule.parse_published(m.published) for m in members}
        order = [m.id for m in members]
        pairs = {}
        for i, a in enumerate(order[1:], 1):
            earlier = order[:i]
            scored = rule.score_many(sigs[a], [sigs[b] for b in earlier], days[a], [days[b] for b in earlier])
            pairs.update({(b, a): s for b, s in zip(earlier, scored)})
        result = rule.replay(order, pairs)
        new_ids: dict[str, str] = {result[order[0]][0]: story}
        for m in members:
            key, dup_of = result[m.id]
            if key not in new_ids:
                new_ids[key] = new_story_id()
                self.storage.create_story(cur, ns, new_ids[key], now)
            if new_ids[key] != m.story or dup_of != m.duplicate_of:
                self.storage.set_membership(cur, m.pk, new_ids[key], dup_of)
        self.storage.touch_story(cur, ns, story, now)

    # -- stories ---------------------------------------------------------------------------
    def get_story(self, story_id: str) -> Story:
        """A story and its members (insertion order). NotFoundError if unknown here."""
        _check_id(story_id, "story_id")
        with _storage_errors(), self.storage.read() as cur:
            ns = self.storage.namespace_id(cur, self.namespace, create=False)
            found = None if ns is None else self.storage.get_story(cur, ns, story_id)
            if found is None or ns is None:
                raise NotFoundError(f"no story {story_id!r} in this index")
            members = self.storage.member_ids(cur, ns, story_id)
        return Story(id=found[0], members=tuple(members), created=found[1], updated=found[2])

    def stories(self, limit: int = 50, offset: int = 0) -> list[Story]:
        """Stories, most recently updated first."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_STORIES_PAGE:
            raise InvalidArgumentError(f"limit must be an integer from 1 to {MAX_STORIES_PAGE}; got {limit!r}")
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
            raise InvalidArgumentError(f"offset must be an integer from 0 to {MAX_OFFSET}; got {offset!r}")
        with _storage_errors(), self.storage.read() as cur:
            ns = self.storage.namespace_id(cur, self.namespace, create=False)
            if ns is None:
                return []
            rows = self.storage.list_stories(cur, ns, limit, offset)
            return [Story(id=r[0], members=tuple(self.storage.member_ids(cur, ns, r[0])),
                          created=r[1], updated=r[2]) for r in rows]

    def count(self) -> int:
        """Number of articles in this namespace."""
        with _storage_errors(), self.storage.read() as cur:
            ns = self.storage.namespace_id(cur, self.namespace, create=False)
            return 0 if ns is None else self.storage.count(cur, ns)
