"""Frozen dataclasses that every layer passes around: blocks, removals, articles, verdicts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MatchKind = Literal["duplicate", "same_story"]


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph-level unit of an article, before judgement.

    ``kind`` is what the extractor knows of it: ``"p"``, ``"heading"``, ``"list"``,
    ``"quote"``, ``"table"``, ``"caption"`` or ``"line"`` (a plain-text line).
    ``link_chars`` counts characters inside links (0 when unknown, e.g. plain text).
    """

    text: str
    position: int
    kind: str = "p"
    link_chars: int = 0


@dataclass(frozen=True, slots=True)
class Removal:
    """A block that was taken out, with a machine-readable reason and the judge's score."""

    text: str
    reason: str
    score: float
    position: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CleanedArticle:
    """The result of :func:`cleaner.clean`."""

    text: str
    paragraphs: tuple[str, ...]
    title: str | None = None
    author: str | None = None
    date: str | None = None
    url: str | None = None
    sitename: str | None = None
    language: str | None = None
    removed: tuple[Removal, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (lists, strings, numbers and None only)."""
        return {
            "text": self.text,
            "paragraphs": list(self.paragraphs),
            "title": self.title,
            "author": self.author,
            "date": self.date,
            "url": self.url,
            "sitename": self.sitename,
            "language": self.language,
            "removed": [r.to_dict() for r in self.removed],
        }


@dataclass(frozen=True, slots=True)
class Match:
    """Another article of the index that a new one resembles."""

    id: str
    kind: MatchKind
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "similarity": round(float(self.similarity), 4)}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the story index says of one article: its story, the copy it duplicates, its matches."""

    id: str
    story_id: str
    duplicate_of: str | None
    matches: tuple[Match, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "story_id": self.story_id,
            "duplicate_of": self.duplicate_of,
            "matches": [m.to_dict() for m in self.matches],
        }


@dataclass(frozen=True, slots=True)
class Story:
    """A group of articles about one event; ``members`` in insertion order."""

    id: str
    members: tuple[str, ...]
    created: float | None = None
    updated: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "members": list(self.members), "size": len(self.members),
                "created": self.created, "updated": self.updated}
