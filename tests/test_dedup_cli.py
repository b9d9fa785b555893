"""``cleaner dedup``: story ids and copies per JSONL line, furniture learnt from the batch."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner

from cleaner.cli import main
from cleaner.stories import StoryIndex, synthetic
from cleaner.stories.batch import dedup_records

# Site furniture of a made-up outlet, longer than its stories, on every one of its pages.
_FURNITURE_HEAD = ("Get email notifications on Kavo Delmira daily! Your notification has been saved. "
                   "There was a problem saving your notification. Manage your notifications in settings.")
_FURNITURE_TAIL = ("Sign up for our morning newsletter and get the top local headlines, weather, "
                   "traffic and sports delivered to your inbox every weekday before seven.\n"
                   "Copyright Example Valley Media Group. All rights reserved. This material may not "
                   "be published, broadcast, rewritten or redistributed without permission.\n"
                   "Follow us on social media for breaking news alerts, photo galleries, videos and "
                   "community events from across the valley and the surrounding counties.")


def _run(tmp_path: Path, records: list[object], *args: str) -> tuple[int, list[dict], str]:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n",
                   encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(main, ["dedup", str(src), "-o", str(out), *args])
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    return res.exit_code, lines, res.output


def test_seeds_copies_and_bad_lines(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    names = list(seed_texts)
    first = seed_texts[names[0]]
    records: list[object] = [{"id": n, "text": t, "source": f"outlet{i}.example"} for i, (n, t) in enumerate(seed_texts.items())]
    records.insert(1, "{not json")
    records.append({"id": "copy", "text": "Advertisement\n\n" + first + "\n\nShare this story"})
    records.append({"id": "no-text"})
    code, lines, output = _run(tmp_path, records)
    assert code == 1
    assert [ln.get("id") for ln in lines] == [names[0], None, names[1], names[2], "copy", "no-text"]
    assert "error" in lines[1] and "line 2" in lines[1]["error"] and "error" in lines[5]
    good = [ln for ln in lines if "error" not in ln]
    assert len({ln["story_id"] for ln in good}) == 1
    assert [ln["duplicate_of"] for ln in good] == [None, None, None, names[0]]
    assert "line 2" in output and "6 records" in output and "2 failed" in output


def test_shared_site_furniture_does_not_make_different_stories_duplicates(tmp_path: Path) -> None:
    rng = random.Random(8)
    records = []
    for i in range(5):
        body = synthetic.report(rng, synthetic.make_event(rng), sentences=4)
        records.append({"id": f"p{i}", "source": "valley.example",
                        "text": f"{_FURNITURE_HEAD}\n\n{body}\n\n{_FURNITURE_TAIL}"})
    code, lines, _ = _run(tmp_path, records)
    assert code == 0
    assert all(ln["duplicate_of"] is None for ln in lines)
    assert len({ln["story_id"] for ln in lines}) == 5


def test_several_exact_copies_in_one_source_are_duplicates_not_furniture(tmp_path: Path) -> None:
    # Three or more copies of one page of a source must not teach the boilerplate model that
    # the whole story is recurring furniture (which turned every copy into an error).
    rng = random.Random(9)
    bodies = [synthetic.report(rng, synthetic.make_event(rng), sentences=6) for _ in range(4)]
    records = [{"id": f"p{i}", "source": "valley.example",
                "text": f"{_FURNITURE_HEAD}\n\n{b}\n\n{_FURNITURE_TAIL}"} for i, b in enumerate(bodies)]
    records += [dict(records[0], id=f"copy{i}") for i in range(3)]
    code, lines, _ = _run(tmp_path, records)
    assert code == 0, lines
    by_id = {ln["id"]: ln for ln in lines}
    assert all("error" not in ln for ln in lines)
    assert [by_id[f"copy{i}"]["duplicate_of"] for i in range(3)] == ["p0"] * 3
    assert by_id["p0"]["duplicate_of"] is None
    assert len({by_id[f"p{i}"]["story_id"] for i in range(4)}) == 4


def test_dedup_adds_to_a_persistent_index(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    db = tmp_path / "idx.db"
    items = list(seed_texts.items())
    code, first, _ = _run(tmp_path, [{"id": items[0][0], "text": items[0][1]}], "--index", str(db), "-q")
    assert code == 0
    code, second, out = _run(tmp_path, [{"id": n, "text": t} for n, t in items[1:]], "--index", str(db), "-q")
    assert code == 0 and out == ""
    assert {ln["story_id"] for ln in second} == {first[0]["story_id"]}
    with StoryIndex(str(db)) as idx:
        assert idx.count() == 3


def test_dedup_records_yields_in_input_order_with_errors() -> None:
    rows = list(dedup_records([{"id": "a", "text": "One two three."}, 5, {"id": "", "text": "x"},
                               {"id": "a", "text": "Again the same id."}]))
    assert [r.get("id") for r in rows] == ["a", None, "", "a"]
    assert "story_id" in rows[0] and all("error" in r for r in rows[1:3])
    assert rows[3] == rows[0]  # an id seen before: its stored verdict, nothing re-added


def test_dedup_reruns_over_a_persistent_index_give_the_stored_verdicts(tmp_path: Path,
                                                                        seed_texts: dict[str, str]) -> None:
    records = [{"id": name, "text": text} for name, text in sorted(seed_texts.items())]
    index = tmp_path / "idx.db"
    first = _run(tmp_path, records, "--index", str(index), "-q")
    again = _run(tmp_path, records, "--index", str(index), "-q")
    assert first[0] == again[0] == 0
    assert first[1] == again[1] and len({r["story_id"] for r in first[1]}) == 1
    with StoryIndex(str(index)) as idx:
        assert idx.count() == len(records)
    # The index may not be the output or the input: refused before anything is written.
    res = CliRunner().invoke(main, ["dedup", str(tmp_path / "in.jsonl"), "-o", str(index),
                                    "--index", str(index)])
    assert res.exit_code == 2 and "--index" in res.output
    with StoryIndex(str(index)) as idx:
        assert idx.count() == len(records)


def test_records_are_dated_by_published_else_date_else_the_page() -> None:
    from cleaner.stories.batch import clean_records

    body = "".join(f"<p>{p}</p>" for p in synthetic_paragraphs())
    page = (f"<html><head><meta property='article:published_time' content='2021-06-02'></head>"
            f"<body><article>{body}</article></body></html>")
    text = "\n\n".join(synthetic_paragraphs())
    records = [{"id": "p", "text": text, "published": "2021-06-01", "date": "1999-01-01"},
               {"id": "d", "text": text + " Again.", "date": "2021-06-03"},
               {"id": "h", "html": page}, {"id": "n", "text": text + " Once more."}]
    got = {rec["id"]: art["published"] for rec, art, _err in clean_records(records)}
    assert got == {"p": "2021-06-01", "d": "2021-06-03", "h": "2021-06-02", "n": None}


def synthetic_paragraphs() -> list[str]:
    rng = random.Random(3)
    return synthetic.report(rng, synthetic.make_event(rng)).split("\n\n")


def test_dedup_help_and_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["dedup", "--help"])
    assert res.exit_code == 0 and "INPUT.jsonl" in res.output and "duplicate_of" in res.output
    res = runner.invoke(main, ["dedup", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_dedup_reads_bytes_line_by_line_and_never_loses_its_input(tmp_path: Path) -> None:
    story = ("The council approved the Riverside library budget on Tuesday after Mayor Lena Okafor "
             "argued for two new branches and longer opening hours.")
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "bom", "text": story}).encode() + b"\n"
                    + b'{"id": "latin", "text": "caf\xe9 society"}\n'
                    + b'{"id": "bad\\ud800", "text": "' + story.encode() + b'"}\n'
                    + json.dumps({"id": "last", "text": story, "_line": 999}).encode() + b"\n")
    out = tmp_path / "new" / "dir" / "out.jsonl"  # missing folders are created
    res = CliRunner().invoke(main, ["dedup", str(src), "-o", str(out), "-q"])
    assert res.exit_code == 1, res.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in rows] == ["bom", None, "bad\ud800", "last"]
    assert "story_id" in rows[0] and rows[3]["duplicate_of"] == "bom"
    assert "not valid UTF-8" in rows[1]["error"] and "error" in rows[2]
    # Errors name the input line, counted by the reader (a record's own "_line" is data).
    assert "error: line 2 " in res.output and "error: line 3 " in res.output
    assert "line 999" not in res.output
    # The output may never be the input: refused before anything is opened for writing.
    before = src.read_bytes()
    res = CliRunner().invoke(main, ["dedup", str(src), "-o", str(src)])
    assert res.exit_code == 2 and "is the input file" in res.output
    assert src.read_bytes() == before
    res = CliRunner().invoke(main, ["dedup", str(src), "-o", str(tmp_path)])
    assert res.exit_code == 2 and "cannot write" in res.output
