"""BoilerplateModel learns a source's recurring furniture from a batch, and nothing else."""

from __future__ import annotations

import pytest

from cleaner import BoilerplateModel, InvalidArgumentError

EVENTS = [
    ("Flood waters rose along the river on Tuesday as crews stacked sandbags near the bridge.",
     "The mayor said shelters at two schools were open to displaced families."),
    ("A warehouse fire burned for six hours before firefighters brought it under control.",
     "Investigators have not said what started the blaze at the storage company."),
    ("The city council approved a new budget that adds forty officers to the police force.",
     "Opponents argued the money should go to youth programmes instead."),
    ("Two people were hurt when a bus slid off an icy road outside the village early Friday.",
     "The driver told police the brakes failed on the steep hill."),
]
AUTHORS = ["Jane Doe", "Mark Roe", "Ana Lima", "Tom Bell"]


def _article(i: int, site: str = "Example News") -> str:
    first, second = EVENTS[i]
    return "\n\n".join([
        f"Close Get email notifications on {AUTHORS[i]} daily!",
        first,
        second,
        f"Copyright 2017 {site}. All rights reserved.",
    ])


@pytest.fixture()
def model() -> BoilerplateModel:
    return BoilerplateModel.fit(("example.com", _article(i)) for i in range(4))


def test_recurring_line_with_varying_author_name_is_boilerplate(model):
    assert model.is_boilerplate("example.com", "Close Get email notifications on Someone Else daily!")


def test_recurring_copyright_line_is_boilerplate(model):
    assert model.is_boilerplate("example.com", "Copyright 2018 Example News. All rights reserved.")
    assert model.score("example.com", "Copyright 2017 Example News. All rights reserved.") == 1.0


def test_story_lines_are_not_boilerplate(model):
    for first, second in EVENTS:
        assert not model.is_boilerplate("example.com", first)
        assert not model.is_boilerplate("example.com", second)


def test_other_sources_learn_nothing_from_this_one(model):
    assert model.score("other.org", "Copyright 2017 Example News. All rights reserved.") == 0.0


def test_line_in_too_few_articles_is_not_boilerplate():
    m = BoilerplateModel.fit([("s", _article(0)), ("s", _article(1)), ("s", "Unrelated text about gardens.")])
    assert not m.is_boilerplate("s", "Close Get email notifications on Jane Doe daily!")


def test_strip_removes_furniture_and_keeps_paragraphs(model):
    stripped = model.strip("example.com", _article(2))
    assert stripped == "\n\n".join(EVENTS[2])


def test_html_articles_are_learned_from_their_extracted_text():
    def page(i: int) -> str:
        first, second = EVENTS[i]
        body = "".join(f"<p>{t} {t}</p>" for t in (first, second))
        return (f"<html><head><title>Story {i}</title></head><body><article><h1>Story {i}</h1>{body}"
                f"<p>Sign up for our morning newsletter and never miss a local headline again.</p>"
                f"</article></body></html>")
    m = BoilerplateModel.fit(("s", page(i)) for i in range(4))
    assert m.docs("s") == 4
    assert m.is_boilerplate("s", "Sign up for our morning newsletter and never miss a local headline again.")


def test_text_declared_as_text_is_not_parsed_as_html(caplog):
    # A scrape whose first paragraph kept its <p> tag is text: counted line by line, with no
    # trip through the HTML extractor (which would log errors and see other lines).
    furniture = "Sign up for our morning newsletter and never miss a local headline again."
    m = BoilerplateModel()
    for i in range(4):
        first, second = EVENTS[i]
        m.add("s", f"<p>{first}</p>\n\n{second}\n\n{furniture}", "text")
    assert m.docs("s") == 4 and m.is_boilerplate("s", furniture)
    assert m.score("s", f"<p>{EVENTS[0][0]}</p>") < 0.5
    assert not [r for r in caplog.records if r.name.startswith("trafilatura")]
    with pytest.raises(InvalidArgumentError, match="content_type"):
        m.add("s", "text", "pdf")


def test_json_round_trip_keeps_judgements(model):
    again = BoilerplateModel.from_json(model.to_json())
    line = "Copyright 2017 Example News. All rights reserved."
    assert again.score("example.com", line) == model.score("example.com", line)
    assert again.docs("example.com") == 4


def test_unreadable_articles_are_skipped_not_fatal():
    m = BoilerplateModel.fit([("s", ""), ("s", "   "), ("s", _article(0))])
    assert m.docs("s") == 1


@pytest.mark.parametrize("bad", ["not json", '{"version": 9}', '{"version": 1}'])
def test_bad_serialised_model_is_refused(bad):
    with pytest.raises(InvalidArgumentError):
        BoilerplateModel.from_json(bad)


@pytest.mark.parametrize(("kwargs", "match"), [({"min_docs": 1}, "min_docs"), ({"min_share": 2.0}, "min_share")])
def test_bad_parameters_are_refused(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        BoilerplateModel(**kwargs)


def test_fit_refuses_items_that_are_not_pairs():
    with pytest.raises(InvalidArgumentError, match="pairs"):
        BoilerplateModel.fit(["just a string"])  # type: ignore[list-item]


def test_copies_of_one_article_count_once():
    # Four copies of one article are one article: none of its lines is furniture.
    text = _article(0)
    model = BoilerplateModel.fit([("example.com", text)] * 4)
    assert model.docs("example.com") == 1
    assert not model.is_boilerplate("example.com", EVENTS[0][0])
