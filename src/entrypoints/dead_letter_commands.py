"""`sfsync dead-letters`: list, count, inspect, replay and purge dead-lettered messages.

Every subcommand that picks dead letters takes the same filter options; how a replay sends
each message at most once is in dead_letter_replay.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import click

from sfsync.adapters.postgres.dead_letters import DeadLetterFilter
from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.dead_letter_replay import replay_many, replay_one
from sfsync.entrypoints.dead_letter_view import masked, row_dict, rows_text, summary_text
from sfsync.entrypoints.terminal import JSON_OPTION, visible

TYPES = ("sync.requested", "candidate.signed_up", "unknown", "unparseable")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Age(click.ParamType):
    name = "age"

    def convert(self, value: Any, param: Any, ctx: Any) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"(\d{1,6})([smhdw])", str(value).strip())
        if match is None:
            self.fail("expected a number and a unit (s, m, h, d, w), such as 2h or 3d", param, ctx)
        return timedelta(**{_UNITS[match[2]]: int(match[1])})


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that pick dead letters, shared by list, replay and purge."""
    options = [
        click.option("--account", "account_id", help="Only this account's messages."),
        click.option("--type", "message_type", type=click.Choice(TYPES), help="Message type."),
        click.option("--reason", help="A reason code, or part of one (invalid_message, busy)."),
        click.option("--older-than", type=Age(), help="Recorded longer ago than this (3d)."),
        click.option("--newer-than", type=Age(), help="Recorded within this (2h)."),
        click.option("--replayed/--not-replayed", default=None, help="Replayed already, or not."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group("dead-letters")
def dead_letters() -> None:
    """List, count, inspect, replay and purge messages that were dead-lettered."""


@dead_letters.command("list")
@filter_options
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@JSON_OPTION
@click.pass_obj
def list_(container: Container, limit: int, as_json: bool, **where: Any) -> None:
    """The newest dead letters that match, and why they failed (never their bodies)."""
    rows = container.dead_letters().find(limit, DeadLetterFilter(**where))
    if as_json:
        click.echo(json.dumps([row_dict(r) for r in rows], indent=2))
    else:
        click.echo(rows_text(rows))


@dead_letters.command("summary")
@JSON_OPTION
@click.pass_obj
def summary(container: Container, as_json: bool) -> None:
    """How many dead letters there are per reason code, and how many wait for a replay."""
    rows = container.dead_letters().summary()
    click.echo(json.dumps([row_dict(r) for r in rows], indent=2) if as_json else summary_text(rows))


@dead_letters.command("show")
@click.argument("entry_id", type=int)
@click.option("--unmask", is_flag=True, help="Show the body as it was sent (personal data).")
@click.pass_obj
def show(container: Container, entry_id: int, unmask: bool) -> None:
    """One dead letter with its body, personal data masked unless --unmask is given.

    A body is whatever another service sent, so it may hold personal data in any field:
    ids, types, timestamps, scope and trigger are shown; emails as a***@e***.com; names
    and any other text as [masked]. --unmask shows the body as sent, to correct it for
    `replay ID --body FILE`; handle that output with care. A body that was not storable
    JSON is kept as bytes and shown (with --unmask) as `raw_text`, undecodable bytes as
    \\xNN. Control and invisible characters are escaped, so no body can drive the terminal.
    """
    row = container.dead_letters().get(entry_id)
    if row is None:
        raise click.ClickException(f"no dead letter {entry_id}")
    raw = row.pop("raw")
    if raw is not None:
        text = bytes(raw).decode("utf-8", "backslashreplace")
        row["raw_text"] = text if unmask else f"[masked: {len(raw)} bytes]"
        row["raw_truncated"] = len(raw) < (row["raw_size"] or 0)
    if not unmask:
        row["body"] = masked(row["body"])
    row["masked"] = not unmask
    shown = json.dumps(row_dict(row), default=str, indent=2, ensure_ascii=False)
    click.echo(visible(shown, keep_newlines=True))


@dead_letters.command("replay")
@click.argument("entry_id", type=int, required=False)
@click.option("--all", "everything", is_flag=True, help="Every dead letter not replayed yet.")
@filter_options
@click.option(
    "--body",
    "body_file",
    type=click.File("rb"),
    help="With ENTRY_ID: send this corrected JSON body instead (validated first).",
)
@click.pass_obj
def replay(
    container: Container,
    entry_id: int | None,
    everything: bool,
    body_file: Any,
    **options: Any,
) -> None:
    """Send dead letters to the queue again, once their cause is fixed: ENTRY_ID, the ones
    the filter options pick, or --all. Each is sent at most once (one already replayed is
    left alone), as plain contract JSON with a fresh start (no retries carried over).

    A body still invalid is not sent: correct it (`show ID --unmask`) and replay it with
    `--body FILE`; the dead letter stays recorded with a note of the replacement. Only
    sync.requested and candidate.signed_up messages are replayed by a filter or --all.
    """
    where = DeadLetterFilter(**options)
    chosen = [entry_id is not None, everything, not where.is_empty()]
    if sum(chosen) != 1:
        raise click.UsageError("give one of: an ENTRY_ID, --all, or filter options")
    if body_file is not None and entry_id is None:
        raise click.UsageError("--body replaces the body of one dead letter: give its ENTRY_ID")
    if entry_id is not None:
        replay_one(container, entry_id, body_file)
    else:
        replay_many(container, where)


@dead_letters.command("purge")
@click.option("--all", "everything", is_flag=True, help="Every dead letter.")
@filter_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def purge(container: Container, everything: bool, yes: bool, **options: Any) -> None:
    """Delete the dead letters the filter options pick (--replayed: those replayed
    already), or --all; asks first unless --yes. Prints how many were deleted."""
    where = DeadLetterFilter(**options)
    if everything == (not where.is_empty()):
        raise click.UsageError("give one of: --all, or filter options (such as --replayed)")
    store = container.dead_letters()
    count = store.count(where)
    if count == 0:
        click.echo("no dead letters match; nothing deleted")
        return
    if not yes:
        click.confirm(f"delete {count} dead letter(s)?", abort=True)
    click.echo(f"deleted {store.purge(where)} dead letter(s)")


COMMANDS = (dead_letters,)
