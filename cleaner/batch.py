"""Batch cleaning: find inputs, read them as a stream of records, clean them in worker
processes, and write one output line (or one .txt file) per article, restartably.

The pieces are small and separate so that the CLI (``cleaner clean``) and the Spark job
(:mod:`cleaner.spark_job`) run exactly the same reading and cleaning code:

- :func:`discover` turns command-line paths into :class:`Source` files (folders walked
  recursively, in a stable sorted order);
- :func:`read_source` streams :class:`Record` s out of one source (a page file, a JSONL
  export, a WARC archive), turning anything unreadable into a record that carries an error;
- :func:`clean_record` turns one record into one output line (a dict), never raising;
- :func:`run_batch` ties them together with a bounded pool of worker processes, an
  append-only sink (:class:`JsonlSink` or :class:`TxtTreeSink`) and resume.

Output is written in input order, whatever ``jobs`` is, so an interrupted and resumed
run writes the same lines in the same order as an uninterrupted one.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import signal
import stat
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlsplit

from .errors import CleanerError, InputTooLargeError, InvalidArgumentError
from .inputs import MAX_INPUT_BYTES, check_size, to_text

SourceKind = Literal["html", "text", "jsonl", "warc"]
FORMATS: tuple[str, ...] = ("jsonl", "txt")

#: File name endings we read, and what they hold. Order matters: ``.warc.gz`` before ``.gz``.
SUFFIX_KINDS: tuple[tuple[str, SourceKind], ...] = (
    (".warc.gz", "warc"),
    (".warc", "warc"),
    (".html", "html"),
    (".htm", "html"),
    (".xhtml", "html"),
    (".txt", "text"),
    (".jsonl", "jsonl"),
)
#: HTTP content types of WARC response records that hold a web page.
HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
#: Records handed to a worker at once. A page takes ~50-100 ms to clean and a hop between
#: processes ~0.2 ms, so small chunks cost nothing and keep both workers evenly loaded
#: (large ones leave a worker idle at the end of a small batch).
CHUNK_RECORDS = 2
#: A chunk is closed early past this many raw bytes, so in-flight memory stays bounded
#: even for archives of very large pages.
CHUNK_BYTES = 4 * 1024 * 1024
#: Chunks in flight per worker. Output is ordered, so the parent waits on the oldest chunk:
#: while one worker is stuck on a slow page (a few seconds for some huge pages), the others
#: keep going only as far as this window reaches. 3 left a worker idle behind such pages
#: (1.75x with 2 jobs on wcxb-dev pages); 12 (24 pages) rides them out (see benchmarks/).
CHUNKS_PER_WORKER = 12
#: ... and at most this many raw bytes in flight in all, so memory stays bounded even for
#: archives of very large pages (page files are read by the workers and count 0 here).
MAX_INFLIGHT_BYTES = 64 * 1024 * 1024
#: fsync the output at most this often: each line is already one write + flush (safe
#: against a killed process); the fsync bounds what a power cut can take.
FSYNC_EVERY_SECONDS = 5.0
#: The manifest of a ``--format txt`` output folder: one JSON line per article (id,
#: file, url, title, error). Resume reads it; it never collides with mirrored files,
#: which all end in ``.txt``.
MANIFEST_NAME = "manifest.jsonl"
#: Longest file name stem we derive from a record id (file systems allow 255 bytes).
MAX_SAFE_NAME = 120
#: How often a worker checks that its parent is still alive (a ``kill -9`` of the
#: parent must not leave orphaned workers behind).
PARENT_CHECK_SECONDS = 1.0
#: How far past a broken WARC record we look for the next record before giving up
#: on the rest of that file.
WARC_RESYNC_WINDOW = 64 * 1024 * 1024

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)


class UsageError(InvalidArgumentError):
    """A batch cannot start as asked (a missing path, an unsupported file, a bad option)."""


class OutputError(Exception):
    """Writing the output failed mid-run (a full disk, a vanished folder): the batch stops,
    and what was written so far stays (``--resume`` finishes it once the cause is fixed)."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Source:
    """One input file. ``name`` is its path relative to the root it was found under
    (with the root's name in front when several roots are given); it is the id of
    a page file and the folder name of an archive's records in a ``.txt`` tree."""

    path: str
    name: str
    kind: SourceKind
    size: int


@dataclass(frozen=True, slots=True)
class Record:
    """One article to clean: its raw content, or the path to read it from (so workers,
    not the parent, read page files), or the error that made it unreadable."""

    id: str
    kind: Literal["html", "text"]
    out_name: str
    raw: bytes | str | None = None
    path: str | None = None
    url: str | None = None
    charset: str | None = None
    error: str | None = None
    nbytes: int = 0


