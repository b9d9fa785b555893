"""`cleaner clean --dedup`: story_id and duplicate_of from the story library's batch dedup,
attached to the right lines, the same on resume, and what `cleaner dedup -` reads."""

from __future__ import annotations

import io
import json
import random
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from cleaner.batch import dedup_input, run_batch
from cleaner.cli import main

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
_LETTERS = "abcdefghijklmnoprstuvy"
#: Site furniture that recurs on every page of one host: story dedup learns and strips it.
FURNITURE = "Get the Morning Ledger newsletter in your inbox every single weekday morning for free."


def _word(rng: random.Random, capital: bool = False) -> str:
    w = "".join(rng.choice(_LETTERS) for _ in range(rng.randint(3, 9)))
    return w.capitalize() if capital else w


def story_paragraphs(seed: int, n: int = 6) -> list[str]:
    """An article of made-up words: articles from different seeds share no words."""
    rng = random.Random(seed)
    names = [f"{_word(rng, True)} {_word(rng, True)}" for _ in range(3)]
    place = _word(rng, True)
    paras = []
    for k in range(n):
        words = [_word(rng) for _ in range(rng.randint(30, 45))]
        words.insert(3, names[k % 3])
        words.insert(12, f"in {place}")
        words.insert(20, str(rng.randint(10, 9999)))
        paras.append(" ".join(words).capitalize() + ".")
    return paras


def page(title: str, paras: list[str], furniture: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paras) + (f"<p>{furniture}</p>" if furniture else "")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>Contact us</footer></body></html>")


def _warc(path: Path, records: list[tuple[str, str]]) -> None:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, html in records:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(html.encode()),
                                                          http_headers=headers))


def build_corpus(root: Path) -> Path:
    """Pages, a JSONL export and a WARC with reprints, a truncated copy, a follow-up of one
    story, furniture that recurs on one host, and a bad file."""
    stories = {i: story_paragraphs(i) for i in range(8)}
    (root / "alpha").mkdir(parents=True)
    (root / "beta").mkdir()
    for i in range(5):
        (root / "alpha" / f"story{i}.html").write_text(page(f"Alpha story {i}", stories[i]), encoding="utf-8")
    # A reprint of story 0 and a truncated reprint of story 3 on another site.
    (root / "beta" / "reprint0.html").write_text(page("Reprinted", stories[0]), encoding="utf-8")
    (root / "beta" / "short3.html").write_text(page("Short", stories[3][:4]), encoding="utf-8")
    # A follow-up: story 1's names and place with new sentences and one shared paragraph.
    follow = story_paragraphs(101, 5)
    (root / "beta" / "follow1.html").write_text(page("Follow-up", [stories[1][0], *follow]), encoding="utf-8")
    (root / "beta" / "broken.html").write_bytes(PNG)
    with open(root / "export.jsonl", "w", encoding="utf-8") as fh:
        for i in (5, 6):
            fh.write(json.dumps({"id": f"exp-{i}", "url": f"https://wire.example/{i}",
                                 "html": page(f"Wire {i}", stories[i])}) + "\n")
        fh.write(json.dumps({"id": "exp-copy-2", "url": "https://wire.example/c2", "text": "\n\n".join(stories[2])}) + "\n")
    _warc(root / "crawl.warc.gz", [(f"https://ledger.example/{i}", page(f"Ledger {i}", stories[i], FURNITURE))
                                   for i in (7, 4, 6)] + [("https://ledger.example/x", page("Ledger x", stories[7][:5], FURNITURE))])
    return root


def stories_of(lines: list[dict]) -> tuple[set[frozenset[str]], dict[str, str | None]]:
    """The story partition (as sets of ids, so random story ids compare) and duplicate_of."""
    groups: dict[str, set[str]] = defaultdict(set)
    for d in lines:
        if d.get("story_id"):
            groups[d["story_id"]].add(d["id"])
    return {frozenset(g) for g in groups.values()}, {d["id"]: d.get("duplicate_of") for d in lines}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("corpus") / "in")


@pytest.fixture(scope="module")
def dedup_run(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("dedup") / "out.jsonl"
    result = CliRunner().invoke(main, ["clean", str(corpus), "-o", str(out), "--dedup", "--jobs", "2", "-q"])
    assert result.exit_code == 1, result.output  # broken.html
    return [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]


def test_dedup_marks_reprints_as_duplicates_of_the_first_copy(dedup_run: list[dict]) -> None:
    by_id = {d["id"]: d for d in dedup_run}
    assert by_id["beta/reprint0.html"]["duplicate_of"] == "alpha/story0.html"
    assert by_id["beta/reprint0.html"]["story_id"] == by_id["alpha/story0.html"]["story_id"]
    assert by_id["alpha/story2.html"]["duplicate_of"] == "exp-copy-2"  # the export comes first
    assert by_id["alpha/story0.html"]["duplicate_of"] is None
    distinct = {by_id[f"alpha/story{i}.html"]["story_id"] for i in range(5)}
    assert len(distinct) == 5  # unrelated stories stay apart
    assert by_id["beta/broken.html"]["error"].startswith("BinaryInputError")
    assert by_id["beta/broken.html"]["story_id"] is None


def test_dedup_gives_what_the_story_library_gives_for_the_same_records(corpus: Path, dedup_run: list[dict],
                                                                      tmp_path: Path) -> None:
    from cleaner.stories.batch import dedup_records

    plain = tmp_path / "plain.jsonl"
    run_batch([corpus], str(plain), jobs=1, progress=False)
    lines = [json.loads(x) for x in plain.read_text(encoding="utf-8").splitlines()]
    assert [d["id"] for d in lines] == [d["id"] for d in dedup_run]
    verdicts = {v["id"]: v for v in dedup_records(dedup_input(d) for d in lines if d["error"] is None)}
    want = stories_of([{**d, **verdicts.get(d["id"], {})} for d in lines])
    assert stories_of(dedup_run) == want


def test_clean_output_piped_to_cleaner_dedup_gives_the_same_stories(dedup_run: list[dict], tmp_path: Path) -> None:
    import cleaner.cli as cli

    if "dedup" not in cli.main.commands:
        pytest.skip("`cleaner dedup` is not available in this checkout")
    stream = "".join(json.dumps(dedup_input(d)) + "\n" for d in dedup_run if d["error"] is None)
    result = CliRunner().invoke(main, ["dedup", "-"], input=stream)
    assert result.exit_code == 0, result.output
    piped = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    ok = [d for d in dedup_run if d["error"] is None]
    assert stories_of(piped) == stories_of(ok)


def test_resume_with_dedup_continues_the_stories(corpus: Path, dedup_run: list[dict], tmp_path: Path) -> None:
    full = [json.dumps(d, ensure_ascii=False) for d in dedup_run]
    part = tmp_path / "part.jsonl"
    part.write_text("\n".join(full[:7]) + "\n" + full[7][:30], encoding="utf-8")
    summary = run_batch([corpus], str(part), jobs=1, resume=True, dedup=True, progress=False)
    assert summary.skipped == 7
    resumed = [json.loads(x) for x in part.read_text(encoding="utf-8").splitlines()]
    assert [d["id"] for d in resumed] == [d["id"] for d in dedup_run]
    assert stories_of(resumed) == stories_of(dedup_run)
