"""``cleaner serve`` (the HTTP service under gunicorn) and ``cleaner keys ...`` (tenants, API keys).

Both find the store the same way: ``--db``, else ``$CLEANER_DB``, else ``./cleaner.db``.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import main

if TYPE_CHECKING:  # pragma: no cover
    from service.auth import KeyStore

_DB_HELP = "SQLite file or postgresql:// DSN of the store (default: $CLEANER_DB, else ./cleaner.db)."
#: Workers by default: one per core of the 2-core machines the service is sized for.
DEFAULT_WORKERS = 2


def _resolve_db(db: str | None) -> str:
    from service.config import default_db, is_dsn

    value = db or default_db()
    if is_dsn(value):
        return value
    path = Path(value).expanduser().resolve()
    if not path.parent.is_dir():
        raise click.ClickException(f"directory {path.parent} does not exist (for --db {value})")
    return str(path)


def _key_store(db: str | None) -> KeyStore:
    from service.auth import KeyStore, KeyStoreError

    target = _resolve_db(db)
    try:
        return KeyStore(target, os.environ.get("CLEANER_DB_SCHEMA") or "public")
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # sqlite3 or psycopg: not a database, unreachable, locked...
        if type(exc).__module__.split(".")[0] not in ("sqlite3", "psycopg"):
            raise
        raise click.ClickException(f"cannot open the store {target.split('@')[-1]}: {exc}") from None


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=DEFAULT_WORKERS, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes.")
@click.option("--db", default=None, help=_DB_HELP)
def serve(host: str, port: int, workers: int, db: str | None) -> None:
    """Run the HTTP service under gunicorn, with the same settings as the Docker image."""
    from service.config import ConfigError, build_config

    store = _key_store(db)  # fail here, with a readable line, if the store cannot be opened
    os.environ["CLEANER_DB"] = store.db
    try:  # and on a setting the workers could not start with
        build_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"serving on http://{host}:{port} (store: {store.db.split('@')[-1]}, {workers} workers); "
               "make a key with: cleaner keys create --tenant NAME", err=True)
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf",
            "--bind", f"{host}:{port}", "--workers", str(workers), "service:create_app()"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


@main.group()
def keys() -> None:
    """Make, list and revoke API keys; tenants are made with their first key."""


@keys.command("create")
@click.option("--tenant", required=True, help="Tenant name (made on first use): letters, digits, . _ -")
@click.option("--db", default=None, help=_DB_HELP)
def keys_create(tenant: str, db: str | None) -> None:
    """Make a key for TENANT and print it alone on stdout. It is shown only this once."""
    from service.auth import KeyStoreError

    store = _key_store(db)
    try:
        key, key_id = store.create_key(tenant)
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(key)
    click.echo(f"key id {key_id} for tenant {tenant}; store the key now, it cannot be shown again", err=True)


@keys.command("revoke")
@click.argument("key_id")
@click.option("--db", default=None, help=_DB_HELP)
def keys_revoke(key_id: str, db: str | None) -> None:
    """Revoke the key with KEY_ID (from `cleaner keys list`); it stops working at once."""
    if not _key_store(db).revoke(key_id):
        raise click.ClickException(f"no active key with id {key_id}")
    click.echo(f"revoked {key_id}", err=True)


@keys.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
@click.option("--db", default=None, help=_DB_HELP)
def keys_list(tenant: str | None, db: str | None) -> None:
    """List keys (id, tenant, created, revoked); never the keys themselves."""
    store = _key_store(db)
    click.echo("key_id\ttenant\tcreated\trevoked")
    for k in store.list_keys(tenant):
        click.echo(f"{k.key_id}\t{k.tenant}\t{_when(k.created)}\t{_when(k.revoked)}")


@keys.command("tenants")
@click.option("--db", default=None, help=_DB_HELP)
def keys_tenants(db: str | None) -> None:
    """List tenants with their number of active keys."""
    store = _key_store(db)
    click.echo("tenant\tcreated\tactive_keys")
    for t in store.list_tenants():
        click.echo(f"{t.name}\t{_when(t.created)}\t{t.active_keys}")