def kind_of(path: str | Path) -> SourceKind | None:
    """What a file holds, judged by its name; ``None`` for files we do not read."""
    name = str(path).lower()
    for suffix, kind in SUFFIX_KINDS:
        if name.endswith(suffix):
            return kind
    return None


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def discover(paths: Sequence[str | Path], *, skipped: list[str] | None = None) -> Iterator[Source]:
    """Yield the input files under ``paths``, folders walked recursively in sorted order
    (hidden files and folders left out). Files of other types inside folders, and
    anything there that is not a regular file (a FIFO, a device, a link to one: reading
    it could block forever), are passed over (and appended to ``skipped`` when given); a
    path that does not exist, is neither a file nor a folder, or is a file given by name
    whose type we do not read, raises :class:`UsageError`."""
    roots = [str(p) for p in paths]
    if not roots:
        raise UsageError("no input paths given")
    for root in roots:
        if not os.path.exists(root):
            raise UsageError(f"input path does not exist: {root}")
        if not os.path.isfile(root) and not os.path.isdir(root):
            raise UsageError(f"cannot read {root}: not a regular file or a folder (a FIFO or a device?)")
        if os.path.isfile(root) and kind_of(root) is None:
            raise UsageError(
                f"cannot read {root}: expected .html, .htm, .txt, .jsonl, .warc or .warc.gz (or a folder)"
            )
    prefixed = len(roots) > 1
    for root, label in zip(roots, root_labels([os.path.abspath(r) for r in roots])):
        if os.path.isfile(root):
            name = label if prefixed else os.path.basename(root)
            yield Source(root, _printable(name), kind_of(root), _size(root))  # type: ignore[arg-type]
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fname in sorted(filenames):
                if fname.startswith("."):
                    continue
                full = os.path.join(dirpath, fname)
                kind = kind_of(fname)
                try:
                    st: os.stat_result | None = os.stat(full)
                except OSError:
                    st = None  # a dangling link: read, it becomes an "unreadable file" line
                if kind is None or (st is not None and not stat.S_ISREG(st.st_mode)):
                    if skipped is not None:
                        skipped.append(full)
                    continue
                rel = Path(os.path.relpath(full, root)).as_posix()
                # A name with bytes that are not UTF-8 names a record (and its .txt file) in
                # a printable form; the path keeps the real bytes to read.
                name = _printable(f"{label}/{rel}" if prefixed else rel)
                yield Source(full, name, kind, st.st_size if st is not None else 0)


def root_labels(roots: Sequence[str]) -> list[str]:
    """What ids start with when several roots are given: each root's name, or its whole
    path (without the leading slash) when two roots share a name."""
    clean = [r.rstrip("/") or "/" for r in roots]
    labels = [r.rsplit("/", 1)[-1] for r in clean]
    if len(set(labels)) < len(labels):
        labels = [r.split("://", 1)[-1].lstrip("/") for r in clean]
    return labels


def walk_key(rel: str) -> tuple[tuple[int, str], ...]:
    """Sort key that puts relative paths in :func:`discover` order (a folder's own files,
    sorted, before its sub-folders, sorted), for listings that are not walked."""
    parts = rel.split("/")
    return tuple((1, p) for p in parts[:-1]) + ((0, parts[-1]),)


def safe_name(record_id: str) -> str:
    """A file-name-safe stem for a record id; a short hash keeps two ids that differ
    only in unsafe characters apart."""
    stem = _UNSAFE_NAME.sub("_", record_id).strip("._") or "record"
    if stem != record_id or len(stem) > MAX_SAFE_NAME:
        digest = hashlib.sha1(record_id.encode("utf-8", "replace")).hexdigest()[:10]
        stem = f"{stem[:MAX_SAFE_NAME]}-{digest}"
    return stem


