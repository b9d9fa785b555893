"""Bad input gets a typed CleanerError, never a crash."""

from __future__ import annotations

import pytest

from cleaner import (BinaryInputError, CleanerError, EmptyInputError, InputTooLargeError,
                     InvalidArgumentError, clean)
from cleaner.inputs import decode, sniff_content_type


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("", EmptyInputError),
        ("   \n\t  ", EmptyInputError),
        (b"", EmptyInputError),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), BinaryInputError),
        (b"%PDF-1.7 binary", BinaryInputError),
        (bytes(range(32)) * 50, BinaryInputError),
    ],
)
def test_unusable_input_raises_typed_error(raw, error):
    with pytest.raises(error):
        clean(raw)


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        clean("")


def test_oversized_input_is_refused_before_parsing():
    with pytest.raises(InputTooLargeError):
        clean("<p>" + "word " * 100 + "</p>", max_bytes=100)


def test_unknown_content_type_and_favor_are_refused():
    with pytest.raises(InvalidArgumentError, match="content_type"):
        clean("some text here", content_type="pdf")
    with pytest.raises(InvalidArgumentError, match="favor"):
        clean("some text here", favor="everything")


def test_non_string_input_is_refused():
    with pytest.raises(CleanerError):
        clean(12345)  # type: ignore[arg-type]


def test_declared_charset_is_honoured():
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Café crème à Zürich</p></body></html>'
    assert "Café crème à Zürich" in decode(html.encode("iso-8859-1"))


def test_undeclared_cp1252_falls_back_without_error():
    assert decode("naïve “quotes”".encode("cp1252")) == "naïve “quotes”"


@pytest.mark.parametrize(
    ("text", "kind"),
    [("<!DOCTYPE html><html><body><p>x</p></body></html>", "html"),
     ("<div class='a'>x</div>", "html"),
     ("Plain words, a < b and c > d.", "text")],
)
def test_content_type_sniffing(text, kind):
    assert sniff_content_type(text) == kind
