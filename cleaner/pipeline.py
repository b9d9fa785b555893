"""``clean()``: check input -> extract (HTML) or segment (text) -> judge -> CleanedArticle."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import CleanerError, InvalidArgumentError, NoArticleError
from .extract import extract_html
from .inputs import MAX_INPUT_BYTES, resolve_content_type, to_text
from .judge import FAVORS, judge
from .models import CleanedArticle
from .segment import segment_text

if TYPE_CHECKING:  # pragma: no cover
    from .boilerplate import BoilerplateModel


def _host(url: str | None) -> str | None:
    """The host of ``url`` (the default ``source`` for boilerplate lookups)."""
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _check_options(*, url: object, source: object, charset: object, boilerplate: object,
                   max_bytes: object) -> None:
    """InvalidArgumentError naming the first keyword argument of clean() of the wrong type."""
    from .boilerplate import BoilerplateModel
    from .inputs import text_codec

    for name, value in (("url", url), ("source", source), ("charset", charset)):
        if value is not None and not isinstance(value, str):
            raise InvalidArgumentError(f"{name} must be a string or None; got {type(value).__name__}")
    if isinstance(charset, str) and text_codec(charset) is None:
        raise InvalidArgumentError(f"unknown charset {charset!r} (not a text encoding)")
    if boilerplate is not None and not isinstance(boilerplate, BoilerplateModel):
        raise InvalidArgumentError(f"boilerplate must be a BoilerplateModel or None; got "
                                   f"{type(boilerplate).__name__}")
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
        raise InvalidArgumentError(f"max_bytes must be a positive integer; got {max_bytes!r}")


def clean(
    raw: str | bytes,
    *,
    url: str | None = None,
    content_type: str = "auto",
    favor: str = "balanced",
    boilerplate: "BoilerplateModel | None" = None,
    source: str | None = None,
    charset: str | None = None,
    max_bytes: int = MAX_INPUT_BYTES,
) -> CleanedArticle:
    """Clean one article, HTML or plain text.

    ``favor`` moves the removal threshold ("precision" removes less, "recall" more).
    ``boilerplate`` is a fitted :class:`~cleaner.boilerplate.BoilerplateModel`; lines it knows
    as recurring for ``source`` (default: the host of ``url``) go as ``site_boilerplate``.
    ``charset`` overrides the page's declared charset for bytes; ``max_bytes`` caps the input.

    Raises a :class:`~cleaner.errors.CleanerError` subclass for input it cannot use:
    empty, binary, undecodable, too large, or a page with no article text.
    """
    if favor not in FAVORS:
        raise InvalidArgumentError(f"favor must be one of {', '.join(FAVORS)}; got {favor!r}")
    _check_options(url=url, source=source, charset=charset, boilerplate=boilerplate, max_bytes=max_bytes)
    text = to_text(raw, max_bytes=max_bytes, charset=charset)
    kind = resolve_content_type(text, content_type)
    meta: dict[str, str | None] = {"title": None, "author": None, "date": None, "sitename": None,
                                   "language": None, "url": url}
    if kind == "html":
        try:
            ext = extract_html(text, url=url, favor=favor)
        except CleanerError:
            raise
        except Exception as exc:  # noqa: BLE001 - lxml/trafilatura raise many types on odd markup
            raise NoArticleError(f"could not parse this HTML page ({type(exc).__name__}: {exc})") from exc
        if ext is None or not ext.blocks:
            raise NoArticleError("no article text found in this HTML page")
        blocks = ext.blocks
        meta.update(title=ext.title, author=ext.author, date=ext.date, sitename=ext.sitename,
                    language=ext.language, url=ext.url)
    else:
        blocks = segment_text(text)
        if not blocks:
            raise NoArticleError("no text found")
    result = judge(blocks, title=meta["title"], favor=favor, boilerplate=boilerplate, source=source if source is not None else _host(url),
                   markup=kind == "html")
    if not result.kept and (kind == "html" or not result.title):
        raise NoArticleError(
            f"no article text left: all {len(blocks)} blocks were judged boilerplate "
            f"({', '.join(sorted({r.reason for r in result.removed}))})")
    paragraphs = tuple(b.text for b in result.kept)
    return CleanedArticle(
        text="\n\n".join(paragraphs),
        paragraphs=paragraphs,
        title=result.title,
        author=meta["author"],
        date=meta["date"],
        url=meta["url"],
        sitename=meta["sitename"],
        language=meta["language"],
        removed=result.removed,
    )