def _container_dir(src: Source) -> str:
    """Folder (in a .txt tree) for the records of an archive or JSONL export."""
    name = src.name
    for suffix in (".warc.gz", ".warc", ".jsonl"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "records"
    return name


#: Longest error message kept in an output line (warcio quotes whole garbage lines).
MAX_ERROR_CHARS = 300


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def read_source(src: Source, *, skip: Container[str] = (), stream: IO[bytes] | None = None) -> Iterator[Record]:
    """Stream the records of one input file. Records whose id is in ``skip`` are not
    yielded (for resume; a :class:`DoneIds` skips each id as often as it counts it);
    their content is not even read where the format allows it.
    ``stream`` reads an already open file instead of ``src.path`` (Spark hands bytes)."""
    if src.kind in ("html", "text"):
        if not _done(skip, src.name):
            out = src.name if src.name.lower().endswith(".txt") else f"{src.name}.txt"
            if stream is not None:
                yield Record(src.name, src.kind, out, raw=stream.read(MAX_INPUT_BYTES + 1), nbytes=src.size)
            else:
                yield Record(src.name, src.kind, out, path=src.path, nbytes=src.size)
        return
    if src.kind == "jsonl":
        yield from _read_jsonl(src, skip, stream)
    elif src.kind == "warc":
        yield from _read_warc(src, skip, stream)
    else:  # pragma: no cover - discover() only makes the kinds above
        raise InvalidArgumentError(f"unknown source kind {src.kind!r}")


class DoneIds:
    """The ids of the lines an output already holds, for resume, counted: an id that
    repeats in the input (two JSONL lines with one id) is skipped only as many times as
    it was written, so every input record still ends up in the output once."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._left = Counter(ids)
        self.total = sum(self._left.values())

    def take(self, rid: str) -> bool:
        """Whether one more record ``rid`` is done; it is then counted off."""
        left = self._left.get(rid, 0)
        if not left:
            return False
        if left == 1:
            del self._left[rid]
        else:
            self._left[rid] = left - 1
        return True

    def __contains__(self, rid: object) -> bool:
        return rid in self._left

    def __len__(self) -> int:
        return self.total


def _done(skip: Container[str], rid: str) -> bool:
    """Whether the record ``rid`` is already done (resume): counted off a
    :class:`DoneIds`, or simply in any other container of ids."""
    return skip.take(rid) if isinstance(skip, DoneIds) else rid in skip


def _printable(text: str) -> str:
    """``text`` as valid Unicode: a lone surrogate (a JSON ``"\\ud800"``, an undecodable
    byte of a file name) becomes its backslash escape, which every encoder takes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _open(src: Source, stream: IO[bytes] | None) -> IO[bytes]:
    return stream if stream is not None else open(src.path, "rb")


def _read_jsonl(src: Source, skip: Container[str], stream: IO[bytes] | None) -> Iterator[Record]:
    folder = _container_dir(src)

    def failed(where: str, message: str, nbytes: int) -> Record:
        return Record(where, "text", "", error=message, nbytes=nbytes)

    try:
        fh = _open(src, stream)
    except OSError as exc:
        if not _done(skip, src.name):
            yield failed(src.name, f"unreadable file: {_error_text(exc)}", src.size)
        return
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{src.name}:{lineno}"
            try:
                obj = json.loads(line)
            except ValueError as exc:
                if not _done(skip, where):
                    yield failed(where, f"bad JSONL line: {exc}", len(line))
                continue
            if not isinstance(obj, dict) or obj.get("id") in (None, ""):
                if not _done(skip, where):
                    yield failed(where, "bad JSONL line: expected an object with an 'id' and 'html' or 'text'",
                                 len(line))
                continue
            given = str(obj["id"])
            rid = _printable(given)
            if _done(skip, rid):
                continue
            url = obj.get("url") if isinstance(obj.get("url"), str) else None
            if rid != given or (url is not None and _printable(url) != url):
                # JSON can spell a lone surrogate ("\ud800"), which no encoder takes: the
                # line is refused under a printable form of its id, and the batch goes on.
                yield Record(rid, "text", "", url=url and _printable(url), nbytes=len(line),
                             error="bad JSONL line: the 'id' or 'url' holds a lone surrogate (\\ud800-\\udfff), "
                                   "which is not valid Unicode")
                continue
            content = obj.get("html") if obj.get("html") is not None else obj.get("text")
            if not isinstance(content, str):
                yield Record(rid, "text", "", url=url, nbytes=len(line),
                             error="bad JSONL line: 'html' or 'text' must be a string")
                continue
            kind: Literal["html", "text"] = "html" if obj.get("html") is not None else "text"
            yield Record(rid, kind, f"{folder}/{safe_name(rid)}.txt", raw=content, url=url, nbytes=len(line))


def _http_charset(content_type: str | None) -> str | None:
    """The charset an HTTP Content-Type declares, if Python knows it."""
    if not content_type:
        return None
    m = _CHARSET.search(content_type)
    if not m:
        return None
    try:
        return codecs.lookup(m.group(1)).name
    except LookupError:
        return None


def _resync(fh: IO[bytes], start: int, gz: bool) -> int | None:
    """Offset of the next plausible record start after a broken one, or ``None``.
    A gzipped WARC restarts at the next gzip member, a plain one at the next
    ``WARC/1.`` line."""
    marker = b"\x1f\x8b\x08" if gz else b"\nWARC/1."
    fh.seek(start)
    pos, carry = start, b""
    while pos - start < WARC_RESYNC_WINDOW:
        block = fh.read(1 << 20)
        if not block:
            return None
        data = carry + block
        i = data.find(marker)
        if i >= 0:
            return pos - len(carry) + i + (0 if gz else 1)
        carry = data[-len(marker):]
        pos += len(block)
    return None


#: The error of a WARC record the file ends inside of (a cut download, a full disk).
WARC_TRUNCATED = "the file ends inside this record (a truncated archive)"


class _BrokenRecordError(Exception):
    """A WARC record warcio read but that is not a valid record."""


def _read_warc(src: Source, skip: Container[str], stream: IO[bytes] | None) -> Iterator[Record]:
    from warcio.archiveiterator import ArchiveIterator

    folder = _container_dir(src)
    try:
        fh = _open(src, stream)
    except OSError as exc:
        if not _done(skip, src.name):
            yield Record(src.name, "html", "", error=f"unreadable file: {_error_text(exc)}", nbytes=src.size)
        return
    gz = src.name.lower().endswith(".gz")
    with fh:
        size = fh.seek(0, os.SEEK_END)
        start: int | None = 0
        while start is not None:
            fh.seek(start)
            it = ArchiveIterator(fh)
            last = end = start
            try:
                for rec in it:
                    if rec.rec_type is None or rec.rec_headers.get_header("Content-Length") is None:
                        # warcio accepts a header block with no WARC-Type or length and then
                        # reads the rest of the file as its body: refuse it and resync.
                        raise _BrokenRecordError("record header has no WARC-Type or Content-Length")
                    # it.offset is where this record starts (get_record_offset() would
                    # consume the record before we read it).
                    offset = it.offset
                    rid = _printable(rec.rec_headers.get_header("WARC-Record-ID") or f"{src.name}@{offset}")
                    page = _is_page(rec)
                    record = _warc_page(rec, rid, folder) if page and not _done(skip, rid) else None
                    # Read the rest now (warcio would on the next step): a file that ends
                    # inside this record must fail it, not yield its first part as a page.
                    it.read_to_end()
                    end = it.offset
                    if _cut_short(rec, it):
                        error = f"broken WARC record: {WARC_TRUNCATED}"
                        url = rec.rec_headers.get_header("WARC-Target-URI")
                        if record is not None:
                            record = replace(record, raw=None, error=error)
                        elif not page and not _done(skip, rid):  # the archive is cut, whatever the record
                            record = Record(rid, "html", "", url=url and _printable(url), error=error)
                    pos = fh.tell()
                    if record is not None:
                        yield replace(record, nbytes=max(0, pos - last))
                    last = pos
                start = None
                if end < size and not _done(skip, f"{src.name}@{end}"):
                    # warcio stops without a word at a record header (or a gzip member) the
                    # file ends inside of.
                    yield Record(f"{src.name}@{end}", "html", "", nbytes=size - last,
                                 error=f"broken WARC record: {WARC_TRUNCATED}")
            except Exception as exc:  # warcio: ArchiveLoadFailed, a bad gzip member, bad headers
                broken = it.offset  # the start of the record that failed to load
                if not _done(skip, f"{src.name}@{broken}"):
                    yield Record(f"{src.name}@{broken}", "html", "", nbytes=max(0, fh.tell() - last),
                                 error=f"broken WARC record: {_error_text(exc)}")
                start = _resync(fh, broken + 1, gz)


def _is_page(rec: Any) -> bool:
    """Whether a WARC record holds a web page to clean: a 2xx HTML response (not a
    request, metadata, redirect, image...)."""
    if rec.rec_type != "response" or rec.http_headers is None:
        return False
    status = rec.http_headers.get_statuscode() or ""
    ctype = rec.http_headers.get_header("Content-Type") or ""
    return status.startswith("2") and ctype.split(";")[0].strip().lower() in HTML_CONTENT_TYPES


def _cut_short(rec: Any, it: Any) -> bool:
    """Whether the file ended inside a WARC record that has been read to its end: its
    block is shorter than its Content-Length, or its gzip member has no end."""
    if getattr(rec.raw_stream, "limit", 0) > 0:
        return True
    decompressor = it.reader.decompressor if it.reader is not None else None
    return decompressor is not None and not getattr(decompressor, "eof", True)


def _warc_page(rec: Any, rid: str, folder: str) -> Record:
    """The record to clean for a WARC page record (see :func:`_is_page`)."""
    ctype = rec.http_headers.get_header("Content-Type") or ""
    url = rec.rec_headers.get_header("WARC-Target-URI")
    url = url and _printable(url)
    out = f"{folder}/{safe_name(rid)}.txt"
    try:
        raw = rec.content_stream().read(MAX_INPUT_BYTES + 1)
    except Exception as exc:  # broken chunking or content encoding inside one record
        return Record(rid, "html", out, url=url, error=f"broken WARC record: {_error_text(exc)}")
    return Record(rid, "html", out, raw=raw, url=url, charset=_http_charset(ctype))


def iter_records(sources: Iterable[Source], *, skip: Container[str] = ()) -> Iterator[Record]:
    """The records of every source in turn, leaving out the ids in ``skip``."""
    for src in sources:
        yield from read_source(src, skip=skip)


# --------------------------------------------------------------------------- cleaning


def _load(rec: Record) -> bytes | str:
    if rec.raw is not None:
        return rec.raw
    assert rec.path is not None
    size = os.stat(rec.path).st_size
    check_size(size)
    with open(rec.path, "rb") as fh:
        return fh.read(MAX_INPUT_BYTES + 1)


def clean_record(rec: Record, *, do_clean: bool = True, boilerplate: Any = None) -> dict[str, Any]:
    """One output line for one record. Never raises on bad input: a record that cannot
    be read or cleaned comes back with ``error`` set (``"ErrorType: message"``).

    With ``do_clean=False`` the page is only read, checked and decoded (``text`` is
    the decoded input): a fast pass to convert or count an archive."""
    line: dict[str, Any] = {"id": rec.id, "url": rec.url, "source": source_of(rec.url), "published": None,
                            "title": None, "text": None, "removed": [], "error": None}
    if rec.error is not None:
        line["error"] = rec.error
        return line
    try:
        raw = _load(rec)
        if isinstance(raw, bytes) and len(raw) > MAX_INPUT_BYTES:
            raise InputTooLargeError(f"input is over the {MAX_INPUT_BYTES:,}-byte limit")
        if not do_clean:
            line["text"] = to_text(raw, charset=rec.charset)
            return line
        from .pipeline import clean

        kwargs: dict[str, Any] = {"url": rec.url, "content_type": rec.kind, "charset": rec.charset}
        if boilerplate is not None:
            kwargs["boilerplate"] = boilerplate
        article = clean(raw, **kwargs)
    except CleanerError as exc:
        line["error"] = _error_text(exc)
        return line
    except OSError as exc:
        line["error"] = f"unreadable file: {_error_text(exc)}"
        return line
    except Exception as exc:  # a parser bug on one odd page must not stop a crawl-sized batch
        line["error"] = f"internal error: {_error_text(exc)}"
        return line
    url = article.url or rec.url
    line.update(url=url, source=source_of(url), published=article.date, title=article.title, text=article.text,
                removed=[r.to_dict() for r in article.removed])
    return line


def source_of(url: str | None) -> str | None:
    """The publisher an article comes from, as its URL's host name (``www.`` dropped):
    what story dedup keys a site's boilerplate on."""
    if not url:
        return None
    host = urlsplit(url).hostname
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def _clean_chunk(chunk: list[Record], do_clean: bool) -> list[dict[str, Any]]:
    return [clean_record(r, do_clean=do_clean) for r in chunk]


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(parent: int) -> None:
    # Ctrl-C goes to the whole process group: the parent handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _chunks(records: Iterable[Record]) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    size = 0
    for rec in records:
        chunk.append(rec)
        size += len(rec.raw) if rec.raw is not None else 0
        if len(chunk) >= CHUNK_RECORDS or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class _Pool:
    """A process pool that comes back after a worker dies (the OOM killer, a crash in a
    C parser): the chunks in flight are cleaned again, one record at a time, and a record
    that kills its worker twice gets an error line instead of stopping the batch."""

    def __init__(self, jobs: int, do_clean: bool) -> None:
        self.jobs, self.do_clean = jobs, do_clean
        self.restarts = 0
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.jobs, initializer=_init_worker, initargs=(os.getpid(),))

    def submit(self, chunk: list[Record]) -> Future[list[dict[str, Any]]]:
        try:
            return self.executor.submit(_clean_chunk, chunk, self.do_clean)
        except BrokenProcessPool as exc:  # a worker died since the last result: fail this one too
            failed: Future[list[dict[str, Any]]] = Future()
            failed.set_exception(exc)
            return failed

    def restart(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.restarts += 1
        self.executor = self._start()

    def result(self, chunk: list[Record], fut: Future[list[dict[str, Any]]],
               window: deque[tuple[list[Record], Future[list[dict[str, Any]]]]]) -> list[dict[str, Any]]:
        try:
            return fut.result()
        except BrokenProcessPool:
            pass
        self.restart()
        lines = []
        for rec in chunk:
            try:
                lines.append(self.submit([rec]).result()[0])
            except BrokenProcessPool:
                self.restart()
                lines.append(clean_record(replace(rec, error="internal error: the worker process died while "
                                                              "cleaning this record (out of memory or a crash)")))
        # Everything else in flight went down with the old pool: send it again.
        for i, (other, old) in enumerate(window):
            if not (old.done() and old.exception() is None):
                window[i] = (other, self.submit(other))
        return lines

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def clean_stream(
    records: Iterable[Record], *, jobs: int = 1, do_clean: bool = True
) -> Iterator[tuple[Record, dict[str, Any]]]:
    """Clean records in ``jobs`` worker processes, yielding ``(record, line)`` in input
    order. At most ``jobs * CHUNKS_PER_WORKER`` chunks are in flight, so memory stays
    flat however long the input is. ``jobs=1`` cleans in this process."""
    if jobs <= 1:
        for rec in records:
            yield rec, clean_record(rec, do_clean=do_clean)
        return
    window: deque[tuple[list[Record], Future[list[dict[str, Any]]]]] = deque()
    pool = _Pool(jobs, do_clean)
    inflight = 0

    def weight(chunk: list[Record]) -> int:
        return sum(len(r.raw) for r in chunk if r.raw is not None)

    try:
        for chunk in _chunks(records):
            window.append((chunk, pool.submit(chunk)))
            inflight += weight(chunk)
            while len(window) >= jobs * CHUNKS_PER_WORKER or (inflight > MAX_INFLIGHT_BYTES and len(window) > 1):
                done, fut = window.popleft()
                inflight -= weight(done)
                yield from zip(done, pool.result(done, fut, window))
        while window:
            done, fut = window.popleft()
            yield from zip(done, pool.result(done, fut, window))
    finally:
        pool.close()


# --------------------------------------------------------------------------- output


def _os_reason(exc: OSError) -> str:
    """The system's words for a failed file operation ("No space left on device")."""
    return exc.strerror or str(exc)


def _make_folder(folder: str, output: str) -> None:
    """Create ``folder`` (and its parents) for ``output``, or raise :class:`UsageError`
    saying why not: a file in the way, no permission, a read-only system folder."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        # makedirs reports a file in the way as "File exists": name the file instead.
        blocker = folder
        while blocker and not os.path.exists(blocker):
            blocker = os.path.dirname(blocker)
        reason = f"{blocker} is a file, not a folder" if os.path.isfile(blocker) else _os_reason(exc)
        raise UsageError(f"cannot write {output}: {reason}") from None


@contextmanager
def _writing(path: str) -> Iterator[None]:
    """Turn a failed write into :class:`OutputError` naming the output. A closed pipe
    (``| head``) is not a failure and passes through as it is."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {'to stdout' if path == '-' else path}: {_os_reason(exc)}") from exc


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def dumps_line(line: dict[str, Any]) -> bytes:
    """One JSONL line, UTF-8, newline-terminated."""
    return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


