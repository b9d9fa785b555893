"""Behaviours of the block judge on synthetic articles (plain text and HTML)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner import BoilerplateModel, clean
from cleaner.judge import _WORD, THRESHOLDS, _lower_words, _norm_title, _words, judge
from cleaner.models import Block
from cleaner.segment import segment_text

HEADLINE = "Harbor Town Council Approves New Tidal Barrier After Winter Floods"
NEWS = [
    "The Harbor Town council voted 7-2 on Tuesday to build a tidal barrier across the old harbor "
    "mouth, ending two years of debate over how to protect the waterfront from winter storm surges.",
    "The barrier, estimated to cost 48 million dollars, will close during high tides and storms and "
    "stay open the rest of the year so that fishing boats can reach the inner harbor.",
    "Mayor Elena Ruiz said the floods of last January, which damaged more than 300 homes along the "
    "waterfront, had convinced even the council members who had doubted the project.",
    "\u201cWe cannot ask families to rebuild every winter,\u201d Ruiz said after the vote. \u201cIf you "
    "live on the waterfront, you deserve to know that the council has a plan.\u201d",
    "Opponents on the council argued that the barrier could trap pollution in the inner harbor and "
    "asked for an independent study of water quality before construction begins.",
    "Engineers from the regional water authority said the barrier gates would be tested twice a "
    "year and that sensors in the harbor would track water quality around the clock.",
    "Construction of the tidal barrier is expected to start next spring and to take about three "
    "years, during which the harbor mouth will stay open to boats.",
    "Residents will be able to comment on the final design of the barrier at two public meetings "
    "in the town hall next month, the council said.",
]


def article(*, insert: dict[int, str] | None = None, tail: str | None = None, head: list[str] | None = None,
            sep: str = "\n\n") -> str:
    """The synthetic article with extra blocks inserted before paragraph index k."""
    parts: list[str] = list(head or []) + [HEADLINE]
    for i, para in enumerate(NEWS):
        if insert and i in insert:
            parts.append(insert[i])
        parts.append(para)
    if tail:
        parts.append(tail)
    return sep.join(parts)


def removed_reasons(result, text):
    return [r.reason for r in result.removed if r.text == " ".join(text.split())]


def test_plain_article_keeps_every_news_paragraph():
    result = clean(article())
    assert result.title == HEADLINE
    assert list(result.paragraphs) == NEWS
    assert [r.reason for r in result.removed] == ["title"]


def test_unrelated_teaser_at_end_is_removed():
    teaser = ("Cloud gaming isn't just for teenagers anymore \u2014 studios and publishers now see it as a "
              "subscription business. In this week's Streaming Report, analyst Mark Olsen explains how "
              "console makers plan to win back subscribers in Europe and Asia.")
    result = clean(article(tail=teaser))
    assert removed_reasons(result, teaser) == ["off_topic"]
    assert list(result.paragraphs) == NEWS


def test_last_paragraph_on_topic_is_kept_even_with_new_names():
    closing = ("Harbor pilot Tom Becker, who has guided boats through the harbor mouth for 30 years, said "
               "the barrier gates should stay open during the fishing season.")
    result = clean(article(tail=closing))
    assert result.paragraphs[-1] == closing


def test_newsletter_signup_inside_body_is_removed():
    promo = "Sign up for our free morning newsletter and get the top stories delivered to your inbox."
    result = clean(article(insert={3: promo}))
    assert removed_reasons(result, promo) == ["call_to_action"]
    assert list(result.paragraphs) == NEWS


def test_podcast_style_plug_is_removed():
    plug = "Listen to Coastal Matters with Ann Reed | Episode 12: Why rising seas are changing insurance"
    result = clean(article(insert={2: plug}))
    assert removed_reasons(result, plug) == ["call_to_action"]


def test_multi_line_ad_is_removed_line_by_line():
    ad = ("Thinking about a new mortgage? Are you looking for lower payments?\n"
          "Rates starting at $9 per month for every $1,000 borrowed\nClick here to compare offers")
    result = clean(article(insert={4: ad}))
    assert list(result.paragraphs) == NEWS
    assert {r.reason for r in result.removed} - {"title"} <= {"call_to_action", "advertising"}
    assert len(result.removed) == 4


def test_quote_paragraph_is_kept():
    # NEWS[3] is a quote that addresses "you": quoted speech is news, not a call to action.
    result = clean(article())
    assert NEWS[3] in result.paragraphs


def test_advertisement_slot_label_is_removed():
    result = clean(article(insert={2: "Advertisement"}))
    assert removed_reasons(result, "Advertisement") == ["advertising"]


def test_share_tools_and_copyright_are_site_boilerplate():
    result = clean(article(insert={1: "Email | Print | Share"}, tail="\u00a9 2024 Harbor Daily. All rights reserved."))
    assert removed_reasons(result, "Email | Print | Share") == ["site_boilerplate"]
    assert removed_reasons(result, "\u00a9 2024 Harbor Daily. All rights reserved.") == ["site_boilerplate"]


def test_byline_and_dateline_are_removed():
    result = clean(article(insert={0: "By Maria Lopez\n\nPublished: March 3, 2024 10:15 am"}))
    assert removed_reasons(result, "By Maria Lopez") == ["byline"]
    assert removed_reasons(result, "Published: March 3, 2024 10:15 am") == ["dateline"]
    assert list(result.paragraphs) == NEWS


def test_wire_photo_caption_with_position_shorthand_is_removed():
    caption = "Council member Tom Fisher (2nd L) walks along the flooded waterfront promenade"
    result = clean(article(insert={3: caption}))
    assert removed_reasons(result, caption) == ["caption"]
    assert list(result.paragraphs) == NEWS


@pytest.mark.parametrize("line", [
    "Sen. Elena Ruiz (R) said the barrier would protect the waterfront for fifty years.",  # a party
    "Press Release (C) 2008 Harbor Games Inc.", "Harbor Ltd. & (R) or TM as indicated.",
    "HARBORQUEST(R) IV & (C)2008 Harbor Games",
])
def test_party_copyright_and_trademark_marks_are_not_caption_positions(line):
    from cleaner import lexicon as lx

    assert not lx.CAPTION_POSITION.search(line)


def test_related_links_after_label_are_removed():
    related = "Related stories\n\nCity budget vote delayed again\n\nSchool board picks new chief\n\nBridge repairs to close Main Street"
    result = clean(article(tail=related))
    assert list(result.paragraphs) == NEWS
    assert [r.reason for r in result.removed if r.reason != "title"] == ["related"] * 4


def test_section_label_above_headline_is_removed():
    result = clean(article(head=["Local News & Politics"]))
    assert result.title == HEADLINE
    assert [r.reason for r in result.removed] == ["section_label", "title"]


def test_repeated_headline_is_a_duplicate_title():
    result = clean(article(head=[HEADLINE]))
    assert result.title == HEADLINE
    assert sorted(r.reason for r in result.removed) == ["duplicate_title", "title"]
    assert list(result.paragraphs) == NEWS


def test_single_newline_layout_is_judged_per_line():
    promo = "Subscribe now and get unlimited access for only $1 a week. Click here to start."
    result = clean(article(insert={5: promo}, sep="\n"))
    assert list(result.paragraphs) == NEWS
    assert removed_reasons(result, promo) == ["advertising"]


def test_every_removal_has_reason_score_and_position():
    text = article(insert={2: "Advertisement", 5: "Sign up for our newsletter to get the latest news."})
    blocks = segment_text(text)
    result = clean(text)
    for r in result.removed:
        assert 0.0 <= r.score <= 1.0
        assert blocks[r.position].text == r.text
        assert r.reason
    assert result.to_dict()["removed"][0].keys() == {"text", "reason", "score", "position"}


@pytest.mark.parametrize("favor", ["precision", "balanced", "recall"])
def test_favor_orders_how_much_is_removed(favor):
    doubtful = "Want to learn more about flood insurance? Find out more at the town hall."
    text = article(insert={4: doubtful})
    counts = {f: len(clean(text, favor=f).removed) for f in ("precision", "balanced", "recall")}
    assert counts["precision"] <= counts["balanced"] <= counts["recall"]
    assert THRESHOLDS["precision"] > THRESHOLDS["balanced"] > THRESHOLDS["recall"]
    assert NEWS[0] in clean(text, favor=favor).paragraphs


def test_boilerplate_model_lines_are_removed_for_their_source():
    footer = "Get breaking alerts from the Harbor Daily app on your phone every morning"
    batch = [("harbor.example", f"Story number {i} about the fishing fleet and the weather.\n\n{footer}")
             for i in range(6)]
    model = BoilerplateModel.fit(batch)
    text = article(tail=footer)
    with_model = clean(text, boilerplate=model, source="harbor.example")
    assert removed_reasons(with_model, footer) == ["site_boilerplate"]
    # Another source has not seen the line, and without a model nothing marks it.
    assert footer in clean(text, boilerplate=model, source="other.example").paragraphs
    assert footer in clean(text).paragraphs


def test_boilerplate_source_defaults_to_url_host():
    footer = "Get breaking alerts from the Harbor Daily app on your phone every morning"
    model = BoilerplateModel.fit([("harbor.example", f"Story {i} text here about boats.\n\n{footer}") for i in range(5)])
    result = clean(article(tail=footer), boilerplate=model, url="https://harbor.example/news/1")
    assert removed_reasons(result, footer) == ["site_boilerplate"]


def _html(body: str, title: str = HEADLINE) -> str:
    return (f"<html><head><title>{title}</title></head><body><header><nav><a href='/'>Home</a></nav></header>"
            f"<article><h1>{title}</h1>{body}</article><footer>Contact us</footer></body></html>")


def test_promo_inside_html_body_is_removed():
    promo = "Sign up for our free morning newsletter and get the top stories delivered to your inbox."
    body = "".join(f"<p>{p}</p>" for p in NEWS[:4]) + f"<p>{promo}</p>" + "".join(f"<p>{p}</p>" for p in NEWS[4:])
    result = clean(_html(body), content_type="html")
    assert promo not in result.paragraphs
    assert "call_to_action" in [r.reason for r in result.removed]
    for para in NEWS:
        assert para in result.paragraphs
    assert result.title == HEADLINE


def test_linked_teaser_list_is_related_but_linked_heading_is_kept():
    teasers = "\n".join(f"Other story headline number {i} about something" for i in range(5))
    blocks = [Block(text=t, position=i) for i, t in enumerate(NEWS)]
    blocks.append(Block(text="Barrier design by Coastal Works", position=len(blocks), kind="heading", link_chars=31))
    blocks.append(Block(text=teasers, position=len(blocks), kind="list", link_chars=len(teasers)))
    verdict = judge(blocks, title=HEADLINE, markup=True)
    assert [r.reason for r in verdict.removed] == ["related"]
    assert verdict.kept[-1].kind == "heading"


def test_judge_accepts_blocks_directly():
    blocks = [Block(text=t, position=i) for i, t in enumerate([HEADLINE, *NEWS, "Print this article"])]
    verdict = judge(blocks)
    assert verdict.title == HEADLINE
    assert [b.text for b in verdict.kept] == NEWS


def test_run_of_unrelated_teaser_lines_is_related_without_a_header():
    teasers = ["Stocks slide as oil prices climb again", "Star striker signs a new contract",
               "Pop singer cancels her summer tour", "Storm cuts power to thousands upstate"]
    result = clean(article(tail="\n\n".join(teasers)))
    assert list(result.paragraphs) == NEWS
    assert [r.reason for r in result.removed if r.reason != "title"] == ["related"] * 4


def test_list_introduced_by_a_question_is_kept():
    box = ["WHAT WILL THE BARRIER DO?", "Close the harbor mouth during storm surges",
           "Stay open for fishing boats most of the year", "Track water quality with harbor sensors"]
    result = clean(article(insert={5: "\n\n".join(box)}))
    for line in box[1:]:
        assert line in result.paragraphs


def test_spec_lines_are_not_teasers():
    specs = ["Length: 420 metres", "Gates: 6 steel sector gates", "Cost: 48 million dollars", "Opening: 2029"]
    result = clean(article(insert={6: "\n\n".join(specs)}))
    for line in specs:
        assert line in result.paragraphs


def test_text_ads_under_an_ads_by_label_are_removed():
    ads = "Ads by Google\n\nCheap Flights To Anywhere\n\nCompare fares from hundreds of airlines"
    result = clean(article(insert={6: ads}))
    assert list(result.paragraphs) == NEWS
    assert {r.reason for r in result.removed if r.reason != "title"} == {"advertising"}


def test_links_on_a_listing_page_are_its_content():
    items = [Block(text=f"Harbor guide part {i}: tides, boats and barrier gates", position=i, link_chars=50)
             for i in range(8)]
    verdict = judge(items, title="Harbor guides", markup=True)
    assert len(verdict.kept) == 8


def test_prices_and_line_numbers_in_html_are_kept():
    blocks = [Block(text=t, position=i) for i, t in enumerate([*NEWS[:3], "$449.00", "12", *NEWS[3:]])]
    verdict = judge(blocks, title=HEADLINE, markup=True)
    assert [b.text for b in verdict.kept] == [b.text for b in blocks]


SHOP_COPY = ("Not sure which rain jacket fits? Get free shipping on orders over $80 when you shop with us, "
             "and send it back within 30 days if it does not fit.")


def test_promo_copy_that_is_most_of_an_html_page_is_kept():
    blocks = [Block(text="Rain Jackets", position=0, kind="heading"), Block(text=SHOP_COPY, position=1),
              Block(text="Waterproof shell with taped seams", position=2)]
    assert SHOP_COPY in [b.text for b in judge(blocks, title="Rain jackets", markup=True).kept]
    # The same copy inside an article is a small share of the page and still goes.
    article_blocks = [Block(text=t, position=i) for i, t in enumerate([*NEWS[:4], SHOP_COPY, *NEWS[4:]])]
    verdict = judge(article_blocks, title=HEADLINE, markup=True)
    assert [r.text for r in verdict.removed] == [SHOP_COPY]


def test_html_page_is_not_emptied_by_doubtful_removals():
    lines = ["Free shipping on orders over $50", "Get a free quote today", "Subscribe and save 10% on refills",
             "Advertisement", "Spring garden tools for small yards", "Hand trowels and pruning shears"]
    verdict = judge([Block(text=t, position=i) for i, t in enumerate(lines)], title="Garden tools", markup=True)
    # Doubtful promo lines that would take most of the page stay; the ad slot label still goes.
    assert [r.text for r in verdict.removed] == ["Advertisement"]
    assert "Free shipping on orders over $50" in [b.text for b in verdict.kept]


def test_html_is_extracted_as_trafilatura_default_without_links(monkeypatch):
    import trafilatura

    seen = {}
    real = trafilatura.bare_extraction

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", spy)
    body = "".join(f"<p>{p} <a href='/more'>More on the barrier</a></p>" for p in NEWS)
    result = clean(_html(body), content_type="html")
    # Links make trafilatura prune link-rich blocks that listings and forums are made of.
    assert seen["include_links"] is False
    assert all("More on the barrier" in p for p in result.paragraphs)


def test_html_text_loose_after_a_heading_is_kept():
    # No <p> around the text after the subheading: trafilatura leaves it as loose text.
    body = f"<p>{NEWS[0]}</p><p>{NEWS[1]}</p><h2>What the barrier will do</h2>{NEWS[2]}<br>{NEWS[4]}<p>{NEWS[5]}</p>"
    result = clean(_html(body), content_type="html")
    assert NEWS[2] in result.paragraphs
    assert NEWS[4] in result.paragraphs


def test_promo_words_that_run_through_an_html_page_are_its_subject():
    paras = [
        "Newsletters are the best channel writers have had, but the inbox is drowning in them.",
        "Readers subscribe to more newsletters than ever and open fewer of them each month.",
        "Our newsletter sign-up numbers grew every quarter while open rates slowly fell.",
        "Editors now test which subject lines make you open a newsletter in your inbox.",
        *NEWS[:6],
    ]
    verdict = judge([Block(text=t, position=i) for i, t in enumerate(paras)], title="The inbox is full",
                    markup=True)
    assert [b.text for b in verdict.kept] == paras
    # One such line in an article on another subject is an insert, and goes.
    insert = [*NEWS[:4], paras[3], *NEWS[4:]]
    verdict = judge([Block(text=t, position=i) for i, t in enumerate(insert)], title=HEADLINE, markup=True)
    assert [r.text for r in verdict.removed] == [paras[3]]


# The judge finds words with fast paths (an ASCII pattern, and words found in the lower-cased
# text); they must find exactly what the general pattern finds.
CASE_TRAPS = ["İstanbul İİ", "ΟΔΟΣ:ΑΒ and ΑΣ'Β", "Straße ǅemal ſo K", "don't U.S.-based e-mail’s 3.5", "ĲSSEL"]


def _assert_same_words(text: str) -> None:
    assert _words(text) == _WORD.findall(text)
    assert _lower_words(text) == [w.lower() for w in _WORD.findall(text)]
    assert _norm_title(text) == " ".join(_WORD.findall(text.lower()))


@pytest.mark.parametrize("text", CASE_TRAPS)
def test_fast_word_paths_find_the_same_words(text):
    _assert_same_words(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ΣσςΑΒİIiıſKkǅaB1_'’.-: \u0345\u00ad\u0307")) | st.characters(),
               max_size=24))
def test_fast_word_paths_find_the_same_words_in_any_text(text):
    _assert_same_words(text)
