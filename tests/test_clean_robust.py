"""clean() on hostile input: only CleanerError subclasses may escape, and quickly."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner import (CleanedArticle, CleanerError, DecodeError, EmptyInputError, InputTooLargeError,
                     NoArticleError, clean)
from cleaner.inputs import MAX_INPUT_BYTES

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _clean_or_typed_error(raw, **kw):
    try:
        result = clean(raw, **kw)
    except CleanerError:
        return None
    assert isinstance(result, CleanedArticle)
    result.to_dict()
    return result


@_SETTINGS
@given(st.text(max_size=2000))
def test_arbitrary_text_gives_article_or_typed_error(raw):
    _clean_or_typed_error(raw)


@_SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_article_or_typed_error(raw):
    _clean_or_typed_error(raw)


_TAGS = st.sampled_from(["<p>", "</p>", "<div>", "</div>", "<html>", "<body>", "<article>", "<h1>", "</h1>",
                         "<ul><li>", "</li></ul>", "<a href='x'>", "</a>", "<table><tr><td>", "<br>",
                         "<!--", "-->", "<script>", "</script>", "<meta charset='koi8-r'>", "&amp;", "&#0;",
                         "<![CDATA[", "]]>", "<?xml version='1.0'?>", "<svg>", "\x00"])


@_SETTINGS
@given(st.lists(st.one_of(_TAGS, st.text(max_size=80)), max_size=40))
def test_arbitrary_markup_gives_article_or_typed_error(parts):
    raw = "".join(parts)
    _clean_or_typed_error(raw)
    _clean_or_typed_error(raw, content_type="html")
    _clean_or_typed_error(raw.encode("utf-8", "surrogatepass"), content_type="html")


@pytest.mark.parametrize("raw", ["", "   ", "\n\n\t", b"", b"  \r\n"])
def test_empty_or_whitespace_is_empty_input(raw):
    with pytest.raises(EmptyInputError):
        clean(raw)


def test_page_over_20mb_is_refused_fast():
    raw = "<html><body>" + "<p>word word word word word word.</p>" * (MAX_INPUT_BYTES // 36 + 10) + "</body></html>"
    start = time.perf_counter()
    with pytest.raises(InputTooLargeError):
        clean(raw)
    with pytest.raises(InputTooLargeError):
        clean(raw.encode("utf-8"))
    assert time.perf_counter() - start < 2.0


def test_non_utf8_page_with_declared_charset_is_decoded():
    paras = "".join(f"<p>Le conseil municipal de Besançon a voté la création d'une piste cyclable numéro {i} "
                    "le long du Doubs, après deux années de débats très animés entre riverains.</p>" for i in range(6))
    html = (f"<html><head><meta charset='iso-8859-1'><title>Piste cyclable à Besançon</title></head>"
            f"<body><article>{paras}</article></body></html>")
    result = clean(html.encode("iso-8859-1"))
    assert "Besançon" in result.text
    assert "créa" in result.text


def test_wrong_explicit_charset_is_a_typed_error_or_text():
    _clean_or_typed_error("naïve café".encode("utf-16-le"), charset="utf-16")
    with pytest.raises(CleanerError):
        clean(b"caf\xe9", charset="no-such-charset")


def test_html_without_article_is_no_article_error():
    html = "<html><head><title>Menu</title></head><body><nav><a href='/a'>A</a> <a href='/b'>B</a></nav></body></html>"
    with pytest.raises(NoArticleError):
        clean(html)


def test_utf16_bom_with_broken_body_is_decode_error():
    with pytest.raises(DecodeError):
        clean(b"\xff\xfe" + b"\x00\xd8")  # a lone high surrogate in UTF-16-LE


@pytest.mark.parametrize("kwargs", [{"url": 5}, {"url": b"http://x"}, {"source": ["a"]}, {"charset": 5},
                                    {"boilerplate": "x"}, {"max_bytes": None}, {"max_bytes": -1},
                                    {"charset": "rot13"}, {"charset": "base64"}])
def test_keyword_arguments_of_the_wrong_type_are_invalid_argument_errors(kwargs):
    from cleaner import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        clean("The council approved the budget on Tuesday after a long debate. " * 5, **kwargs)


def test_many_wrapped_lines_clean_in_linear_time():
    # One paragraph of many hard-wrapped lines used to cost quadratic time (each line was
    # searched for its open end over the whole paragraph so far). Compared with a run ten
    # times smaller, so a slow machine does not matter.
    def run(n: int) -> float:
        start = time.perf_counter()
        clean("hi\n" * n)
        return time.perf_counter() - start

    small, big = run(20_000), run(200_000)
    assert big < 30 * max(small, 0.01)


def test_text_of_too_many_paragraphs_is_refused_not_exhausting_memory():
    from cleaner.segment import MAX_BLOCKS

    with pytest.raises(InputTooLargeError):
        clean("ab\n\n" * (MAX_BLOCKS + 1))


def test_a_declared_utf16_charset_on_ascii_bytes_is_read_as_utf8():
    body = ("<p>The city council voted on Tuesday to approve a new budget for the library and the "
            "parks department, officials said after the meeting.</p>") * 3
    for declared in ("utf-16", "utf-16le", "utf-32"):
        page = f'<html><head><meta charset="{declared}"></head><body><article>{body}</article></body></html>'
        assert clean(page.encode()).text.startswith("The city council voted")


def test_control_characters_and_lone_surrogates_are_dropped_from_text():
    art = "The city council voted on Tuesday to approve a new budget for the library, officials said. " * 5
    for raw in ("word " * 2000 + "\x00 hello " + art, "\x01\x02" + art, "caf\udfffe " + art):
        text = clean(raw).text
        assert not any(ch in text for ch in "\x00\x01\x02\udfff?")


def test_text_without_spaces_is_not_taken_for_a_headline():
    # Chinese has no spaces: a whole sentence is one "word", yet it is body text, not a title.
    paras = ["市议会周二投票批准了新一年的预算。官员表示该计划将资助道路维修、公园和两座新图书馆，预计将在明年春季完成首批工程。",
             "反对者认为这笔钱应该用于青少年项目，但市长坚持认为基础设施是当务之急，并承诺明年再讨论。",
             "会议持续了四个小时，许多居民在公开评论环节发言，表达了对交通拥堵和停车问题的担忧。"]
    assert clean("\n\n".join(paras)).paragraphs == tuple(paras)
    assert clean(paras[0]).text == paras[0]
    headed = clean("\n\n".join(["市议会批准新预算", *paras]))
    assert headed.title == "市议会批准新预算" and headed.paragraphs == tuple(paras)


def test_an_article_in_one_bare_element_is_read_but_a_bare_menu_is_not():
    para = ("The city council voted on Tuesday to approve a new budget for the library and the parks "
            "department, officials said after a long meeting that ran late into the night.")
    for page in (f'<?xml version="1.0" encoding="utf-8"?><html><body><p>{para}</p></body></html>',
                 f"<html><body>{para}</body></html>"):
        assert clean(page).text == para
    with pytest.raises(NoArticleError):
        clean("<html><body><nav>Home News Sports Weather Contact</nav></body></html>")
