"""Story detection: near-duplicate copies and same-story coverage, persistent and clustered.

    >>> from cleaner.stories import StoryIndex
    >>> with StoryIndex(":memory:") as idx:
    ...     verdict = idx.add("a1", cleaned_text, source="example.com", published="2024-05-01")
"""

from __future__ import annotations

from .index import DEFAULT_NAMESPACE, IndexedArticle, StoryIndex, new_story_id
from .storage import Storage, open_storage

__all__ = ["DEFAULT_NAMESPACE", "IndexedArticle", "Storage", "StoryIndex", "new_story_id",
           "open_storage"]