#: Our lines start with the id (see :func:`dumps_line`), so resume reads just that much
#: of each line instead of parsing whole pages of text.
_ID_PREFIX = b'{"id":'
_ID_PEEK = 2048
_DECODER = json.JSONDecoder()


def _line_id(line: bytes) -> str | None:
    """The id of one complete output line, or None if the line is not one of ours."""
    if line.startswith(_ID_PREFIX):
        try:
            value, _end = _DECODER.raw_decode(line[len(_ID_PREFIX):_ID_PEEK].decode("utf-8", "ignore"))
            if isinstance(value, str):
                return value
        except ValueError:
            pass  # an id longer than the peek: parse the whole line
    try:
        obj = json.loads(line)
        return str(obj["id"])
    except (ValueError, KeyError, TypeError):
        return None


def scan_jsonl_ids(path: str | Path, *, repair: bool = True) -> tuple[DoneIds, int]:
    """Ids of the complete lines of a JSONL output (counted), and how many bytes were cut
    off. A torn last line (a kill mid-write leaves no newline) is truncated away when
    ``repair`` is true; a complete line this tool did not write is refused (UsageError): the
    file is not an output of ours, and resuming would cut it."""
    ids: list[str] = []
    good = 0
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.endswith(b"\n"):
                break
            rid = _line_id(line)
            if rid is None:
                raise UsageError(f"cannot resume into {path}: its line {n} is not an output line of "
                                 f"this tool (an id and a result); give another -o, or remove the file")
            ids.append(rid)
            good += len(line)
        end = fh.seek(0, os.SEEK_END)
    cut = end - good
    if cut and repair:
        os.truncate(path, good)
    return DoneIds(ids), cut


