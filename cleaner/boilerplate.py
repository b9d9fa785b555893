"""Learn a source's boilerplate from a batch of its articles.

Site furniture ("Get email notifications on <author> daily!", "For more neighborhood news,
listen to ... here:", a copyright line) recurs across a publisher's pages, while the lines of a
story do not. ``BoilerplateModel.fit`` counts, per source, in how many distinct articles each
line occurs, under two keys:

* the *exact* key: the line lower-cased, digits folded to ``0``, spacing and edge punctuation
  dropped;
* the *template* key: the exact key with capitalised words past the first (names) and numbers
  masked, so "Get email notifications on Jane Doe daily!" and "... on John Roe daily!" meet.

A line is boilerplate for a source when one of its keys occurs in at least ``min_docs``
articles of that source and in at least ``min_share`` of them. Keys are stored as 64-bit
xxhash values, so a model over a large crawl stays small.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import xxhash

from .errors import CleanerError, InvalidArgumentError

#: A line must recur in at least this many articles of a source. Two could be one story
#: updated twice on the same site; three distinct articles sharing a line is furniture.
DEFAULT_MIN_DOCS = 3
#: ... and in at least this share of the source's articles, so that a big source (thousands of
#: pages) does not lose a sentence that a handful of its stories happen to quote.
DEFAULT_MIN_SHARE = 0.02
#: Template keys (names masked) need this many unmasked words: "<name> said." must not match
#: every short attribution line of a site.
MIN_TEMPLATE_WORDS = 4
#: Lines longer than this are never boilerplate by template: long paragraphs that differ only
#: in names are reprinted content (a wire story), not furniture.
MAX_TEMPLATE_WORDS = 60

#: Lines of at least this many words are paragraphs of a story: an article whose every such
#: paragraph was counted already is a copy and is not counted again (see add_lines).
COPY_MIN_WORDS = 15

_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.UNICODE)
_DIGITS = re.compile(r"\d+")


def _exact_key(line: str) -> str:
    return " ".join(_DIGITS.sub("0", w.lower()) for w in _WORD.findall(line))


def _template_key(line: str) -> str | None:
    words = _WORD.findall(line)
    if not words or len(words) > MAX_TEMPLATE_WORDS:
        return None
    out: list[str] = []
    kept = 0
    for i, w in enumerate(words):
        if w[0].isdigit():
            tok = "#"
        elif i > 0 and w[0].isupper():
            tok = "@"
        else:
            tok = w.lower()
            kept += 1
        if tok in ("@", "#") and out and out[-1] == tok:
            continue
        out.append(tok)
    if kept < MIN_TEMPLATE_WORDS:
        return None
    return " ".join(out)


def _hash(kind: str, key: str) -> int:
    return xxhash.xxh64_intdigest((kind + "\x1f" + key).encode("utf-8", "surrogatepass"))


def line_keys(line: str) -> tuple[int, ...]:
    """The hashed keys under which a line is counted (exact, and template when it has one)."""
    exact = _exact_key(line)
    if not exact:
        return ()
    template = _template_key(line)
    if template is None or template == exact:
        return (_hash("e", exact),)
    return (_hash("e", exact), _hash("t", template))


def _lines(text: str, content_type: str | None = None) -> Iterator[str]:
    # Imported here: segmentation and extraction belong to the cleaner, which imports us.
    from .inputs import sniff_content_type

    if (content_type or sniff_content_type(text)) == "html":
        from .extract import extract_html

        ext = extract_html(text)
        blocks = ext.blocks if ext is not None else ()
    else:
        from .segment import segment_text

        blocks = segment_text(text)
    for block in blocks:
        for line in block.text.split("\n"):
            if line.strip():
                yield line


def _check(source: object, text: object, what: str) -> None:
    if source is not None and not isinstance(source, str):
        raise InvalidArgumentError(f"source must be a string or None; got {type(source).__name__}")
    if not isinstance(text, str):
        raise InvalidArgumentError(f"{what} must be a str; got {type(text).__name__}")


@dataclass
class _SourceCounts:
    docs: int = 0
    keys: Counter[int] = field(default_factory=Counter)
    # Hashes of the line sets counted in this process (exact copies are skipped); not
    # serialised.
    fingerprints: set[int] = field(default_factory=set)


class BoilerplateModel:
    """Per-source counts of recurring lines; see the module docstring for the rule."""

    def __init__(self, *, min_docs: int = DEFAULT_MIN_DOCS, min_share: float = DEFAULT_MIN_SHARE) -> None:
        if not isinstance(min_docs, int) or min_docs < 2:
            raise InvalidArgumentError(f"min_docs must be an integer >= 2 (a line seen once is not recurring); got {min_docs!r}")
        if not 0.0 <= float(min_share) <= 1.0:
            raise InvalidArgumentError(f"min_share must be between 0 and 1; got {min_share!r}")
        self.min_docs = min_docs
        self.min_share = float(min_share)
        self._sources: dict[str | None, _SourceCounts] = defaultdict(_SourceCounts)

    # -- building -----------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        items: Iterable[tuple[str | None, str]],
        *,
        min_docs: int = DEFAULT_MIN_DOCS,
        min_share: float = DEFAULT_MIN_SHARE,
    ) -> BoilerplateModel:
        """Learn from ``(source, text)`` pairs; ``text`` is plain text or HTML.

        Articles that cannot be read (empty, binary) are skipped: a batch with a few bad
        records still yields a model.
        """
        model = cls(min_docs=min_docs, min_share=min_share)
        if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
            raise InvalidArgumentError(f"fit() takes an iterable of (source, text) pairs; got "
                                       f"{type(items).__name__}")
        for item in items:
            try:
                source, text = item
            except (TypeError, ValueError):
                raise InvalidArgumentError(
                    f"fit() takes (source, text) pairs; got {type(item).__name__}"
                ) from None
            if not isinstance(text, str):
                raise InvalidArgumentError(f"fit() takes text as str; got {type(text).__name__}")
            try:
                model.add(source, text)
            except CleanerError:
                continue
        return model

    def add(self, source: str | None, text: str, content_type: str | None = None) -> None:
        """Count one more article of ``source``: HTML or plain text as ``content_type`` says
        ("html" or "text"), sniffed when None."""
        if content_type not in (None, "html", "text"):
            raise InvalidArgumentError(f'content_type must be "html", "text" or None; got {content_type!r}')
        _check(source, text, "text")
        self.add_lines(source, _lines(text, content_type))

    def add_lines(self, source: str | None, lines: Iterable[str]) -> None:
        """Count one more article of ``source``, given as its lines (blocks).

        A copy of an article already counted is not counted again (three copies of one story
        would otherwise make the whole story "recurring furniture"): an exact copy (the same
        set of lines), or a copy with other furniture, whose every paragraph of
        COPY_MIN_WORDS or more words was seen before in this source and holds at least half
        of its words. A new article always brings paragraphs of its own."""
        keys: set[int] = set()
        exact: set[str] = set()  # the lines as written (numbers too): exact copies meet
        words = seen_words = 0
        counts = self._sources.get(source)
        long_lines = long_seen = 0
        for line in lines:
            found = line_keys(line)
            if not found:
                continue
            keys.update(found)
            exact.add(" ".join(line.split()))
            n = len(_WORD.findall(line))
            words += n
            if n >= COPY_MIN_WORDS:
                long_lines += 1
                if counts is not None and found[0] in counts.keys:
                    long_seen += 1
                    seen_words += n
        if not keys:  # nothing readable: counting it would only dilute the shares
            return
        counts = self._sources[source]
        fingerprint = hash(frozenset(exact))
        if fingerprint in counts.fingerprints or (
                long_lines and long_seen == long_lines and 2 * seen_words >= words):
            return
        counts.fingerprints.add(fingerprint)
        counts.docs += 1
        counts.keys.update(keys)

    # -- judging ------------------------------------------------------------------------
    def docs(self, source: str | None) -> int:
        """How many articles of ``source`` the model has seen."""
        counts = self._sources.get(source)
        return counts.docs if counts else 0

    def score(self, source: str | None, line: str) -> float:
        """Share of the source's articles that contain this line (by either key), or 0.0 when
        it recurs in fewer than ``min_docs`` of them."""
        _check(source, line, "line")
        counts = self._sources.get(source)
        if not counts or counts.docs < self.min_docs:
            return 0.0
        seen = max((counts.keys.get(k, 0) for k in line_keys(line)), default=0)
        if seen < self.min_docs:
            return 0.0
        return seen / counts.docs

    def is_boilerplate(self, source: str | None, line: str) -> bool:
        """True when the line recurs across enough of the source's articles to be furniture."""
        s = self.score(source, line)
        return s > 0.0 and s >= self.min_share

    def strip(self, source: str | None, text: str) -> str:
        """Plain ``text`` without its boilerplate lines (paragraph breaks kept)."""
        _check(source, text, "text")
        out: list[str] = []
        for para in re.split(r"\n[ \t]*\n", text):
            lines = [ln for ln in para.split("\n") if ln.strip() and not self.is_boilerplate(source, ln)]
            if lines:
                out.append("\n".join(lines))
        return "\n\n".join(out)

    # -- persistence --------------------------------------------------------------------
    def to_json(self) -> str:
        """Serialise to JSON. Keys seen in one article only are dropped to keep the file small;
        a reloaded model that keeps learning counts them again from zero."""
        payload: dict[str, Any] = {
            "version": 1,
            "min_docs": self.min_docs,
            "min_share": self.min_share,
            "sources": [
                {"source": s, "docs": c.docs, "keys": {str(k): n for k, n in c.keys.items() if n > 1}}
                for s, c in self._sources.items()
            ],
        }
        return json.dumps(payload, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str) -> BoilerplateModel:
        try:
            payload = json.loads(data)
            if payload.get("version") != 1:
                raise InvalidArgumentError(f"unsupported boilerplate model version {payload.get('version')!r}")
            model = cls(min_docs=payload["min_docs"], min_share=payload["min_share"])
            for entry in payload["sources"]:
                counts = model._sources[entry["source"]]
                counts.docs = int(entry["docs"])
                counts.keys.update({int(k): int(n) for k, n in entry["keys"].items()})
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError,
                RecursionError) as exc:
            raise InvalidArgumentError(f"not a boilerplate model: {exc}") from None
        return model

    def __repr__(self) -> str:
        total = sum(c.docs for c in self._sources.values())
        return f"BoilerplateModel(sources={len(self._sources)}, docs={total}, min_docs={self.min_docs}, min_share={self.min_share})"
