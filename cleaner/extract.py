"""The one module that talks to trafilatura: HTML in, blocks and metadata out."""

from __future__ import annotations

import re
from dataclasses import dataclass

import trafilatura
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_meta_json, extract_sitename, extract_title
from trafilatura.utils import load_html

from .models import Block

# trafilatura's output tags mapped to our block kinds.
_KIND_BY_TAG = {"p": "p", "head": "heading", "list": "list", "quote": "quote", "table": "table", "code": "code"}


# htmldate's extensive search doubles the cost of a page for a date that the page's own
# markup usually states; the quick search keeps HTML cleaning close to plain trafilatura.
_DATE_PARAMS = {"extensive_search": False, "original_date": True}
_TIME_DATETIME = re.compile(r"""<time\b[^>]*?\bdatetime\s*=\s*["']?\s*((?:19|20)\d\d-[01]\d-[0-3]\d)""", re.I)
_HEAD_END = re.compile(r"</head\s*>", re.I)
#: Words the body element's own text needs to be read as a block when it has no child blocks.
MIN_BARE_BODY_WORDS = 25
#: Look for the end of <head> this far into the page; heads past this are broken markup.
MAX_HEAD_CHARS = 400_000


@dataclass(frozen=True, slots=True)
class Extraction:
    blocks: tuple[Block, ...]
    title: str | None
    author: str | None
    date: str | None
    sitename: str | None
    language: str | None
    url: str | None


def _norm(text: str) -> str:
    return " ".join(text.split())


# Sub-elements whose text must not run into their neighbours' ("1" + "Look" -> "1Look").
_SEPARATED = frozenset({"cell", "row", "item", "p", "head", "list", "quote", "table", "code", "lb"})


def _space_out(el: etree._Element) -> None:
    """Put a space around nested block-level elements (table cells, list items, line breaks)."""
    for sub in el.iter():
        if sub is el or sub.tag not in _SEPARATED:
            continue
        sep = "\n" if sub.tag in ("lb", "row", "item") else " "
        sub.tail = sep + (sub.tail or "")
        if sub.tag != "lb":
            sub.text = " " + (sub.text or "")


def _block_text(el: etree._Element) -> str:
    """Visible text of an element (list items one per line)."""
    _space_out(el)
    if el.tag == "list":
        items = [_norm("".join(item.itertext())) for item in el.iterchildren("item")]
        return "\n".join(i for i in items if i)
    return _norm("".join(el.itertext()))


def _head_of(html: str) -> str:
    """The page up to the end of its <head>: where title, author, date and site name are
    stated (meta tags, JSON-LD). Parsing only this part keeps metadata cheap; the body is
    parsed once, by trafilatura."""
    m = _HEAD_END.search(html, 0, MAX_HEAD_CHARS)
    return html[: m.end()] + "<body></body></html>" if m else html


def _metadata(tree: HtmlElement, url: str | None) -> dict[str, str | None]:
    """Title, author, date, sitename, language and URL from the page's head.

    Uses trafilatura's readers of meta tags and JSON-LD and htmldate's quick search, but not
    its body-wide author and category searches, which cost as much as the extraction itself
    and rarely find more than the meta tags already state.
    """
    doc = examine_meta(tree)
    try:
        doc = extract_meta_json(tree, doc)
    except Exception:  # noqa: BLE001 - trafilatura's JSON-LD reader trips on malformed data
        pass
    title = doc.title or extract_title(tree)
    author = doc.author if doc.author and " " in doc.author else None
    page_url = doc.url or url
    date = find_date(tree, url=page_url, **_DATE_PARAMS)
    sitename = doc.sitename or extract_sitename(tree)
    language = tree.get("lang") or tree.get("xml:lang") or None
    return {"title": title or None, "author": author, "date": date or None,
            "sitename": sitename.lstrip("@") if sitename else None,
            "language": language.strip() or None if language else None, "url": page_url}


def _blocks(root: etree._Element, default_kind: str) -> list[Block]:
    """One block per child of trafilatura's body, plus the loose text it leaves between them
    (a paragraph that follows a heading without its own <p> ends up as the heading's tail).
    Text of the body element itself is read only when it has no child blocks and holds
    MIN_BARE_BODY_WORDS or more: trafilatura's fallbacks put a page's bare navigation there
    (a menu-only page has no article)."""
    out: list[Block] = []

    def add(text: str, kind: str) -> None:
        if text:
            out.append(Block(text=text, position=len(out), kind=kind))

    for el in root:
        add(_block_text(el), _KIND_BY_TAG.get(el.tag, default_kind))
        add(_norm(el.tail or ""), default_kind)
    if not out:
        # Nothing but the body's own text: a page whose article sits in one bare element
        # (<body>text</body>, or a lone <p>). Read when it is a paragraph's worth of words,
        # not a menu; the judge then decides as for any block.
        text = _norm("".join(root.itertext()))
        if len(text.split()) >= MIN_BARE_BODY_WORDS:
            add(text, _KIND_BY_TAG.get(root.tag, default_kind))
    return out


def extract_html(html: str, *, url: str | None = None, favor: str = "balanced") -> Extraction | None:
    """Run trafilatura on a page; ``None`` when it finds no main content."""
    head = load_html(_head_of(html))
    meta = _metadata(head, url) if head is not None else {
        "title": None, "author": None, "date": None, "sitename": None, "language": None, "url": url}
    if not meta["date"]:
        # Pages that state their date only in the body mostly do it with <time datetime=...>.
        m = _TIME_DATETIME.search(html)
        meta["date"] = m.group(1) if m else None
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=False,
        # As in trafilatura's default. Comments themselves are not used (readers' text is not
        # the article), but asking for them changes how trafilatura prunes the page before it
        # looks for the main text, which keeps forum posts (wcxb-dev: forum F1 0.709 -> 0.732).
        include_comments=True,
        include_tables=True,
        # Without links, as in trafilatura's default: with them, trafilatura's link-density
        # tests prune listings, shop grids and forum threads whose links are the content
        # (wcxb-dev F1 0.8289 -> 0.8311, and 0.7070 -> 0.7088 on non-article pages). So the
        # judge gets no link density from HTML (Block.link_chars stays 0).
        include_links=False,
        favor_precision=favor == "precision",
        favor_recall=favor == "recall",
    )
    if doc is None or doc.body is None:
        return None
    blocks = _blocks(doc.body, "p")
    return Extraction(blocks=tuple(blocks), **meta)
