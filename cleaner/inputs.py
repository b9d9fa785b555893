"""Turn whatever a caller hands us (str or bytes, HTML or text) into checked, decoded text.

This is the one place that validates raw input: size cap, binary sniffing, charset
decoding (a declared charset is honoured), and HTML-versus-text sniffing.
"""

from __future__ import annotations

import codecs
import re
from typing import Literal

from .errors import BinaryInputError, DecodeError, EmptyInputError, InputTooLargeError, InvalidArgumentError

#: Largest raw input accepted by default: 20 MB pages exist in crawls, but nothing an
#: article needs is that big; past this we refuse instead of spending seconds in lxml.
MAX_INPUT_BYTES = 20 * 1024 * 1024

ContentType = Literal["html", "text", "auto"]
CONTENT_TYPES = ("html", "text", "auto")

# Magic numbers of common binary formats that sometimes arrive where HTML was expected.
_BINARY_MAGIC = (
    b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"\x1f\x8b", b"BZh",
    b"\x7fELF", b"RIFF", b"OggS", b"ID3", b"\x00\x00\x01\x00", b"wOFF", b"wOF2",
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-:.]+)""", re.I)
_HTML_SNIFF = re.compile(
    r"<\s*(?:!doctype\s+html|html|head|body|article|main|div|p|section|span|table|h[1-6]|meta|title|br|a\s)[\s>/]",
    re.I,
)
# A share of control characters (other than tab, newline, carriage return, form feed)
# above which decoded "text" is really binary data.
_MAX_CONTROL_SHARE = 0.05
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _declared_charset(head: bytes) -> str | None:
    for pattern in (_META_CHARSET, _XML_ENCODING):
        m = pattern.search(head)
        if m:
            name = m.group(1).decode("ascii", "ignore").strip().lower()
            if name in ("utf8",):
                name = "utf-8"
            found = text_codec(name)
            # A declaration readable as ASCII cannot be right about UTF-16 or UTF-32 (the
            # bytes would not spell it); as the HTML standard says, such pages are UTF-8.
            if found is not None and found.startswith(("utf-16", "utf-32", "utf_16", "utf_32")):
                return "utf-8"
            return found
    return None


def text_codec(name: str) -> str | None:
    """Python's name of a text encoding, or None (unknown, or a bytes-to-bytes codec such as
    base64 or zlib, or str-to-str like rot13)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode(raw: bytes, *, charset: str | None = None) -> str:
    """Decode bytes: a BOM wins, then the caller's ``charset``, then a charset the page
    declares, then UTF-8, then cp1252 (which decodes any byte but five)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8", "replace")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"input has a UTF-16 byte order mark but does not decode as UTF-16: {exc}") from None
    candidates: list[str] = []
    if charset:
        name = text_codec(charset)
        if name is None:
            raise InvalidArgumentError(f"unknown charset {charset!r} (not a text encoding)")
        candidates.append(name)
    declared = _declared_charset(raw[:4096])
    if declared:
        candidates.append(declared)
    candidates += ["utf-8", "cp1252"]
    for name in dict.fromkeys(candidates):
        try:
            return raw.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    # cp1252 leaves five bytes undefined; latin-1 maps every byte, so we only get here
    # for text that is neither, and replacing beats refusing a mostly readable page.
    return raw.decode("latin-1")


def check_size(n_bytes: int, limit: int = MAX_INPUT_BYTES) -> None:
    if n_bytes > limit:
        raise InputTooLargeError(
            f"input is {n_bytes:,} bytes, over the {limit:,}-byte limit; split it or raise max_bytes"
        )


def to_text(raw: str | bytes, *, max_bytes: int = MAX_INPUT_BYTES, charset: str | None = None) -> str:
    """Check and decode raw input; raise a :class:`CleanerError` subclass if it is unusable."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raw = bytes(raw)
        check_size(len(raw), max_bytes)
        if raw.startswith(_BINARY_MAGIC):
            raise BinaryInputError("input is binary data (its first bytes are a known file signature), not HTML or text")
        text = decode(raw, charset=charset)
    elif isinstance(raw, str):
        # len(str) <= len(utf-8 bytes) <= 4 * len(str): check the cheap bound first.
        if len(raw) * 4 > max_bytes:
            check_size(len(raw.encode("utf-8", "surrogatepass")), max_bytes)
        text = raw
    else:
        raise InvalidArgumentError(f"expected str or bytes, got {type(raw).__name__}")
    if "\x00" in text[:8192] or len(_CONTROL.findall(text[:8192])) > _MAX_CONTROL_SHARE * min(len(text), 8192):
        raise BinaryInputError("input looks like binary data: too many control characters for text or HTML")
    # Lone surrogates cannot be encoded anywhere downstream (lxml, JSON, SQLite). Only
    # non-ASCII text can hold one, and a strict encode tells whether it does (no copy back).
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATE.sub("", text)
    # Stray control characters (a NUL deep in a page, terminal escapes) are not text: drop them,
    # so no output carries them (PostgreSQL's text type cannot even store a NUL).
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    if not text or text.isspace():
        raise EmptyInputError("input is empty or whitespace only")
    return text


def sniff_content_type(text: str) -> Literal["html", "text"]:
    """``"html"`` if the start of the text has HTML tags, else ``"text"``."""
    head = text[:4096]
    return "html" if _HTML_SNIFF.search(head) else "text"


def resolve_content_type(text: str, content_type: str) -> Literal["html", "text"]:
    if content_type not in CONTENT_TYPES:
        raise InvalidArgumentError(f"content_type must be one of {', '.join(CONTENT_TYPES)}; got {content_type!r}")
    if content_type == "auto":
        return sniff_content_type(text)
    return content_type  # type: ignore[return-value]