class JsonlSink:
    """Append-only JSONL output: each line is one ``write`` (then flushed by the OS
    when the process dies), fsynced every few seconds. ``path="-"`` is stdout."""

    def __init__(self, path: str, *, resume: bool = False) -> None:
        self.path = path
        self.done = DoneIds()
        self.repaired = 0
        self._last_sync = time.monotonic()
        self.fd = -1
        self._syncable = False
        self._stream: IO[bytes] | None = None
        if path == "-":
            if resume:
                raise UsageError("--resume needs an output file, not stdout")
            self._stream = sys.stdout.buffer
            return
        if os.path.isdir(path):
            raise UsageError(f"-o {path} is a folder; give a file to write JSONL to (or use --format txt)")
        _make_folder(os.path.dirname(os.path.abspath(path)), path)
        try:
            if resume and os.path.exists(path):
                self.done, self.repaired = scan_jsonl_ids(path)
                flags = os.O_WRONLY | os.O_APPEND
            else:
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
            self.fd = os.open(path, flags, 0o644)
        except OSError as exc:  # a file where a folder should be, no permission, /proc...
            raise UsageError(f"cannot write {path}: {_os_reason(exc)}") from None
        # fsync means something for a regular file only (/dev/null or a FIFO refuse it).
        self._syncable = stat.S_ISREG(os.fstat(self.fd).st_mode)

    def write(self, line: dict[str, Any]) -> None:
        data = dumps_line(line)
        with _writing(self.path):
            if self._stream is not None:
                self._stream.write(data)
                self._stream.flush()
            else:
                _write_all(self.fd, data)
                self._maybe_sync()

    def _maybe_sync(self) -> None:
        now = time.monotonic()
        if self._syncable and now - self._last_sync >= FSYNC_EVERY_SECONDS:
            os.fsync(self.fd)
            self._last_sync = now

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            try:
                with _writing(self.path):
                    if self._syncable:
                        os.fsync(fd)
            finally:
                os.close(fd)


