"""Commands other distributions add to `sfsync`, found through the entry-point group below.

sfsync-emulator (`emulator/`) adds `emulator` and `demo`; a production install has neither,
and asking for them says how to get them. A plugin that fails to load is named on stderr and
its command reports the failure; every other command still runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

import click

GROUP = "sfsync.commands"
EMULATOR_COMMANDS = ("demo", "emulator")
NEEDS_EMULATOR = (
    "`sfsync {name}` needs the emulator, a development tool that a production install leaves"
    " out: in a checkout of sfsync run `make setup` (or `pip install -e ./emulator`)"
)
_ANY_ARGS = {"ignore_unknown_options": True, "allow_extra_args": True}


def add_plugin_commands(group: click.Group, found: Iterable[EntryPoint] | None = None) -> None:
    """Add each plugin's command to `group`, and a pointer to the emulator where it is missing."""
    for entry in entry_points(group=GROUP) if found is None else found:
        if entry.name in group.commands:
            click.echo(f"sfsync: {_origin(entry)} would replace a command; ignored", err=True)
            continue
        group.add_command(_load(entry), entry.name)
    for name in EMULATOR_COMMANDS:
        if name not in group.commands:
            group.add_command(_stand_in(name, NEEDS_EMULATOR.format(name=name)), name)


def _load(entry: EntryPoint) -> click.Command:
    try:
        command = entry.load()
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.value} is not a click command")
    except Exception as err:  # any failure of someone else's module: report it, run the rest
        message = f"{_origin(entry)} failed to load ({type(err).__name__})"
        click.echo(f"sfsync: {message}; `sfsync {entry.name}` is unavailable", err=True)
        return _stand_in(entry.name, message, err)
    return command


def _origin(entry: EntryPoint) -> str:
    dist = entry.dist.name if entry.dist is not None else "an unknown distribution"
    return f"plugin command {entry.name!r} ({entry.value} from {dist})"


def _stand_in(name: str, message: str, err: Exception | None = None) -> click.Command:
    """A hidden command that explains, whatever its arguments, why the real one is not here."""

    def explain() -> None:
        if err is not None:
            from sfsync.entrypoints.logs import render_exception

            click.echo(render_exception(err), err=True, nl=False)
        raise click.ClickException(message)

    return click.Command(
        name, callback=explain, hidden=True, add_help_option=False, context_settings=_ANY_ARGS
    )
