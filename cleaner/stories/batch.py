"""Batch dedup: clean a stream of raw records with the batch's own boilerplate, then add them
to a :class:`StoryIndex` and yield one verdict line per record, in input order.

Recurring site furniture ("Get email notifications on <author> daily!") is learnt from the
batch itself with :class:`~cleaner.boilerplate.BoilerplateModel`: records are read in
**buffered windows** of ``window`` records; each window is first counted into the model (which
keeps what earlier windows taught it), then cleaned and indexed. Memory is bounded by the
window, and a batch that fits in one window (the default holds 20,000 records) is
exactly a two-pass run. Short lines that recur across several *sources* of a window (one
CMS behind many sites) are removed too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import re
from collections import defaultdict

from ..errors import ArticleExistsError, CleanerError, InvalidArgumentError, NoArticleError
from .rule import story_date

#: Records buffered per window: enough for a source's furniture to recur min_docs times in
#: one window on a typical crawl, small enough (a few hundred MB at most) to stay in memory.
DEFAULT_WINDOW = 20_000
#: A short line found in this many different sources of a window is shared furniture (one CMS
#: serving many sites: "Your notification has been saved."), removed like a source's own.
SHARED_MIN_SOURCES = 4
#: ... if it has at most this many words: longer lines repeated across outlets are wire copy,
#: which duplicate detection needs.
SHARED_MAX_WORDS = 25

#: Why a record with nothing but shared furniture left is refused.
SHARED_ONLY_MESSAGE = "only furniture shared by several sites left"

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def _line_key(line: str) -> str:
    return _SPACE.sub(" ", _DIGITS.sub("0", line.strip().lower()))


def short_line_keys(text: str) -> set[str]:
    """Normalised keys of the text's short lines (furniture candidates)."""
    return {_line_key(line) for line in text.split("\n")
            if line.strip() and len(line.split()) <= SHARED_MAX_WORDS}


def _shared_furniture(texts: list[tuple[str | None, str]]) -> set[str]:
    """Keys of short lines that occur in SHARED_MIN_SOURCES or more distinct sources."""
    sources: dict[str, set[str | None]] = defaultdict(set)
    for source, text in texts:
        for key in short_line_keys(text):
            sources[key].add(source)
    return {k for k, v in sources.items() if len(v) >= SHARED_MIN_SOURCES}


def strip_shared(text: str, keys: set[str]) -> str:
    """``text`` without the furniture lines in ``keys``; NoArticleError if nothing is left."""
    stripped = strip_lines(text, keys) if keys else text
    if not stripped.strip():
        raise NoArticleError(SHARED_ONLY_MESSAGE)
    return stripped


def strip_lines(text: str, keys: set[str]) -> str:
    """``text`` without the lines whose key is in ``keys`` (paragraphs kept apart)."""
    out = []
    for para in re.split(r"\n[ \t]*\n", text):
        lines = [ln for ln in para.split("\n") if ln.strip() and _line_key(ln) not in keys]
        if lines:
            out.append("\n".join(lines))
    return "\n\n".join(out)


def _record_fields(rec: Any) -> tuple[str, str, str, str | None, str | None]:
    """(id, raw, content_type, source, published) of a record, or InvalidArgumentError.
    A record may also be a CleanerError (e.g. a line that was not JSON): it is raised."""
    if isinstance(rec, CleanerError):
        raise rec
    if not isinstance(rec, dict):
        raise InvalidArgumentError(f"a record must be a JSON object, got {type(rec).__name__}")
    rid = rec.get("id")
    if not isinstance(rid, str) or not rid.strip():
        raise InvalidArgumentError('a record needs a non-empty string "id"')
    if isinstance(rec.get("html"), str):
        raw, kind = rec["html"], "html"
    elif isinstance(rec.get("text"), str):
        raw, kind = rec["text"], "text"
    else:
        raise InvalidArgumentError('a record needs a "text" or "html" string')
    source = rec.get("source")
    if source is not None and not isinstance(source, str):
        raise InvalidArgumentError('"source" must be a string or null')
    published = rec.get("published")
    if published is None:  # the field name of many crawls and data sets
        published = rec.get("date")
    if published is not None and not isinstance(published, str):
        raise InvalidArgumentError('"published" (or "date") must be an ISO date string or null')
    return rid, raw, kind, source, published


def _error(rec: Any, exc: BaseException) -> dict[str, Any]:
    rid = rec.get("id") if isinstance(rec, dict) else None
    return {"id": rid if isinstance(rid, str) else None, "error": f"{type(exc).__name__}: {exc}"}


