"""Every error the library raises on bad input is a ``CleanerError``, itself a ``ValueError``.

Callers that already catch ``ValueError`` keep working; callers that want to tell
cases apart (the service maps them to HTTP statuses, the CLI to error lines) catch
the subclasses.
"""

from __future__ import annotations


class CleanerError(ValueError):
    """Base class of every error raised on bad input or bad use of the library."""


class EmptyInputError(CleanerError):
    """The input is empty or whitespace only."""


class BinaryInputError(CleanerError):
    """The input looks like binary data (an image, a PDF, a zip...), not text or HTML."""


class DecodeError(CleanerError):
    """The bytes cannot be decoded with the declared or sniffed charset."""


class InputTooLargeError(CleanerError):
    """The input is larger than the configured cap."""


class NoArticleError(CleanerError):
    """The page was parsed but holds no article text (e.g. a bare navigation page)."""


class InvalidArgumentError(CleanerError):
    """An argument has a value the function does not accept (the message says which)."""


class NotFoundError(CleanerError, KeyError):
    """An article or story id that is not in the index."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ArticleExistsError(CleanerError):
    """An article with this id is already in the index."""


class StorageError(CleanerError):
    """The storage backend failed or is unreachable."""
