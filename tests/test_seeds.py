"""The three seed articles (one story, three outlets) and the behaviours they stand for."""

from __future__ import annotations

import pytest

from cleaner import clean
from cleaner.segment import segment_text

SEED_000 = "000_91b33886acac67c9.txt"
SEED_002 = "002_e503c4c19fae78b4.txt"
SEED_003 = "003_40e63e7962560d05.txt"


def _removed(article, reason=None):
    return [r for r in article.removed if reason is None or r.reason == reason]


def _block_texts(text):
    return [b.text for b in segment_text(text)]


def test_podcast_plug_is_removed(seed_texts):
    article = clean(seed_texts[SEED_000])
    plugs = [r for r in article.removed if "| Episode" in r.text]
    assert len(plugs) == 1
    assert plugs[0].reason == "call_to_action"
    assert not any("| Episode" in p for p in article.paragraphs)


def test_insurance_ad_is_removed_with_all_its_lines(seed_texts):
    article = clean(seed_texts[SEED_000])
    ad_lines = [t for t in _block_texts(seed_texts[SEED_000])
                if "Insurance" in t or "$30 per Month" in t or t.startswith("Click here")]
    assert len(ad_lines) == 3
    removed = {r.text: r for r in article.removed}
    for line in ad_lines:
        assert line in removed, line
        assert removed[line].reason in ("call_to_action", "advertising")
        assert line not in article.paragraphs


def test_trailing_b2b_teaser_is_removed(seed_texts):
    article = clean(seed_texts[SEED_003])
    last_block = _block_texts(seed_texts[SEED_003])[-1]
    assert last_block.startswith("B2B APIs")
    assert [r.reason for r in article.removed if r.text == last_block] == ["off_topic"]
    assert article.paragraphs[-1].startswith("Ton-That said")


def test_repeated_headline_becomes_the_title(seed_texts):
    article = clean(seed_texts[SEED_000])
    headline = _block_texts(seed_texts[SEED_000])[0]
    assert article.title == headline
    assert headline not in article.paragraphs
    assert [r.reason for r in article.removed if r.text == headline] == ["title", "duplicate_title"]


def test_section_label_on_top_is_removed_and_headline_is_title(seed_texts):
    article = clean(seed_texts[SEED_003])
    assert article.title is not None and article.title.startswith("Facial Recognition Firm")
    assert [r.reason for r in article.removed if r.position == 0] == ["section_label"]


def test_photo_caption_and_credit_are_removed(seed_texts):
    article = clean(seed_texts[SEED_000])
    captions = _removed(article, "caption")
    assert any(r.text.endswith("Photo: MMG") for r in captions)


@pytest.mark.parametrize("name", [SEED_000, SEED_002, SEED_003])
def test_every_news_paragraph_is_kept(seed_texts, name):
    """Everything that is not header noise or a promo stays, in order."""
    article = clean(seed_texts[name])
    blocks = _block_texts(seed_texts[name])
    noise_positions = {r.position for r in article.removed}
    expected_noise = {
        SEED_000: {0, 1, 2, 3, 6, 8, 9, 10},   # headline x2, caption name + caption, plug, 3-line ad
        SEED_002: set(),                      # one line per paragraph, no promos
        SEED_003: {0, 1, 11},                 # section label, headline, B2B teaser
    }[name]
    assert noise_positions == expected_noise
    assert list(article.paragraphs) == [b for i, b in enumerate(blocks) if i not in expected_noise]


def test_single_newline_layout_keeps_every_line(seed_texts):
    article = clean(seed_texts[SEED_002])
    assert article.removed == ()
    assert len(article.paragraphs) == len(_block_texts(seed_texts[SEED_002]))