def clean_with_model(raw: str, kind: str, source: str | None, model: Any) -> str:
    """Clean one record with a fitted boilerplate model; the model's line filter is applied
    again to the cleaned text, so furniture goes even where the judge kept it. Raises
    NoArticleError when nothing but furniture is left (a paywall or notice page)."""
    return clean_with_date(raw, kind, source, model)[0]


def clean_with_date(raw: str, kind: str, source: str | None, model: Any) -> tuple[str, str | None]:
    """:func:`clean_with_model`, and the publication date the page states (HTML only)."""
    from ..pipeline import clean

    article = clean(raw, content_type=kind, boilerplate=model, source=source)
    text = article.text
    if not text.strip():
        raise NoArticleError("no article text left after cleaning (the input is only a headline, "
                             "a label or boilerplate)")
    stripped = model.strip(source, text) if model is not None else text
    if not stripped.strip():
        raise NoArticleError("only site furniture left after removing the source's recurring lines")
    return stripped, article.date


def clean_records(records: Iterable[Any], *, window: int = DEFAULT_WINDOW, model: Any = None
                  ) -> Iterator[tuple[Any, dict[str, Any] | None, BaseException | None]]:
    """Yield (record, {"id", "text", "source", "published"} or None, error or None) per record,
    in input order, cleaned with the boilerplate the batch shows (see the module docstring)."""
    from ..boilerplate import BoilerplateModel

    if not isinstance(window, int) or window < 1:
        raise InvalidArgumentError(f"window must be a positive integer, got {window!r}")
    if model is None:
        model = BoilerplateModel()
    buf: list[Any] = []

    def flush() -> Iterator[tuple[Any, dict[str, Any] | None, BaseException | None]]:
        parsed: list[tuple[Any, Any]] = []
        for rec in buf:
            try:
                parsed.append((rec, _record_fields(rec)))
            except CleanerError as exc:
                parsed.append((rec, exc))
        for _rec, f in parsed:
            if isinstance(f, tuple):
                try:
                    model.add(f[3], f[1], f[2])  # as declared: text that opens with <p> is text
                except CleanerError:
                    pass
        done: list[tuple[Any, Any, BaseException | None]] = []
        for rec, f in parsed:
            if not isinstance(f, tuple):
                done.append((rec, None, f))
                continue
            rid, raw, kind, source, published = f
            try:
                text, page_date = clean_with_date(raw, kind, source, model)
                published = story_date(published, page_date)
            except CleanerError as exc:
                done.append((rec, None, exc))
                continue
            done.append((rec, {"id": rid, "text": text, "source": source, "published": published}, None))
        shared = _shared_furniture([(a["source"], a["text"]) for _r, a, _e in done if a is not None])
        for rec, art, err in done:
            if art is not None and shared:
                try:
                    art["text"] = strip_shared(art["text"], shared)
                except NoArticleError as exc:
                    art, err = None, exc
            yield rec, art, err
        buf.clear()

    for rec in records:
        buf.append(rec)
        if len(buf) >= window:
            yield from flush()
    if buf:
        yield from flush()


def dedup_records(records: Iterable[Any], *, index: Any = None, window: int = DEFAULT_WINDOW
                  ) -> Iterator[dict[str, Any]]:
    """Clean and index records ``{"id", "text"|"html", "source"?, "published"?}`` (``"date"``
    is read when ``"published"`` is absent; an HTML page without either is dated as the page
    states); yield
    ``{"id", "story_id", "duplicate_of"}`` per record in input order, or ``{"id", "error"}``
    for a record that cannot be used (bad fields, no article text). An id the index already
    holds (a re-run over a persistent index, an id repeated in the input) gets its stored
    verdict; nothing is added again.

    ``index`` is a :class:`StoryIndex` to add to (an in-memory one if None, closed at the end).
    """
    from .index import StoryIndex

    own = index is None
    idx = StoryIndex(":memory:") if own else index
    try:
        for rec, art, err in clean_records(records, window=window):
            if art is None:
                assert err is not None
                yield _error(rec, err)
                continue
            try:
                v = idx.add(art["id"], art["text"], source=art["source"], published=art["published"])
            except ArticleExistsError:
                # An id the index holds (a re-run over a persistent --index, an id repeated
                # in the input): its stored verdict, nothing re-added, as the service answers.
                stored = idx.get(art["id"])
                if stored is None:  # removed meanwhile by another process: an error after all
                    yield _error(rec, ArticleExistsError(f"article {art['id']!r} changed meanwhile"))
                    continue
                yield {"id": stored.id, "story_id": stored.story_id, "duplicate_of": stored.duplicate_of}
                continue
            except CleanerError as exc:
                yield _error(rec, exc)
                continue
            yield {"id": v.id, "story_id": v.story_id, "duplicate_of": v.duplicate_of}
    finally:
        if own:
            idx.close()
