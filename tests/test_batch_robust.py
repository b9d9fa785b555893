"""`cleaner clean` against hostile usage: an output that overlaps the input, output paths
that cannot be written, too many workers. Each is a clear one-line error with the right
exit code, never a traceback, and no input is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_batch import article_html, read_lines

from cleaner.batch import max_jobs, run_batch
from cleaner.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`cleaner clean ...` in a real process, as a user runs it."""
    cmd = [sys.executable, "-m", "cleaner", "clean", *map(str, args)]
    return subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def one_line_error(result: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    """A folder with two pages and a JSONL export."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "a.html").write_text(article_html(1), encoding="utf-8")
    (root / "b.html").write_text(article_html(2), encoding="utf-8")
    (root / "export.jsonl").write_text(json.dumps({"id": "e1", "html": article_html(3)}) + "\n", encoding="utf-8")
    return root


# --------------------------------------------------------------------------- output overlapping input


def test_output_naming_the_input_file_is_refused_and_the_input_kept(site: Path) -> None:
    export = site / "export.jsonl"
    before = export.read_bytes()
    for out in (export, site / ".." / site.name / "export.jsonl"):
        one_line_error(run_cli(export, "-o", out), 2, "is the input file")
    assert export.read_bytes() == before


def test_output_reaching_the_input_through_a_link_is_refused(site: Path, tmp_path: Path) -> None:
    export = site / "export.jsonl"
    before = export.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(export)
    os.link(export, tmp_path / "hard.jsonl")
    for out in ("link.jsonl", "hard.jsonl"):
        result = CliRunner().invoke(main, ["clean", str(export), "-o", str(tmp_path / out)])
        assert result.exit_code == 2 and "is the input file" in result.output
    assert export.read_bytes() == before


@pytest.mark.parametrize("out, fmt", [("site/out.jsonl", "jsonl"), ("site/deep/er/out.jsonl", "jsonl"),
                                      ("site/txt", "txt"), ("site", "txt")])
def test_output_inside_an_input_folder_is_refused(site: Path, tmp_path: Path, out: str, fmt: str) -> None:
    listing = sorted(p.relative_to(site) for p in site.rglob("*"))
    # Run twice: before the fix, the second run read the first one's output back as input.
    for _ in range(2):
        one_line_error(run_cli(site, "-o", tmp_path / out, "--format", fmt), 2, "is inside the input folder")
    assert sorted(p.relative_to(site) for p in site.rglob("*")) == listing


def test_an_input_inside_the_txt_output_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    page = out / "story.html"
    page.write_text(article_html(4), encoding="utf-8")
    one_line_error(run_cli(page, "-o", out, "--format", "txt"), 2, "is inside the output folder")
    assert sorted(p.name for p in out.iterdir()) == ["story.html"]


def test_an_output_beside_the_input_folder_is_fine(site: Path, tmp_path: Path) -> None:
    # A name that starts like the input folder's is not inside it.
    summary = run_batch([site], str(tmp_path / "site-clean.jsonl"), jobs=1, progress=False)
    assert (summary.ok, summary.failed) == (3, 0)


# --------------------------------------------------------------------------- unusable output paths


@pytest.mark.parametrize("out, message", [
    ("a_folder", "is a folder"),
    ("a_file/sub.jsonl", "a_file is a file, not a folder"),
    ("a_file/x/y/sub.jsonl", "a_file is a file, not a folder"),
    ("/proc/cleaner-test.jsonl", "cannot write /proc/cleaner-test.jsonl"),
])
def test_an_unusable_output_path_is_a_usage_error(site: Path, tmp_path: Path, out: str, message: str) -> None:
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_bytes(b"")
    one_line_error(run_cli(site, "-o", out, "-q", cwd=tmp_path), 2, message)
    assert (tmp_path / "a_file").read_bytes() == b""


def test_a_txt_output_under_a_file_is_a_usage_error(site: Path, tmp_path: Path) -> None:
    (tmp_path / "a_file").write_bytes(b"")
    one_line_error(run_cli(site, "-o", tmp_path / "a_file" / "txt", "--format", "txt"), 2, "is a file, not a folder")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_stops_the_run_with_exit_1_and_a_clear_error(site: Path) -> None:
    result = run_cli(site, "-o", "/dev/full", "-q")
    one_line_error(result, 1, "Error: cannot write /dev/full: No space left on device")
    assert result.stderr.count("\n") == 1  # -q: the error line only
    with open("/dev/full", "w") as full:  # the same through stdout
        result = subprocess.run([sys.executable, "-m", "cleaner", "clean", str(site), "-o", "-", "-q"],
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120)
    one_line_error(result, 1, "cannot write to stdout: No space left on device")


def test_a_failed_write_is_reported_in_the_summary_and_keeps_what_was_written(site: Path, tmp_path: Path) -> None:
    # The output folder vanishes mid-run (replaced by a file): the .txt writes fail.
    out = tmp_path / "txt"
    summary = run_batch([site], str(out), fmt="txt", jobs=1, progress=False)
    assert summary.output_error is None and summary.ok == 3
    (out / "export").rename(tmp_path / "moved")
    (out / "export").write_bytes(b"")  # a file where the records' folder was
    again = run_batch([site], str(out), fmt="txt", jobs=1, progress=False)
    assert again.output_error is not None and again.output_error.startswith("cannot write ")
    assert "STOPPED" in again.line()
    # The two pages before the export were written; the run stopped at its record.
    assert [m["id"] for m in read_lines(out / "manifest.jsonl")] == ["a.html", "b.html"]


# --------------------------------------------------------------------------- workers


def test_too_many_workers_is_a_usage_error(site: Path, tmp_path: Path) -> None:
    result = run_cli(site, "-o", tmp_path / "o.jsonl", "-j", "1000000")
    one_line_error(result, 2, f"at most {max_jobs()} here")
    assert not (tmp_path / "o.jsonl").exists()
    assert run_cli(site, "-o", tmp_path / "o.jsonl", "-j", str(max_jobs()), "-q").returncode == 0


# --------------------------------------------------------------------------- invalid Unicode in ids


def test_a_lone_surrogate_in_an_id_or_url_is_an_error_line_not_a_crash(tmp_path: Path) -> None:
    export = tmp_path / "surr.jsonl"
    text = "The council met on Monday and agreed the budget for the new library after a long debate."
    # JSON escapes that decode to lone surrogates, which no UTF-8 encoder takes.
    export.write_text(
        json.dumps({"id": "ok", "text": text}) + "\n"
        + '{"id": "bad\\ud800", "text": "%s"}\n' % text
        + '{"id": "u", "url": "https://x\\udc80.example/a", "text": "%s"}\n' % text
        + json.dumps({"id": "after", "text": text}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_cli(export, "-o", out, "-j", "2")
    one_line_error(result, 1, "4 articles: 2 ok, 2 failed")
    lines = read_lines(out)
    assert [d["id"] for d in lines] == ["ok", "bad\\ud800", "u", "after"]
    assert [d["error"] is None for d in lines] == [True, False, False, True]
    assert "lone surrogate" in lines[1]["error"] and lines[2]["url"] == "https://x\\udc80.example/a"
    # Resume gets past the bad line: cut the output after it and finish.
    full = out.read_bytes()
    out.write_bytes(b"".join(full.splitlines(keepends=True)[:2]))
    assert run_cli(export, "-o", out, "--resume", "-q").returncode == 1
    assert out.read_bytes() == full
    # --format txt: the manifest takes the same escaped id.
    txt = tmp_path / "txt"
    assert run_cli(export, "-o", txt, "--format", "txt", "-q").returncode == 1
    assert [m["id"] for m in read_lines(txt / "manifest.jsonl")] == ["ok", "bad\\ud800", "u", "after"]


def test_a_file_name_that_is_not_utf8_is_cleaned_under_a_printable_id(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    name = os.fsdecode(b"caf\xe9.html")  # a Latin-1 name: the byte is not UTF-8
    (src / name).write_text(article_html(6), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_cli(src, "-o", out, "-q")
    assert result.returncode == 0, result.stderr
    (line,) = read_lines(out)
    assert line["id"] == "caf\\udce9.html" and "Paragraph 1 of report 6" in line["text"]
    summary = run_batch([src], str(tmp_path / "txt"), fmt="txt", jobs=1, progress=False)
    assert summary.ok == 1
    (entry,) = read_lines(tmp_path / "txt" / "manifest.jsonl")
    assert "report 6" in (tmp_path / "txt" / entry["file"]).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- resume with repeated ids


@pytest.mark.parametrize("fmt", ["jsonl", "txt"])
def test_resume_keeps_records_whose_id_repeats(tmp_path: Path, fmt: str) -> None:
    text = "The council met on Monday and agreed the budget for the new library after a long debate"
    export = tmp_path / "dups.jsonl"
    export.write_text("".join(json.dumps({"id": rid, "text": f"{text} ({n}).\n\nMore."}) + "\n"
                              for n, rid in enumerate(["a", "dup", "dup", "b", "dup"])), encoding="utf-8")
    full, part = tmp_path / f"full.{fmt}", tmp_path / f"part.{fmt}"
    run_batch([export], str(full), fmt=fmt, jobs=1, progress=False)
    run_batch([export], str(part), fmt=fmt, jobs=1, progress=False)
    listing = full / "manifest.jsonl" if fmt == "txt" else full
    cut = part / "manifest.jsonl" if fmt == "txt" else part
    lines = listing.read_bytes().splitlines(keepends=True)
    assert len(lines) == 5
    for keep in range(5):  # a kill after any number of lines
        cut.write_bytes(b"".join(lines[:keep]))
        summary = run_batch([export], str(part), fmt=fmt, jobs=2, resume=True, progress=False)
        assert (summary.skipped, summary.articles) == (keep, 5 - keep)
        assert cut.read_bytes() == listing.read_bytes()  # every record once, in order


# --------------------------------------------------------------------------- txt names that collide


def test_txt_output_never_overwrites_when_two_records_map_to_one_name(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "export").mkdir(parents=True)
    pages = {"x.html": article_html(10), "x.html.txt": "A text article about the harbour.\n\nIt has two parts.",
             "export/a.txt": "A text article about the river.\n\nThe real file, not the record.",
             "y.txt": "The y article, a file.\n\nSecond paragraph about the bridge."}
    for rel, body in pages.items():
        (src / rel).write_text(body, encoding="utf-8")
    # A folder whose name a file of its parent already took: y.txt (the file) vs y.txt/ (a folder).
    (src / "y.txt.jsonl").write_text(json.dumps({"id": "z", "text": "Record z in the y.txt export.\n\nMore."}) + "\n",
                                     encoding="utf-8")
    records = [{"id": "a", "text": "Record a of the export about the orchard.\n\nMore."},
               {"id": "same", "text": "The first record named same.\n\nMore."},
               {"id": "same", "text": "The second record named same.\n\nMore."}]
    (src / "export.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "txt"
    summary = run_batch([src], str(out), fmt="txt", jobs=2, progress=False)
    assert (summary.ok, summary.failed) == (8, 0)
    manifest = read_lines(out / "manifest.jsonl")
    files = [m["file"] for m in manifest]
    assert len(set(files)) == len(files) == 8  # one file per record
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt") if p.is_file()) == sorted(files)
    by_id: dict[str, list[str]] = {}
    for m in manifest:
        by_id.setdefault(m["id"], []).append((out / m["file"]).read_text(encoding="utf-8"))
    assert "report 10" in by_id["x.html"][0] and "harbour" in by_id["x.html.txt"][0]
    assert "orchard" in by_id["a"][0] and "real file" in by_id["export/a.txt"][0]
    assert ["first" in t for t in by_id["same"]] == [True, False] and "second" in by_id["same"][1]
    assert "Record z" in by_id["z"][0] and "bridge" in by_id["y.txt"][0]
    assert {"x.html~2.txt", "export/a~2.txt", "export/same~2.txt", "y~2.txt/z.txt"} <= set(files)

    # Resume after a kill at any line names the rest of the files as the full run did.
    full = (out / "manifest.jsonl").read_bytes()
    lines = full.splitlines(keepends=True)
    for keep in (1, 4, 6):
        (out / "manifest.jsonl").write_bytes(b"".join(lines[:keep]))
        run_batch([src], str(out), fmt="txt", jobs=1, resume=True, progress=False)
        assert (out / "manifest.jsonl").read_bytes() == full
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt") if p.is_file()) == sorted(files)


# --------------------------------------------------------------------------- nothing to read, special files


def test_a_folder_with_nothing_to_read_warns_and_exits_0(tmp_path: Path) -> None:
    empty = tmp_path / "crawl"
    empty.mkdir()
    (empty / "notes.md").write_text("not an input", encoding="utf-8")
    for quiet in ([], ["-q"]):  # the warning shows even with --quiet
        result = run_cli(empty, "-o", tmp_path / "o.jsonl", *quiet)
        assert result.returncode == 0 and "Traceback" not in result.stderr
        assert f"Warning: no .html, .htm, .txt, .jsonl, .warc or .warc.gz files in {empty}" in result.stderr
        assert (tmp_path / "o.jsonl").read_bytes() == b""


def test_fifos_and_devices_inside_a_folder_are_passed_over(site: Path, tmp_path: Path) -> None:
    os.mkfifo(site / "pipe.html")  # nobody writes to it: reading it would block forever
    (site / "zero.txt").symlink_to("/dev/zero")
    (site / "gone.html").symlink_to(tmp_path / "nowhere.html")  # still an error line, as before
    out = tmp_path / "o.jsonl"
    result = run_cli(site, "-o", out)
    assert result.returncode == 1, result.stderr
    assert [d["id"] for d in read_lines(out)] == ["a.html", "b.html", "e1", "gone.html"]
    assert "2 files of other types passed over" in result.stderr


def test_a_fifo_given_by_name_is_a_usage_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jsonl")
    one_line_error(run_cli(tmp_path / "pipe.jsonl", "-o", tmp_path / "o.jsonl"), 2, "not a regular file or a folder")


def test_resume_into_a_file_this_tool_did_not_write_is_refused_and_the_file_kept(site: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\nline two\n", encoding="utf-8")
    one_line_error(run_cli(site / "export.jsonl", "-o", notes, "--resume"), 2, "cannot resume into")
    assert notes.read_text(encoding="utf-8") == "my notes\nline two\n"
