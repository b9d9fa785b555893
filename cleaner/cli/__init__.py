"""The ``cleaner`` command. Each sub-command lives in its own module of this package and
stays a thin shell over the library: parse, call, format. This is the only place that
configures logging."""

from __future__ import annotations

import logging

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cleaner")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Clean articles, find duplicates and stories, and serve both over HTTP."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _register() -> None:
    # Sub-command modules register themselves on `main`; a missing one must not break the rest.
    import importlib

    for name in ("batch", "dedup", "service_cmds"):
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise


_register()
