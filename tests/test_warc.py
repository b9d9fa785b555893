"""WARC input: real archives written with warcio's WARCWriter (gzip and plain), HTML
response records only, the HTTP charset honoured, a broken record reported and skipped."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_batch import article_html, read_lines
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from cleaner.batch import discover, iter_records, run_batch
from cleaner.cli import main

RUSSIAN = ("<html><body><article><h1>Новости города</h1>"
           + "".join(f"<p>Абзац {k}: городской совет обсудил строительство нового моста через реку и "
                     f"бюджет на следующий год, жители задали {k + 5} вопросов.</p>" for k in range(5))
           + "</article></body></html>")


def _response(writer: WARCWriter, url: str, body: bytes, content_type: str, status: str = "200 OK"):
    headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
    return writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers)


def write_warc(path: Path, *, gzip: bool, broken: bool = True, start: int = 0) -> list[str]:
    """An archive of 4 HTML pages among records that must be passed over, with a broken
    record (garbage where a record header should be) after the second page. Returns the
    WARC-Record-IDs of the pages in order."""
    ids: list[str] = []
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)

        def page(rec) -> None:
            writer.write_record(rec)
            ids.append(rec.rec_headers.get_header("WARC-Record-ID"))

        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test"}))
        page(_response(writer, f"https://news.example/{start}", article_html(start).encode(), "text/html; charset=utf-8"))
        writer.write_record(writer.create_warc_record("https://news.example/1", "request",
                                                      payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n")))
        writer.write_record(_response(writer, "https://news.example/logo.png", b"\x89PNG....", "image/png"))
        writer.write_record(_response(writer, "https://news.example/gone", b"<html>gone</html>", "text/html",
                                      status="404 Not Found"))
        page(_response(writer, "https://news.example/ru", RUSSIAN.encode("cp1251"), "text/html; charset=windows-1251"))
        if broken:
            fh.write(b"WARC/1.0\r\nthis is not a header line\r\n\r\n" + b"\x00garbage" * 50 + b"\r\n\r\n")
        page(_response(writer, f"https://news.example/{start + 2}", article_html(start + 2).encode(),
                       "application/xhtml+xml"))
        page(_response(writer, f"https://news.example/{start + 3}", article_html(start + 3).encode("utf-16"),
                       "text/html"))
    return ids


@pytest.mark.parametrize("gzip", [True, False], ids=["warc.gz", "warc"])
def test_warc_html_responses_are_cleaned_and_a_broken_record_is_reported(tmp_path: Path, gzip: bool) -> None:
    archive = tmp_path / ("crawl.warc.gz" if gzip else "crawl.warc")
    ids = write_warc(archive, gzip=gzip)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["clean", str(archive), "-o", str(out), "--jobs", "1"])
    assert result.exit_code == 1  # the broken record
    lines = read_lines(out)
    good = [d for d in lines if d["error"] is None]
    assert [d["id"] for d in good] == ids  # request, image, 404 and warcinfo records passed over
    assert [d["url"] for d in good] == ["https://news.example/0", "https://news.example/ru",
                                        "https://news.example/2", "https://news.example/3"]
    assert "Абзац 1: городской совет" in good[1]["text"]  # decoded with the HTTP header's charset
    assert "Paragraph 1 of report 3" in good[3]["text"]  # a UTF-16 page with a BOM
    (bad,) = [d for d in lines if d["error"] is not None]
    assert bad["error"].startswith("broken WARC record")
    assert bad["id"].startswith(f"{archive.name}@")
    assert [d["id"] for d in lines].index(bad["id"]) == 2  # reported where it sits, then reading goes on
    assert "4 ok, 1 failed" in result.stderr


def test_warc_record_reading_skips_done_ids_without_reading_them(tmp_path: Path) -> None:
    archive = tmp_path / "a.warc.gz"
    ids = write_warc(archive, gzip=True, broken=False)
    records = list(iter_records(discover([archive]), skip={ids[0], ids[2]}))
    assert [r.id for r in records] == [ids[1], ids[3]]
    assert records[0].charset == "cp1251" and isinstance(records[0].raw, bytes)


def test_resume_over_warc_archives_finishes_what_a_crash_left(tmp_path: Path) -> None:
    folder = tmp_path / "crawl"
    folder.mkdir()
    write_warc(folder / "one.warc.gz", gzip=True, start=10)
    write_warc(folder / "two.warc", gzip=False, start=20)
    full = tmp_path / "full.jsonl"
    run_batch([folder], str(full), jobs=2, progress=False)
    lines = full.read_bytes().splitlines(keepends=True)
    assert len(lines) == 10
    part = tmp_path / "part.jsonl"
    part.write_bytes(b"".join(lines[:6]) + lines[6][:-7])  # torn in the middle of line 7
    summary = run_batch([folder], str(part), jobs=2, resume=True, progress=False)
    assert summary.skipped == 6 and summary.articles == 4
    assert part.read_bytes() == full.read_bytes()


def test_txt_format_names_warc_records_by_a_safe_form_of_their_id(tmp_path: Path) -> None:
    archive = tmp_path / "crawl.warc.gz"
    ids = write_warc(archive, gzip=True, broken=False)
    out = tmp_path / "txt"
    summary = run_batch([archive], str(out), fmt="txt", progress=False)
    assert summary.ok == 4
    files = sorted(p.relative_to(out).as_posix() for p in (out / "crawl").iterdir())
    assert len(files) == 4 and all(f.startswith("crawl/urn_uuid_") and f.endswith(".txt") for f in files)
    manifest = {m["id"]: m for m in read_lines(out / "manifest.jsonl")}
    assert set(manifest) == set(ids)
    ru = manifest[ids[1]]["file"]
    assert "городской совет" in (out / ru).read_text(encoding="utf-8")


def test_pages_from_cleaning_stream_feed_story_dedup_through_a_pipe(tmp_path: Path) -> None:
    """`cleaner clean ... -o -` lines carry what `cleaner dedup -` reads: id and text."""
    archive = tmp_path / "crawl.warc"
    write_warc(archive, gzip=False, broken=False)
    result = CliRunner().invoke(main, ["clean", str(archive), "-o", "-", "-q"])
    assert result.exit_code == 0
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines) == 4 and all(isinstance(d["id"], str) and d["text"] for d in lines)


def _cut(src: Path, dst: Path, keep: int) -> None:
    dst.write_bytes(src.read_bytes()[:keep])


@pytest.mark.parametrize("gzip, cut", [(True, -300), (True, -4), (False, -300)],
                         ids=["warc.gz mid-body", "warc.gz without the gzip trailer", "warc mid-body"])
def test_an_archive_cut_inside_its_last_page_gives_that_page_an_error(tmp_path: Path, gzip: bool, cut: int) -> None:
    whole = tmp_path / ("whole.warc.gz" if gzip else "whole.warc")
    ids = write_warc(whole, gzip=gzip, broken=False)
    archive = tmp_path / ("cut.warc.gz" if gzip else "cut.warc")
    _cut(whole, archive, cut)  # as a download or copy that stopped early leaves it
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["clean", str(archive), "-o", str(out), "--jobs", "1"])
    assert result.exit_code == 1, result.output
    lines = read_lines(out)
    assert [d["id"] for d in lines] == ids  # every page once, the cut one with an error
    assert [d["error"] for d in lines[:3]] == [None] * 3
    assert lines[3]["error"] == "broken WARC record: the file ends inside this record (a truncated archive)"
    assert lines[3]["text"] is None  # no partial page passed off as clean
    # The error line counts as done: resume adds nothing.
    again = run_batch([archive], str(out), jobs=1, resume=True, progress=False)
    assert (again.articles, again.skipped) == (0, 4)


@pytest.mark.parametrize("gzip", [True, False], ids=["warc.gz", "warc"])
def test_an_archive_cut_inside_a_record_header_reports_where(tmp_path: Path, gzip: bool) -> None:
    archive = tmp_path / ("crawl.warc.gz" if gzip else "crawl.warc")
    write_warc(archive, gzip=gzip, broken=False)
    size = archive.stat().st_size
    extra = tmp_path / "extra.warc"
    write_warc(extra, gzip=gzip, broken=False)
    with open(archive, "ab") as fh:  # the first bytes of one more record, and then the end
        fh.write(extra.read_bytes()[:40])
    lines = [d for d in read_lines(_clean(archive, tmp_path)) if d["error"]]
    assert [d["id"] for d in lines] == [f"{archive.name}@{size}"]
    assert lines[0]["error"].startswith("broken WARC record")


def test_a_truncated_request_record_is_reported_too(tmp_path: Path) -> None:
    """The cut can fall in a record that is not a page: the archive is still incomplete."""
    archive = tmp_path / "crawl.warc"
    with open(archive, "wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        writer.write_record(_response(writer, "https://news.example/0", article_html(0).encode(), "text/html"))
        request = writer.create_warc_record("https://news.example/1", "request",
                                            payload=io.BytesIO(b"GET /1 HTTP/1.1\r\nHost: news.example\r\n\r\n"))
        writer.write_record(request)
    _cut(archive, archive, -20)
    lines = read_lines(_clean(archive, tmp_path))
    assert [d["error"] for d in lines] == [None, "broken WARC record: the file ends inside this record "
                                                 "(a truncated archive)"]
    assert lines[1]["id"] == request.rec_headers.get_header("WARC-Record-ID")


def test_complete_archives_have_no_truncation_errors(tmp_path: Path) -> None:
    for gzip in (True, False):
        archive = tmp_path / ("a.warc.gz" if gzip else "a.warc")
        write_warc(archive, gzip=gzip, broken=False)
        assert all(d["error"] is None for d in read_lines(_clean(archive, tmp_path)))


def _clean(archive: Path, tmp_path: Path) -> Path:
    out = tmp_path / f"{archive.name}.jsonl"
    run_batch([archive], str(out), jobs=1, do_clean=False, progress=False)
    return out