class TxtTreeSink:
    """A folder of ``.txt`` files mirroring the input tree, plus a ``manifest.jsonl``
    line per article (id, file, url, title, error) that resume reads. Each text file
    is written to a temporary name and renamed, so no half-written file is left.

    Two records can map to one name (``x.html`` and ``x.html.txt``; a record ``a`` of
    ``export.jsonl`` and a file ``export/a.txt``; an id that repeats): the later one gets
    the first free ``name~N.txt`` (``~`` never occurs in a name made from a record id),
    so nothing is overwritten. Names are given in input order and resume reloads the
    ones the manifest holds, so a resumed run names files as an uninterrupted one."""

    def __init__(self, root: str, *, resume: bool = False) -> None:
        if root == "-":
            raise UsageError("--format txt writes a folder; give -o FOLDER, not -o -")
        if os.path.exists(root) and not os.path.isdir(root):
            raise UsageError(f"--format txt needs -o to be a folder; {root} is a file")
        _make_folder(root, root)
        self.root = root
        manifest = os.path.join(root, MANIFEST_NAME)
        self.manifest = JsonlSink(manifest, resume=resume)
        self.done, self.repaired = self.manifest.done, self.manifest.repaired
        self._files: set[str] = set()  # the names written (relative, "/"-separated) ...
        self._dirs: set[str] = set()  # ... and the folders they are in
        if resume and self.done:
            with open(manifest, "rb") as fh:  # complete lines only: the sink cut a torn one off
                for raw in fh:
                    name = json.loads(raw).get("file")
                    if name:
                        self._claim(name)

    def _claim(self, name: str) -> None:
        parts = name.split("/")
        self._files.add(name)
        self._dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))

    def unique_name(self, name: str) -> str:
        """``name``, or the first free variant of it (see the class); claimed for good."""
        parts = name.split("/")
        # A folder cannot take the name of a file already written, nor a file the name of
        # a file or folder.
        for i in range(len(parts) - 1):
            parts[i] = self._free(parts[:i], parts[i], lambda p: p not in self._files)
        parts[-1] = self._free(parts[:-1], parts[-1], lambda p: p not in self._files and p not in self._dirs)
        name = "/".join(parts)
        self._claim(name)
        return name

    @staticmethod
    def _free(parents: list[str], part: str, free: Callable[[str], bool]) -> str:
        base, ext = (part[:-4], ".txt") if part.endswith(".txt") else (part, "")
        candidate, n = part, 1
        while not free("/".join([*parents, candidate])):
            n += 1
            candidate = f"{base}~{n}{ext}"
        return candidate

    def write(self, line: dict[str, Any], out_name: str) -> None:
        entry = {"id": line["id"], "file": None, "url": line["url"], "title": line["title"], "error": line["error"]}
        if line["error"] is None and out_name:
            out_name = self.unique_name(out_name)
            target = os.path.join(self.root, *out_name.split("/"))
            with _writing(target):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                tmp = f"{target}.part"
                with open(tmp, "w", encoding="utf-8") as fh:
                    fh.write(line["text"] or "")
                    fh.write("\n")
                os.replace(tmp, target)
            entry["file"] = out_name
        self.manifest.write(entry)

    def close(self) -> None:
        self.manifest.close()


