"""The evaluation command on a tiny synthetic dataset written to tmp_path."""

from __future__ import annotations

import gzip
import json

import pytest

from cleaner import eval as ev

NEWS = [
    "The river authority opened the new flood gates on Monday after three years of construction work "
    "along the northern bank of the river, officials said at a ceremony in the town square.",
    "Engineers said the gates can hold back water two metres higher than the record flood of 1998, "
    "which destroyed dozens of homes and the old stone bridge near the market.",
    "Local shop owners welcomed the project but said the construction had kept customers away from "
    "the riverside streets for most of the last two summers.",
    "The authority plans to test the gates every spring and publish the results of each test on its "
    "website, a spokesman for the river authority said on Monday.",
]


def _write_data(root):
    wcxb = root / "wcxb-dev"
    (wcxb / "html").mkdir(parents=True)
    (wcxb / "ground-truth").mkdir()
    promo = "Sign up for our newsletter to get the latest stories delivered to your inbox."
    body = "".join(f"<p>{p}</p>" for p in NEWS[:2]) + f"<p>{promo}</p>" + "".join(f"<p>{p}</p>" for p in NEWS[2:])
    html = (f"<html><head><title>Flood gates open</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>Flood gates open</h1>{body}</article></body></html>")
    for page_id, page_type in (("0001", "article"), ("0002", "service")):
        with gzip.open(wcxb / "html" / f"{page_id}.html.gz", "wb") as fh:
            fh.write(html.encode("utf-8"))
        gt = {"url": f"https://example.org/{page_id}", "_internal": {"page_type": {"primary": page_type}},
              "ground_truth": {"main_content": "\n\n".join(NEWS), "with": ["the new flood gates"],
                               "without": ["sign up for our newsletter", "Home"]}}
        (wcxb / "ground-truth" / f"{page_id}.json").write_text(json.dumps(gt), encoding="utf-8")
    # A page without ground truth is skipped.
    (wcxb / "ground-truth" / "0003.json").write_text(json.dumps({"ground_truth": {"main_content": ""}}))
    promo_dir = root / "promo-text-dev"
    promo_dir.mkdir()
    paragraphs = ([{"text": "Flood gates open on the northern bank", "label": "headline"},
                   {"text": "By Jane Marsh", "label": "supplemental"}]
                  + [{"text": p, "label": "content"} for p in NEWS[:2]]
                  + [{"text": "Advertisement", "label": "other"}]
                  + [{"text": p, "label": "content"} for p in NEWS[2:]])
    (promo_dir / "articles.jsonl").write_text(json.dumps({"id": "a.html", "url": None, "paragraphs": paragraphs}) + "\n")


def test_token_scores_match_the_bag_of_words_definition():
    assert ev.token_prf("a b c", "a b c") == (1.0, 1.0, 1.0)
    p, r, f = ev.token_prf("a a b x", "a b c d")
    assert (p, r) == (0.5, 0.5) and f == pytest.approx(0.5)
    assert ev.token_prf("", "a b") == (0.0, 0.0, 0.0)


def test_kept_flags_match_outputs_back_in_order():
    assert ev.kept_flags(["a", "b", "a", "c"], ["a", "c"]) == [True, False, False, True]


def test_promo_eval_counts_removals(tmp_path):
    _write_data(tmp_path)
    res = ev.eval_promo(tmp_path / "promo-text-dev" / "articles.jsonl")
    assert res.pages == 1
    assert res.removed_right == 2  # the byline and the ad slot
    assert res.removed_wrong == 0 and res.missed == 0
    assert res.precision == 1.0 and res.recall == 1.0 and res.kept_share == 1.0


def test_wcxb_eval_scores_every_system(tmp_path):
    _write_data(tmp_path)
    res = ev.eval_wcxb(tmp_path / "wcxb-dev", systems=["trafilatura default", "cleaner balanced"])
    assert res["all"]["cleaner balanced"].pages == 2
    assert res["article"]["cleaner balanced"].pages == 1
    ours = res["all"]["cleaner balanced"]
    assert ours.f / ours.pages > 0.9
    assert ours.promo_total == 2 and ours.promo_leaked == 0


def test_main_prints_both_tables(tmp_path, capsys):
    _write_data(tmp_path)
    assert ev.main([str(tmp_path), "--systems", "trafilatura default,cleaner balanced"]) == 0
    out = capsys.readouterr().out
    assert "## wcxb-dev: all pages" in out and "## wcxb-dev: article pages" in out
    assert "## promo-text-dev" in out
    assert "| cleaner balanced | 2 |" in out


def test_main_refuses_a_directory_without_data(tmp_path, capsys):
    assert ev.main([str(tmp_path)]) == 2
    assert ev.main([str(tmp_path / "missing")]) == 2
    assert "error:" in capsys.readouterr().err


def test_system_names_are_the_ones_the_tables_use():
    assert tuple(ev._systems()) == ev.SYSTEMS


@pytest.mark.parametrize("args, message", [(["--systems", "nonsense"], "unknown system"),
                                           (["--limit", "0"], None), (["--show-errors", "-1"], None)])
def test_bad_options_are_usage_errors(tmp_path, capsys, args, message):
    try:
        code = ev.main([str(tmp_path), *args])
    except SystemExit as exc:  # argparse's own usage error
        code = exc.code
    assert code == 2
    if message:
        assert message in capsys.readouterr().err


def test_corrupt_data_files_are_a_one_line_error(tmp_path, capsys):
    wcxb = tmp_path / "wcxb-dev"
    (wcxb / "ground-truth").mkdir(parents=True)
    (wcxb / "html").mkdir()
    (wcxb / "ground-truth" / "0001.json").write_text('{"ground_truth": {"main_content": "Some text here."}}')
    (wcxb / "html" / "0001.html.gz").write_bytes(b"not gzip at all")
    assert ev.main([str(tmp_path), "--only", "wcxb"]) == 2
    err = capsys.readouterr().err
    assert "0001.html.gz" in err and "Traceback" not in err
    (wcxb / "ground-truth" / "0001.json").write_text("{broken")
    assert ev.main([str(tmp_path), "--only", "wcxb"]) == 2
    assert "0001.json" in capsys.readouterr().err
    promo = tmp_path / "promo-text-dev"
    promo.mkdir()
    (promo / "articles.jsonl").write_text('{"no paragraphs": 1}\n')
    assert ev.main([str(tmp_path), "--only", "promo"]) == 2
    assert "line 1" in capsys.readouterr().err


def test_pages_and_ground_truths_without_their_pair_are_named_not_silently_skipped(tmp_path, capsys):
    _write_data(tmp_path)
    wcxb = tmp_path / "wcxb-dev"
    with gzip.open(wcxb / "html" / "0099.html.gz", "wb") as fh:
        fh.write(b"<html><body><p>A page nobody labelled.</p></body></html>")
    (wcxb / "ground-truth" / "0098.json").write_text(json.dumps({"ground_truth": {"main_content": "Text."}}))
    pages = list(ev.load_wcxb(wcxb))
    err = capsys.readouterr().err
    assert "1 page(s)" in err and "0099.html.gz" in err
    assert "0098.json" in err and "skipped" in err
    assert {p.id for p in pages}.isdisjoint({"0098", "0099"}) and pages
