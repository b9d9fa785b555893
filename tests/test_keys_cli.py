"""``cleaner keys ...``: make, list, revoke; the key alone on stdout, once; errors as lines + exit 1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cleaner.cli import main
from service.auth import KeyStore


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(main, list(args), env=env, catch_exceptions=False)


def test_create_prints_the_key_alone_on_stdout_and_it_authenticates(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    result = run(runner, "keys", "create", "--tenant", "acme", "--db", str(db))
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 1
    key = result.stdout.strip()
    assert re.fullmatch(r"ck_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}", key)
    assert "store the key now" in result.stderr and key not in result.stderr
    principal = KeyStore(str(db)).authenticate(key)
    assert principal is not None and principal.tenant_name == "acme"


def test_db_defaults_to_the_environment_then_the_working_directory(runner: CliRunner, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    env_db = tmp_path / "env.db"
    assert run(runner, "keys", "create", "--tenant", "a", env={"CLEANER_DB": str(env_db)}).exit_code == 0
    assert env_db.exists()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLEANER_DB", raising=False)
    assert run(runner, "keys", "create", "--tenant", "b").exit_code == 0
    assert (tmp_path / "cleaner.db").exists()


def test_list_shows_key_ids_never_keys_and_revoke_disables(runner: CliRunner, tmp_path: Path) -> None:
    db = str(tmp_path / "k.db")
    key1 = run(runner, "keys", "create", "--tenant", "acme", "--db", db).stdout.strip()
    run(runner, "keys", "create", "--tenant", "acme", "--db", db)
    run(runner, "keys", "create", "--tenant", "beta", "--db", db)
    listing = run(runner, "keys", "list", "--db", db).stdout
    rows = [line.split("\t") for line in listing.strip().splitlines()[1:]]
    assert len(rows) == 3 and key1 not in listing
    key_id = key1.split("_")[1]
    assert [r[1] for r in rows if r[0] == key_id] == ["acme"]
    assert len(run(runner, "keys", "list", "--tenant", "beta", "--db", db).stdout.strip().splitlines()) == 2
    tenants = run(runner, "keys", "tenants", "--db", db).stdout
    assert "acme\t" in tenants and tenants.strip().splitlines()[1].endswith("\t2")

    assert run(runner, "keys", "revoke", key_id, "--db", db).exit_code == 0
    assert KeyStore(db).authenticate(key1) is None
    revoked = [r for r in (line.split("\t") for line in run(runner, "keys", "list", "--db", db).stdout.splitlines())
               if r[0] == key_id]
    assert revoked[0][3] != "-"
    again = runner.invoke(main, ["keys", "revoke", key_id, "--db", db])
    assert again.exit_code == 1 and "no active key" in again.stderr


@pytest.mark.parametrize("args", [
    ["keys", "create", "--tenant", "has space"],
    ["keys", "create", "--tenant", ""],
    ["keys", "create", "--tenant", "-leading-dash"],
    ["keys", "revoke", "000000000000"],
])
def test_bad_input_is_an_error_line_and_exit_1(runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    result = runner.invoke(main, [*args, "--db", str(tmp_path / "k.db")])
    assert result.exit_code in (1, 2)
    assert result.stderr.startswith("Error") or "Error:" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_missing_directory_for_db_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["keys", "list", "--db", str(tmp_path / "no" / "such" / "k.db")])
    assert result.exit_code == 1 and "does not exist" in result.stderr


@pytest.mark.parametrize("args", [["keys", "list"], ["keys", "tenants"], ["keys", "create", "--tenant", "acme"],
                                  ["keys", "revoke", "k_0123"], ["serve"]])
def test_a_store_that_is_not_a_database_is_an_error_line(runner: CliRunner, tmp_path: Path,
                                                        args: list[str]) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("my notes, not a database\n" * 50, encoding="utf-8")
    result = runner.invoke(main, [*args, "--db", str(notes)])
    assert result.exit_code == 1 and "not a database" in result.stderr
    assert result.stdout == ""  # not even a header line
    assert isinstance(result.exception, SystemExit)  # click's exit, not a traceback


def test_serve_refuses_an_unusable_store_before_starting(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["serve", "--db", str(tmp_path / "missing-dir" / "x.db")])
    assert result.exit_code == 1 and "does not exist" in result.stderr


@pytest.mark.parametrize(("env", "value"), [("CLEANER_STORY_WINDOW", "0"), ("CLEANER_STORY_WINDOW", "lots"),
                                            ("CLEANER_MAX_BATCH", "-3")])
def test_serve_refuses_a_bad_number_setting_before_starting(runner: CliRunner, tmp_path: Path, env: str,
                                                            value: str) -> None:
    # Refused before gunicorn starts: an error line naming the variable, exit 1, no traceback.
    result = runner.invoke(main, ["serve", "--db", str(tmp_path / "s.db")], env={env: value})
    assert result.exit_code == 1 and env in result.stderr and repr(value) in result.stderr
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", [["serve"], ["keys"], ["keys", "create"], ["keys", "list"],
                                     ["keys", "revoke"], ["keys", "tenants"]])
def test_every_service_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = run(runner, *command, "--help")
    assert result.exit_code == 0 and len(result.stdout) > 80


def test_readme_shows_every_service_command() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The service"):]
    for command in ("cleaner serve", "cleaner keys create --tenant", "cleaner keys list", "cleaner keys tenants",
                    "cleaner keys revoke", "bash scripts/serve.sh"):
        assert command in section or command in readme, command