# --------------------------------------------------------------------------- running


@dataclass
class BatchSummary:
    """What a batch did; ``failed`` lines carry an error."""

    ok: int = 0
    failed: int = 0
    skipped: int = 0
    repaired_bytes: int = 0
    other_files: int = 0
    elapsed: float = 0.0
    interrupted: bool = False
    output_closed: bool = False
    #: Input folders in which no file of a type we read was found.
    empty_folders: list[str] = field(default_factory=list)
    #: Why writing the output failed mid-run (the run stopped there), or ``None``.
    output_error: str | None = None
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def articles(self) -> int:
        return self.ok + self.failed

    @property
    def rate(self) -> float:
        return self.articles / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        """The closing summary printed on stderr."""
        text = (f"{self.articles:,} articles: {self.ok:,} ok, {self.failed:,} failed"
                f" in {self.elapsed:.1f} s ({self.rate:.1f} articles/s)")
        if self.skipped:
            text += f"; {self.skipped:,} already done (resume)"
        if self.other_files:
            text += f"; {self.other_files:,} files of other types passed over"
        if self.interrupted:
            text += "; INTERRUPTED: run again with --resume to finish"
        if self.output_closed:
            text += "; output closed early"
        if self.output_error:
            text += "; STOPPED: the output could not be written"
        return text


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: Worker processes allowed per core: cleaning is CPU-bound, so more only costs memory
#: (each worker holds its own parser state), and a typo such as ``-j 1000000`` must not
#: fork the machine to its knees.
MAX_JOBS_PER_CORE = 4


def max_jobs() -> int:
    """The most worker processes ``--jobs`` accepts on this machine."""
    return MAX_JOBS_PER_CORE * max(1, os.cpu_count() or 1)


def _within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both resolved real paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_apart(paths: Sequence[str | Path], sources: Iterable[Source], output: str, fmt: str) -> None:
    """Refuse an output that overlaps the input: writing it would destroy an input file
    (``-o`` naming an input, perhaps through a link), or a later run would read the
    output back as input (an output inside an input folder, or an input inside a
    ``--format txt`` output folder). Paths are compared resolved (links, ``..``)."""
    if output == "-":
        return
    out = os.path.realpath(output)
    for root in paths:
        real = os.path.realpath(root)
        if os.path.isdir(real) and _within(out, real):
            raise UsageError(f"the output {output} is inside the input folder {root}: it would be overwritten "
                             f"or read back as input by the next run; write it outside {root}")
        if fmt == "txt" and _within(real, out):
            raise UsageError(f"the input {root} is inside the output folder {output}: the .txt files written "
                             f"there would overwrite it or be read back as input; write them elsewhere")
    try:
        st = os.stat(out)
    except OSError:
        return  # nothing there yet: it cannot be an input
    if not stat.S_ISREG(st.st_mode):
        return  # a folder (refused by the sink if it is one) or a device such as /dev/null
    for src in sources:
        try:
            same = os.path.samestat(os.stat(src.path), st)
        except OSError:
            continue
        if same:
            raise UsageError(f"the output {output} is the input file {src.path}: writing it would destroy "
                             f"the input; write to another file")


