"""article-cleaner: strip boilerplate and in-body promos from articles, explain every
removal, and group copies and coverage of one story.

    >>> from cleaner import clean
    >>> article = clean(html_or_text)
    >>> article.text, [(r.reason, r.text) for r in article.removed]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ArticleExistsError,
    BinaryInputError,
    CleanerError,
    DecodeError,
    EmptyInputError,
    InputTooLargeError,
    InvalidArgumentError,
    NoArticleError,
    NotFoundError,
    StorageError,
)
from .models import Block, CleanedArticle, Match, Removal, Story, Verdict
from .pipeline import clean

if TYPE_CHECKING:  # pragma: no cover
    from .boilerplate import BoilerplateModel
    from .stories import StoryIndex

__all__ = [
    "ArticleExistsError",
    "BinaryInputError",
    "Block",
    "BoilerplateModel",
    "CleanedArticle",
    "CleanerError",
    "DecodeError",
    "EmptyInputError",
    "InputTooLargeError",
    "InvalidArgumentError",
    "Match",
    "NoArticleError",
    "NotFoundError",
    "Removal",
    "StorageError",
    "Story",
    "StoryIndex",
    "Verdict",
    "clean",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Heavier parts load on first use, so `import cleaner` stays fast for the CLI.
    if name == "StoryIndex":
        from .stories import StoryIndex

        return StoryIndex
    if name == "BoilerplateModel":
        from .boilerplate import BoilerplateModel

        return BoilerplateModel
    raise AttributeError(f"module 'cleaner' has no attribute {name!r}")
