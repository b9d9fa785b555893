"""``cleaner dedup INPUT.jsonl -o OUT.jsonl``: story dedup of a JSONL batch, a thin shell over
:func:`cleaner.stories.batch.dedup_records`.

Exit codes: 0 every record was indexed, 1 some record failed (its output line carries
``error``, and stderr says which line), 2 a usage error (nothing was read).
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import sys
from pathlib import Path
from collections.abc import Iterator
from typing import IO, Any

import click

from ..batch import silence_stdout
from ..errors import CleanerError, InvalidArgumentError
from . import main

#: Exit status when at least one record failed.
EXIT_FAILED = 1
#: At most this many failures are listed one by one on stderr (the rest are counted).
MAX_REPORTED = 20


def _read_jsonl(fh: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """(line number, record) per non-blank line; a line that is not UTF-8 JSON holding an
    object becomes an InvalidArgumentError. A UTF-8 byte order mark opening the file is
    skipped."""
    for n, raw in enumerate(fh, 1):
        if n == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield n, InvalidArgumentError(f"line {n}: not valid UTF-8 (byte {exc.start + 1}); "
                                          f"JSONL input must be UTF-8")
            continue
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, InvalidArgumentError(f"line {n}: not valid JSON ({exc.msg}, column {exc.colno})")
            continue
        except RecursionError:
            yield n, InvalidArgumentError(f"line {n}: JSON nested too deeply")
            continue
        if not isinstance(rec, dict):
            yield n, InvalidArgumentError(f"line {n}: a record must be a JSON object, got {type(rec).__name__}")
            continue
        yield n, rec


def _json_line(row: dict[str, Any]) -> str:
    """One output line; ids or messages holding a lone surrogate (a JSON escape such as
    "\\ud800" in the input) are written escaped rather than failing the write."""
    line = json.dumps(row, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(row)
    return line + "\n"


def _same_file(a: str, b: str) -> bool:
    if "-" in (a, b):
        return False
    try:
        return Path(a).resolve() == Path(b).resolve() or (
            Path(b).exists() and Path(a).exists() and os.path.samefile(a, b))
    except OSError:
        return False


@main.command("dedup")
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("-o", "--output", default="-", show_default=True, metavar="OUT.jsonl",
              help="Where to write one JSON line per input record (- for stdout).")
@click.option("--index", "index_target", default=None, metavar="PATH|URL",
              help="Add to this story index (SQLite file or postgresql:// URL) instead of a "
                   "fresh in-memory one, so later batches are compared with earlier ones.")
@click.option("--namespace", default="default", show_default=True, help="Namespace inside --index.")
@click.option("--window", type=click.IntRange(min=1), default=None,
              help="Records buffered to learn boilerplate before indexing [default: 20,000].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
def dedup_command(input_path: str, output: str, index_target: str | None, namespace: str,
                  window: int | None, quiet: bool) -> None:
    """Group the articles of INPUT.jsonl (or - for stdin) into stories and flag copies.

    Each input line is {"id", "text"} or {"id", "html"}, with optional "source" (outlet or
    host) and "published" (ISO date; "date" is read when it is absent, and an HTML page
    without either is dated as the page states: dates keep apart same-type events of one
    city). Recurring site furniture is learnt from the batch
    itself and removed before comparing. Writes {"id", "story_id", "duplicate_of"} per line,
    in input order (duplicate_of is null for the first of its copies); a bad line gets
    {"id", "error"}, is reported on stderr, and the run goes on.
    """
    from ..stories import StoryIndex
    from ..stories.batch import DEFAULT_WINDOW, dedup_records

    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        # A page trafilatura cannot read is reported as that record's error, once, by us.
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    if _same_file(input_path, output):
        raise click.UsageError(f"the output {output} is the input file: it would be emptied "
                               f"before it is read; write elsewhere")
    for path, what in ((input_path, "input"), (output, "output")):
        if index_target and _same_file(path, index_target):
            raise click.UsageError(f"--index {index_target} is also the {what} file; give the "
                                   f"index a file of its own")
    try:
        infile = click.open_file(input_path, "rb")
    except OSError as exc:
        raise click.UsageError(f"cannot read {input_path}: {exc.strerror or exc}") from None
    try:
        if output != "-":
            Path(output).parent.mkdir(parents=True, exist_ok=True)
        outfile = click.open_file(output, "w", encoding="utf-8")
    except OSError as exc:
        infile.close()
        raise click.UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        index = StoryIndex(index_target, namespace=namespace) if index_target else None
    except CleanerError as exc:
        infile.close()
        outfile.close()
        raise click.UsageError(f"--index: {exc}") from None
    stats = {"records": 0, "stories": set(), "duplicates": 0, "failed": 0}
    closed_early = False
    try:
        with infile, outfile as out:
            from tqdm import tqdm

            bar = tqdm(total=None, unit=" rec", file=sys.stderr, disable=True if quiet else None,
                       desc="dedup")
            records = _read_jsonl(infile)
            lines: dict[int, int] = {}

            def numbered() -> Iterator[Any]:
                for i, (n, rec) in enumerate(records):
                    lines[i] = n
                    yield rec

            for i, row in enumerate(dedup_records(numbered(), index=index,
                                                  window=window or DEFAULT_WINDOW)):
                stats["records"] += 1
                if "error" in row:
                    stats["failed"] += 1
                    if stats["failed"] <= MAX_REPORTED:
                        where = f"line {lines[i]} (id {row['id']!r}): " if i in lines else ""
                        click.echo(f"error: {where}{row['error']}", err=True)
                else:
                    stats["stories"].add(row["story_id"])  # type: ignore[union-attr]
                    stats["duplicates"] += row["duplicate_of"] is not None
                out.write(_json_line(row))
                lines.pop(i, None)
                bar.update(1)
            bar.close()
    except BrokenPipeError:  # the reader of stdout has gone (`| head`): as `cleaner clean`
        closed_early = True
        silence_stdout()
    except OSError as exc:  # the output's disk is full, or it went away
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        if index is not None:
            index.close()
    if not quiet:
        click.echo(f"{stats['records']:,} records: {len(stats['stories']):,} stories, "
                   f"{stats['duplicates']:,} duplicates, {stats['failed']:,} failed"
                   + ("; output closed early" if closed_early else ""), err=True)
    if stats["failed"]:
        sys.exit(EXIT_FAILED)