def run_batch(
    paths: Sequence[str | Path],
    output: str,
    *,
    fmt: str = "jsonl",
    jobs: int | None = None,
    resume: bool = False,
    do_clean: bool = True,
    dedup: bool = False,
    progress: bool | None = None,
) -> BatchSummary:
    """Clean every article under ``paths`` into ``output`` and return the summary.

    ``progress=None`` shows a bar on stderr only when stderr is a terminal. Raises
    :class:`UsageError` before doing anything when the paths or options are unusable.
    """
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise UsageError(f"jobs must be at least 1; got {jobs}")
    if jobs > max_jobs():
        raise UsageError(f"--jobs {jobs} is too many: at most {max_jobs()} here ({MAX_JOBS_PER_CORE} per core; "
                         f"cleaning is CPU-bound, the default {default_jobs()} uses every core)")
    if not do_clean:
        # Reading is serial in this process and decoding is cheap: shipping pages to
        # workers and back would cost more than it saves.
        jobs = 1
    if dedup and fmt != "jsonl":
        raise UsageError("--dedup adds fields to JSONL lines; use it with --format jsonl")
    other: list[str] = []
    sources = list(discover(paths, skipped=other))  # paths only: cheap, and checks them up front
    check_output_apart(paths, sources, output, fmt)  # before the sink opens (and truncates) anything
    sink: JsonlSink | TxtTreeSink = JsonlSink(output, resume=resume) if fmt == "jsonl" else TxtTreeSink(output, resume=resume)
    summary = BatchSummary(repaired_bytes=sink.repaired, other_files=len(other))
    summary.empty_folders = [str(root) for root in paths if os.path.isdir(root)
                             and not any(s.path.startswith(os.path.join(str(root), "")) for s in sources)]
    done = sink.done
    bar = _progress_bar(sources, progress)
    started = time.monotonic()

    def counted(records: Iterator[Record]) -> Iterator[Record]:
        for rec in records:
            if bar is not None:
                bar.update(rec.nbytes)
            yield rec

    records = counted(iter_records(sources, skip=done))
    pairs = clean_stream(records, jobs=jobs, do_clean=do_clean)
    lines: Iterator[tuple[str, dict[str, Any]]] = ((rec.out_name, line) for rec, line in pairs)
    if dedup:
        lines = _with_stories(lines, output if resume and output != "-" and done else None)
    try:
        for out_name, line in lines:
            if isinstance(sink, TxtTreeSink):
                sink.write(line, out_name)
            else:
                sink.write(line)
            if line["error"] is None:
                summary.ok += 1
            else:
                summary.failed += 1
                kind = line["error"].split(":", 1)[0]
                summary.errors[kind] = summary.errors.get(kind, 0) + 1
            if bar is not None:
                bar.set_postfix_str(f"{summary.articles:,} articles, {summary.failed:,} failed", refresh=False)
    except KeyboardInterrupt:
        summary.interrupted = True
    except BrokenPipeError:
        summary.output_closed = True
        silence_stdout()
    except OutputError as exc:
        summary.output_error = str(exc)
    finally:
        if hasattr(lines, "close"):
            lines.close()
        if bar is not None:
            bar.close()
        try:
            sink.close()
        except BrokenPipeError:  # pragma: no cover
            summary.output_closed = True
        except OutputError as exc:  # the last fsync found the disk full
            summary.output_error = summary.output_error or str(exc)
    summary.skipped = len(done)
    summary.elapsed = time.monotonic() - started
    return summary


def silence_stdout() -> None:
    # The reader of our stdout has gone (e.g. `| head`): stop Python complaining at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except OSError:  # pragma: no cover
        pass


def _progress_bar(sources: list[Source], progress: bool | None) -> Any:
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    total = sum(s.size for s in sources)
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="cleaning",
                file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


def dedup_input(line: dict[str, Any]) -> dict[str, Any]:
    """The record story dedup takes for one clean output line (the same fields
    ``cleaner dedup -`` reads from a line)."""
    return {"id": line["id"], "text": line.get("text") or "", "source": line.get("source"),
            "published": line.get("published")}


def _replayed_lines(path: str) -> Iterator[dict[str, Any]]:
    """The lines an earlier run already wrote (for rebuilding story state on resume)."""
    with open(path, "rb") as fh:
        for raw in fh:
            obj = json.loads(raw)
            obj["_replay"] = True
            yield obj


def _with_stories(
    lines: Iterator[tuple[str, dict[str, Any]]], replay_from: str | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Add ``story_id`` and ``duplicate_of`` to each clean line with the story library's
    batch dedup, in input order. On resume, the lines already in the output are fed to
    it first (and not written again), so stories continue where they stopped."""
    from .stories.batch import dedup_records

    pending: deque[tuple[str, dict[str, Any]]] = deque()
    alias: dict[str, str] = {}

    def feed() -> Iterator[dict[str, Any]]:
        if replay_from:
            for old in _replayed_lines(replay_from):
                pending.append(("", old))
                if old.get("error") is None:
                    yield dedup_input(old)
        for item in lines:
            pending.append(item)
            if item[1]["error"] is None:
                yield dedup_input(item[1])

    def release_failed() -> Iterator[tuple[str, dict[str, Any]]]:
        while pending and pending[0][1]["error"] is not None:
            out_name, line = pending.popleft()
            if not line.get("_replay"):
                line.update(story_id=None, duplicate_of=None)
                yield out_name, line

    for verdict in dedup_records(feed()):
        yield from release_failed()
        out_name, line = pending.popleft()
        if line["id"] != verdict["id"]:  # pragma: no cover - a contract breach, not bad input
            raise RuntimeError(f"story dedup answered for {verdict['id']!r} while {line['id']!r} was next")
        if line.get("_replay"):
            # The rebuilt index names stories afresh: keep the names already written.
            if verdict.get("story_id") and line.get("story_id"):
                alias.setdefault(verdict["story_id"], line["story_id"])
            continue
        if verdict.get("error"):
            line.update(story_id=None, duplicate_of=None, error=f"dedup: {verdict['error']}")
        else:
            story = verdict.get("story_id")
            line.update(story_id=alias.get(story, story), duplicate_of=verdict.get("duplicate_of"))
        yield out_name, line
    yield from release_failed()
