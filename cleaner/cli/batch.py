"""``cleaner clean PATH... -o OUT``: batch cleaning, a thin shell over :mod:`cleaner.batch`.

Exit codes: 0 every article cleaned, 1 some article failed (its line carries ``error``),
the run was interrupted or the output could not be written, 2 a usage error (nothing
was written).
"""

from __future__ import annotations

import logging
import sys

import click

from ..batch import FORMATS, UsageError, default_jobs, max_jobs, run_batch
from . import main

#: Exit status when at least one article failed or the run did not finish.
EXIT_FAILED = 1


@main.command("clean")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True))
@click.option("-o", "--output", required=True, metavar="OUT",
              help="JSONL file to write (- for stdout), or a folder with --format txt.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True,
              help="jsonl: one line per article; txt: a folder of .txt files mirroring the input tree.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help=f"Worker processes [default: all cores, here {default_jobs()}; at most {max_jobs()}].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
@click.option("--resume", is_flag=True, help="Keep what OUT already holds and clean only the rest.")
@click.option("--dedup", is_flag=True, help="Add story_id and duplicate_of to each line (story dedup).")
@click.option("--no-clean", "no_clean", is_flag=True,
              help="Only read and decode the pages (text = the decoded page), in one process: a fast conversion pass.")
def clean_command(paths: tuple[str, ...], output: str, fmt: str, jobs: int | None, quiet: bool,
                  resume: bool, dedup: bool, no_clean: bool) -> None:
    """Clean every article in PATH... (.html/.htm/.txt/.jsonl/.warc/.warc.gz files or folders).

    Writes one JSON line per article: id (file path relative to PATH, or the
    WARC-Record-ID), url, source, published, title, text, removed, error (null when
    fine). A file or record that cannot be read or cleaned gets a line with an error and
    the batch goes on. Output is in input order, so --resume after a crash or kill
    continues exactly where the output stops.

    Exit status: 0 all clean, 1 some line has an error (or interrupted, or the output
    could not be written), 2 usage error.
    """
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        # trafilatura warns about every odd link of every page; in a batch of thousands that
        # buries the summary. Its warnings come back with -v.
        logging.getLogger("trafilatura").setLevel(logging.ERROR)
    try:
        summary = run_batch(paths, output, fmt=fmt, jobs=jobs, resume=resume, do_clean=not no_clean,
                            dedup=dedup, progress=False if quiet else None)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    for folder in summary.empty_folders:
        # Even with --quiet: a folder with nothing to read is most likely the wrong folder.
        click.echo(f"Warning: no .html, .htm, .txt, .jsonl, .warc or .warc.gz files in {folder}", err=True)
    if not quiet:
        click.echo(summary.line(), err=True)
        if summary.errors:
            kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(summary.errors.items(), key=lambda kv: -kv[1]))
            click.echo(f"failures by kind: {kinds}", err=True)
    if summary.output_error:
        # Even with --quiet: the run stopped early and the output is incomplete.
        hint = "" if output == "-" else " (fix that, then run again with --resume to finish)"
        click.echo(f"Error: {summary.output_error}{hint}", err=True)
    if summary.failed or summary.interrupted or summary.output_error:
        sys.exit(EXIT_FAILED)
