"""The CLI as ops meet it: one clear line and a non-zero exit for every expected failure."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet


def sfsync(*args: str, cwd: object = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SFSYNC_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "sfsync.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        cwd=cwd,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["migrate"],
        ["worker"],
        ["demo"],
        ["emulator"],
        ["account", "set"],
        ["attribute", "add"],
        ["sync"],
        ["dead-letters", "replay"],
        ["dead-letters", "purge"],
        ["dead-letters", "summary"],
        ["connect"],
        ["disconnect"],
        ["rotate-keys"],
    ],
)
def test_every_command_has_help(command):
    result = sfsync(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_bad_configuration_names_the_variable():
    result = sfsync("migrate", DATABASE_URL="mysql://somewhere/db")
    assert result.returncode == 2
    assert "DATABASE_URL" in one_line(result)


def test_missing_database_is_one_clear_line():
    result = sfsync("migrate", DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere")
    assert result.returncode == 1
    line = one_line(result)
    assert "Postgres is not reachable" in line and "Traceback" not in result.stderr


def test_invalid_attribute_name_is_refused_before_anything_else():
    result = sfsync("attribute", "add", "acc_1", "Favorite-Color", "Favorite_Color__c")
    assert result.returncode == 1
    assert "attribute name 'Favorite-Color' is not valid" in one_line(result)


def test_hostile_field_name_is_refused():
    result = sfsync("attribute", "add", "acc_1", "name_c", "Name FROM User --")
    assert result.returncode == 1
    assert "is not a Salesforce field API name" in one_line(result)


@pytest.mark.integration
def test_migrate_twice_then_health(migrated_database_url):
    env = {"DATABASE_URL": migrated_database_url}
    assert sfsync("migrate", **env).stdout.strip() == "applied 0 migration(s)"
    health = sfsync("health", **env)
    assert health.returncode == 0
    assert "postgres: ok" in health.stdout and "rabbitmq: ok" in health.stdout


@pytest.mark.integration
def test_unknown_account_is_one_clear_line(migrated_database_url):
    result = sfsync(
        "attribute",
        "add",
        "acc_nobody",
        "favorite_color_c",
        "Favorite_Color__c",
        DATABASE_URL=migrated_database_url,
        SFSYNC_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    assert result.returncode == 1
    assert "account acc_nobody is not known" in one_line(result)


def test_an_unexpected_error_shows_its_frames_but_not_its_text(monkeypatch, capsys):
    """A bug's exception text may hold values (a KeyError of an email): only its type shows."""
    import click

    from sfsync.entrypoints import cli

    @cli.cli.command("explode")
    def explode() -> None:
        email = "ada.lovelace" + "@example.com"  # a value, not in the source line
        {}[email]

    monkeypatch.setattr(sys, "argv", ["sfsync", "explode"])
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        cli.cli.commands.pop("explode")
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert "KeyError" in err and "explode" in err and "ada.lovelace" not in err
    assert isinstance(explode, click.Command)
