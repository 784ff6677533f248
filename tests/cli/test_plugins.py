"""Commands from other distributions: found by entry point, explained when missing, and a
plugin that fails to load never takes the other commands down with it."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import click
import pytest
from click.testing import CliRunner

from sfsync.entrypoints.cli import cli
from sfsync.entrypoints.plugins import GROUP, add_plugin_commands
from tests.cli.test_cli import sfsync


def group_with(*entries: EntryPoint) -> click.Group:
    @click.group()
    def group() -> None: ...

    @group.command()
    def health() -> None:
        click.echo("healthy")

    add_plugin_commands(group, entries)
    return group


def entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


class TestWithoutTheEmulator:
    @pytest.mark.parametrize("command", [["demo"], ["demo", "--contacts", "10"], ["emulator"]])
    def test_demo_and_emulator_say_how_to_install_it(self, command):
        result = CliRunner().invoke(group_with(), command)
        assert result.exit_code == 1
        assert f"`sfsync {command[0]}` needs the emulator" in result.stderr
        assert "make setup" in result.stderr and "pip install -e ./emulator" in result.stderr

    def test_help_does_not_offer_them(self):
        result = CliRunner().invoke(group_with(), ["--help"])
        assert "health" in result.output
        assert "demo" not in result.output and "emulator" not in result.output


class TestWithTheEmulator:
    def test_demo_and_emulator_come_from_sfsync_emulator(self):
        from sfsync_emulator.cli import emulator
        from sfsync_emulator.demo import demo

        assert cli.commands["demo"] is demo and cli.commands["emulator"] is emulator


class TestABrokenPlugin:
    def test_is_named_and_the_other_commands_run(self, capsys):
        group = group_with(entry("broken", "tests.cli.no_such_module:command"))
        loading = capsys.readouterr().err
        assert "plugin command 'broken' (tests.cli.no_such_module:command" in loading
        assert "ModuleNotFoundError" in loading
        result = CliRunner().invoke(group, ["health"])
        assert result.exit_code == 0 and result.stdout == "healthy\n"

    def test_its_command_reports_the_failure(self):
        result = CliRunner().invoke(group_with(entry("broken", "os:getcwd")), ["broken", "-x"])
        assert result.exit_code == 1
        assert "Error: plugin command 'broken' (os:getcwd" in result.stderr
        assert "failed to load (TypeError)" in result.stderr

    def test_cannot_replace_a_command_of_sfsync(self, capsys):
        group = group_with(entry("health", "os:getcwd"))
        loading = capsys.readouterr().err
        assert "'health' (os:getcwd from an unknown distribution) would replace" in loading
        assert CliRunner().invoke(group, ["health"]).stdout == "healthy\n"


def test_a_plugin_that_raises_on_import_through_the_real_cli(tmp_path):
    """An installed distribution whose module raises: every other command works."""
    dist = tmp_path / "brokenplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\nbroken = brokenplugin:command\n")
    (tmp_path / "brokenplugin.py").write_text("raise RuntimeError('at import')\n")

    other = sfsync("keygen", PYTHONPATH=str(tmp_path))
    assert other.returncode == 0 and other.stdout.strip()
    assert "plugin command 'broken' (brokenplugin:command from brokenplugin)" in other.stderr
    broken = sfsync("broken", PYTHONPATH=str(tmp_path))
    assert broken.returncode == 1
    assert "brokenplugin.py" in broken.stderr  # the frames, for the bug report
    assert "failed to load (RuntimeError)" in broken.stderr
