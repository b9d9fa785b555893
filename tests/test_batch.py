"""`cleaner clean`: folders, files and JSONL in; JSONL or a .txt tree out; error lines,
exit codes, ordered parallel output and resume (including a real kill -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cleaner.batch import (
    MANIFEST_NAME,
    Record,
    UsageError,
    clean_record,
    discover,
    run_batch,
    safe_name,
    scan_jsonl_ids,
)
from cleaner.cli import main

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
_TOPICS = ["harbour", "council", "river", "orchard", "railway", "festival", "library", "bridge"]
_NAMES = ["Marta Olsen", "Ivo Petrov", "Ana Ruiz", "Tomas Berg", "Lea Novak", "Omar Haddad"]


def article_html(i: int, paragraphs: int = 5) -> str:
    """A small news page with navigation, a cookie banner and a footer around the story."""
    topic, name = _TOPICS[i % len(_TOPICS)], _NAMES[i % len(_NAMES)]
    body = "\n".join(
        f"<p>Paragraph {k} of report {i}: {name} said the {topic} project in district {i % 17} "
        f"would need {k + 3} more months, after residents raised {i * 7 + k} questions at the meeting "
        f"on Tuesday about costs, noise and the timetable for the work.</p>"
        for k in range(paragraphs)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Report {i} on the {topic}</title></head>"
        f"<body><nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/sport'>Sport</a></nav>"
        f"<div class='cookie'>We use cookies to improve your experience.</div>"
        f"<article><h1>Report {i} on the {topic}</h1>{body}</article>"
        f"<footer>Copyright Example Media. All rights reserved.</footer></body></html>"
    )


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture()
def mixed_tree(tmp_path: Path) -> Path:
    """A folder with good pages, a text file, a JSONL export and bad inputs."""
    root = tmp_path / "in"
    (root / "news" / "deep").mkdir(parents=True)
    (root / "news" / "a.html").write_text(article_html(1), encoding="utf-8")
    (root / "news" / "deep" / "b.htm").write_text(article_html(2), encoding="utf-8")
    (root / "story.txt").write_text(
        "A plain text story.\n\nThe council met on Monday and agreed the budget for the new library.\n",
        encoding="utf-8")
    (root / "image.html").write_bytes(PNG)
    (root / "empty.txt").write_bytes(b"   \n")
    (root / "notes.md").write_text("not an input type", encoding="utf-8")
    (root / ".hidden.html").write_text(article_html(3), encoding="utf-8")
    with open(root / "export.jsonl", "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "x-1", "html": article_html(4), "url": "https://example.org/x1"}) + "\n")
        fh.write("{not json\n")
        fh.write("\n")
        fh.write(json.dumps({"id": "x-2", "text": "Plain text from an export.\n\nSecond paragraph."}) + "\n")
        fh.write(json.dumps({"text": "no id"}) + "\n")
    return root


def test_discover_walks_sorted_and_names_files_relative_to_the_root(mixed_tree: Path) -> None:
    other: list[str] = []
    names = [s.name for s in discover([mixed_tree], skipped=other)]
    # A folder's own files (sorted) come before its sub-folders (sorted): os.walk order.
    assert names == ["empty.txt", "export.jsonl", "image.html", "story.txt", "news/a.html", "news/deep/b.htm"]
    assert [Path(p).name for p in other] == ["notes.md"]


def test_discover_prefixes_ids_with_the_root_when_several_paths_are_given(mixed_tree: Path) -> None:
    names = [s.name for s in discover([mixed_tree / "news", mixed_tree / "story.txt"])]
    assert names == ["news/a.html", "news/deep/b.htm", "story.txt"]
    (mixed_tree / "other" / "news").mkdir(parents=True)
    (mixed_tree / "other" / "news" / "a.html").write_text("x", encoding="utf-8")
    names = [s.name for s in discover([mixed_tree / "news", mixed_tree / "other" / "news"])]
    assert names[0].endswith("in/news/a.html") and names[-1].endswith("in/other/news/a.html")


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: (p / "x.pdf").write_bytes(b"%PDF") and p / "x.pdf", "cannot read"),
])
def test_discover_refuses_unusable_paths(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        list(discover([make(tmp_path)]))


def test_clean_writes_a_line_per_article_and_an_error_line_per_bad_input(mixed_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["clean", str(mixed_tree), "-o", str(out), "--jobs", "1"])
    assert result.exit_code == 1, result.output  # some inputs failed
    lines = read_lines(out)
    by_id = {d["id"]: d for d in lines}
    assert [d["id"] for d in lines] == ["empty.txt", "x-1", "export.jsonl:2", "x-2", "export.jsonl:5",
                                         "image.html", "story.txt", "news/a.html", "news/deep/b.htm"]
    for d in lines:
        assert set(d) == {"id", "url", "source", "published", "title", "text", "removed", "error"}
    page = by_id["news/a.html"]
    assert page["error"] is None and "Paragraph 0 of report 1" in page["text"]
    assert "cookies" not in page["text"] and "All rights reserved" not in page["text"]
    assert page["title"] == "Report 1 on the council"
    assert by_id["x-1"]["url"] == "https://example.org/x1" and "report 4" in by_id["x-1"]["text"]
    assert by_id["image.html"]["error"].startswith("BinaryInputError")
    assert by_id["empty.txt"]["error"].startswith("EmptyInputError")
    assert by_id["export.jsonl:2"]["error"].startswith("bad JSONL line")
    assert "'id'" in by_id["export.jsonl:5"]["error"]
    assert "Second paragraph." in by_id["x-2"]["text"]
    summary = result.stderr.strip().splitlines()
    assert summary[0].startswith("9 articles: 5 ok, 4 failed")
    assert "1 files of other types passed over" in summary[0]


def test_exit_code_is_zero_when_every_article_is_clean(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"p{i}.html").write_text(article_html(i), encoding="utf-8")
    result = CliRunner().invoke(main, ["clean", str(tmp_path / "in"), "-o", str(tmp_path / "o.jsonl"), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # --quiet: no bar, no summary
    assert len(read_lines(tmp_path / "o.jsonl")) == 3


@pytest.mark.parametrize("args, message", [
    (["clean", "MISSING", "-o", "o.jsonl"], "does not exist"),
    (["clean", "IN", "-o", "-", "--resume"], "--resume needs an output file"),
    (["clean", "IN", "-o", "-", "--format", "txt"], "writes a folder"),
    (["clean", "IN", "-o", "o.jsonl", "--jobs", "0"], "0"),
    (["clean", "IN"], "Missing option"),
])
def test_usage_errors_exit_2_and_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "IN").mkdir()
    (tmp_path / "IN" / "p.html").write_text(article_html(0), encoding="utf-8")
    args = [str(tmp_path / a) if a in ("IN", "MISSING", "o.jsonl") else a for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "o.jsonl").exists()


def test_dash_writes_jsonl_to_stdout_and_the_summary_to_stderr(tmp_path: Path) -> None:
    page = tmp_path / "one.html"
    page.write_text(article_html(5), encoding="utf-8")
    result = CliRunner().invoke(main, ["clean", str(page), "-o", "-"])
    assert result.exit_code == 0
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["id"] == "one.html" and line["error"] is None
    assert "1 articles: 1 ok, 0 failed" in result.stderr


def test_two_workers_write_the_same_lines_in_the_same_order_as_one(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(30):
        (src / f"p{i:03d}.html").write_text(article_html(i), encoding="utf-8")
    (src / "p015.html").write_bytes(PNG)
    one = run_batch([src], str(tmp_path / "one.jsonl"), jobs=1, progress=False)
    two = run_batch([src], str(tmp_path / "two.jsonl"), jobs=2, progress=False)
    assert (one.ok, one.failed) == (two.ok, two.failed) == (29, 1)
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()


def test_txt_format_mirrors_the_input_tree_with_a_manifest(mixed_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "txt"
    result = CliRunner().invoke(main, ["clean", str(mixed_tree), "-o", str(out), "--format", "txt", "-q"])
    assert result.exit_code == 1
    assert "Paragraph 2 of report 2" in (out / "news" / "deep" / "b.htm.txt").read_text(encoding="utf-8")
    assert (out / "story.txt").exists() and (out / "export" / "x-1.txt").exists()
    assert not (out / "image.html.txt").exists()
    manifest = read_lines(out / MANIFEST_NAME)
    assert len(manifest) == 9
    assert {m["id"] for m in manifest if m["error"]} == {"empty.txt", "export.jsonl:2", "export.jsonl:5", "image.html"}
    assert not list(out.rglob("*.part"))
    # Resume on a complete folder does nothing and keeps the manifest as it is.
    again = run_batch([mixed_tree], str(out), fmt="txt", resume=True, progress=False)
    assert (again.articles, again.skipped) == (0, 9)
    assert len(read_lines(out / MANIFEST_NAME)) == 9


def test_no_clean_only_decodes_the_page(tmp_path: Path) -> None:
    page = tmp_path / "latin.html"
    page.write_bytes("<html><head><meta charset='iso-8859-1'></head><body><p>Café déjà vu</p></body></html>"
                     .encode("latin-1"))
    line = clean_record(next(iter(_records(page))), do_clean=False)
    assert line["error"] is None and "Café déjà vu" in line["text"] and line["text"].startswith("<html>")


def _records(path: Path) -> list[Record]:
    from cleaner.batch import iter_records

    return list(iter_records(discover([path])))


def test_a_dangling_link_becomes_an_unreadable_file_line(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "gone.html").symlink_to(tmp_path / "nowhere.html")
    (tmp_path / "in" / "ok.html").write_text(article_html(3), encoding="utf-8")
    summary = run_batch([tmp_path / "in"], str(tmp_path / "o.jsonl"), jobs=1, progress=False)
    gone, ok = read_lines(tmp_path / "o.jsonl")
    assert gone["error"].startswith("unreadable file: FileNotFoundError") and ok["error"] is None
    assert (summary.ok, summary.failed) == (1, 1)


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cleaner.batch import _progress_bar

    sources = list(discover([ROOT / "seeds"]))
    assert _progress_bar(sources, None) is None  # stderr is not a terminal under pytest
    assert _progress_bar(sources, False) is None
    bar = _progress_bar(sources, True)
    assert bar is not None and bar.total == sum(s.size for s in sources)
    bar.update(bar.total)
    bar.close()
    assert "100%" in capsys.readouterr().err


def test_output_to_a_device_such_as_dev_null_works(tmp_path: Path) -> None:
    (tmp_path / "p.html").write_text(article_html(7), encoding="utf-8")
    result = CliRunner().invoke(main, ["clean", str(tmp_path / "p.html"), "-o", os.devnull])
    assert result.exit_code == 0, result.output  # no fsync on a character device
    assert "1 articles: 1 ok" in result.stderr


def test_safe_name_keeps_distinct_ids_distinct() -> None:
    a, b = safe_name("<urn:uuid:1/2>"), safe_name("<urn:uuid:1_2>")
    assert a != b and "/" not in a and ":" not in a
    assert safe_name("plain-id_1.x") == "plain-id_1.x"
    assert len(safe_name("x" * 1000)) < 140


def test_resume_truncates_a_torn_last_line_and_finishes_the_batch(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        (src / f"p{i:02d}.html").write_text(article_html(i), encoding="utf-8")
    full = tmp_path / "full.jsonl"
    run_batch([src], str(full), jobs=1, progress=False)
    lines = full.read_bytes().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_bytes(b"".join(lines[:5]) + lines[5][:40])  # a kill in the middle of line 6
    ids, cut = scan_jsonl_ids(part, repair=False)
    assert len(ids) == 5 and cut == 40
    summary = run_batch([src], str(part), jobs=2, resume=True, progress=False)
    assert (summary.skipped, summary.articles, summary.repaired_bytes) == (5, 7, 40)
    assert part.read_bytes() == full.read_bytes()


@pytest.mark.slow
def test_kill_9_mid_batch_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for d in range(4):
        (src / f"d{d}").mkdir(parents=True)
    for i in range(400):
        (src / f"d{i % 4}" / f"p{i:03d}.html").write_text(article_html(i, paragraphs=4 + i % 5), encoding="utf-8")
    (src / "d1" / "zz-bad.html").write_bytes(PNG)
    cmd = [sys.executable, "-m", "cleaner", "clean", str(src), "--jobs", "2", "-q", "-o"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    killed = tmp_path / "killed.jsonl"
    proc = subprocess.Popen(cmd + [str(killed)], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if killed.exists() and killed.stat().st_size and killed.read_bytes().count(b"\n") >= 60:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the batch finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, as `kill -9 PID` does
        proc.wait(timeout=10)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # workers notice their parent is gone; make sure
        except ProcessLookupError:
            pass
    partial = killed.read_bytes().count(b"\n")
    assert 0 < partial < 401

    resumed = subprocess.run(cmd + [str(killed), "--resume"], env=env, capture_output=True, timeout=120)
    assert resumed.returncode == 1  # the PNG fails, in both runs
    clean_run = tmp_path / "clean.jsonl"
    uninterrupted = subprocess.run(cmd + [str(clean_run)], env=env, capture_output=True, timeout=120)
    assert uninterrupted.returncode == 1

    got, want = killed.read_bytes(), clean_run.read_bytes()
    assert got.endswith(b"\n")
    got_ids = [json.loads(x)["id"] for x in got.splitlines()]
    assert len(got_ids) == len(set(got_ids)) == 401  # nothing lost, nothing twice
    assert sorted(got.splitlines()) == sorted(want.splitlines())
    assert got == want  # ordered output: even the order is the same


def test_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(400):
        (src / f"p{i:03d}.html").write_text(article_html(i, paragraphs=8), encoding="utf-8")
    cmd = [sys.executable, "-m", "cleaner", "clean", str(src), "--jobs", "2", "-q", "-o", str(tmp_path / "o.jsonl")]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = _children(proc.pid)
            time.sleep(0.05)
        assert len(workers) >= 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
def test_a_worker_killed_mid_batch_does_not_stop_or_change_the_batch(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(400):
        (src / f"p{i:03d}.html").write_text(article_html(i, paragraphs=8), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    cmd = [sys.executable, "-m", "cleaner", "clean", str(src), "--jobs", "2", "-q", "-o", str(out)]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 20 and _children(proc.pid):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the batch finished before a worker could be killed"
        os.kill(_children(proc.pid)[0], signal.SIGKILL)  # as the OOM killer would
        assert proc.wait(timeout=120) == 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    reference = tmp_path / "ref.jsonl"
    run_batch([src], str(reference), jobs=1, progress=False)
    assert out.read_bytes() == reference.read_bytes()


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
