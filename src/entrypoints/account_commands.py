"""Ops commands for accounts and their attribute mappings: set, show; add, list, remove."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import click

from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    DeletionBehaviour,
    DuplicatePolicy,
)
from sfsync.entrypoints.bootstrap import Container
from sfsync.services.reports import COUNT_KEYS

if TYPE_CHECKING:
    from sfsync.domain.ports import RunRecord
    from sfsync.services.accounts import AccountOverview

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")


@click.group("account")
def account() -> None:
    """Accounts: create one, change its settings, show what it holds."""


@account.command("set")
@click.argument("account_id")
@click.option(
    "--only-tagged/--all-contacts",
    default=False,
    help="Import only Contacts whose flag field is true.",
)
@click.option("--flag-field", default="gq_import__c", show_default=True)
@click.option(
    "--deletion-field",
    default="is_deleted__c",
    show_default=True,
    help="Checkbox that marks a Contact deleted ('' for none).",
)
@click.option(
    "--deletion",
    type=click.Choice([b.value for b in DeletionBehaviour]),
    default="keep",
    show_default=True,
)
@click.option(
    "--duplicates",
    type=click.Choice([p.value for p in DuplicatePolicy]),
    default="newest",
    show_default=True,
)
@click.option(
    "--quota-share",
    type=click.FloatRange(0.01, 1.0),
    default=0.5,
    show_default=True,
    help="Never spend more than this share of the org's daily API calls.",
)
@click.pass_obj
def account_set(
    container: Container,
    account_id: str,
    only_tagged: bool,
    flag_field: str,
    deletion_field: str,
    deletion: str,
    duplicates: str,
    quota_share: float,
) -> None:
    """Create ACCOUNT_ID or replace its settings."""
    from sfsync.services.accounts import save_settings

    settings = AccountSettings(
        account_id=AccountId(account_id),
        only_import_tagged=only_tagged,
        import_flag_field=flag_field,
        deletion_field=deletion_field or None,
        deletion_behaviour=DeletionBehaviour(deletion),
        duplicate_policy=DuplicatePolicy(duplicates),
        quota_share=quota_share,
    )
    save_settings(container.uow(), settings)
    click.echo(f"account {account_id} saved")


@account.command("show")
@click.argument("account_id")
@click.option(
    "--runs",
    type=click.IntRange(0, 50),
    default=5,
    show_default=True,
    help="How many of the last runs to show.",
)
@_JSON
@click.pass_obj
def account_show(container: Container, account_id: str, runs: int, as_json: bool) -> None:
    """ACCOUNT_ID's settings, connection (never its tokens), attributes, import marks and
    last runs (codes and counts, never a record's data)."""
    from sfsync.services.accounts import show_account

    overview = show_account(container.uow(), AccountId(account_id), runs)
    shown = overview_dict(overview)
    click.echo(json.dumps(shown, indent=2) if as_json else _text(shown))


def overview_dict(overview: AccountOverview) -> dict[str, Any]:
    """The overview as JSON-ready values; the text form is printed from the same dict."""
    settings = attrs.asdict(overview.settings, recurse=False)  # enums are str enums
    del settings["account_id"]
    connection = None
    if overview.connection is not None:
        connection = {
            "instance_url": overview.connection.instance_url,
            "login_url": overview.connection.login_url,
            "token_issued_at": _time(overview.connection.issued_at),
            "needs_reauth": overview.connection.needs_reauth,
            "tokens_readable": overview.connection.tokens_readable,
        }
    marks, cursor = overview.marks, overview.cursor
    return {
        "account_id": overview.settings.account_id,
        "settings": settings,
        "connection": connection,
        "attributes": [_mapping(m) for m in overview.mappings],
        "import": {
            "cursor": None if cursor is None else f"{_time(cursor.modstamp)} {cursor.contact_id}",
            "settled_until": _time(marks.settled_until),
            "deletes_checked_until": _time(marks.deletes_checked_until),
            "reconciled_at": _time(marks.reconciled_at),
            "full_import_pending_since": _time(marks.full_started_at),
            "fields_read": None if marks.fields is None else list(marks.fields),
        },
        "runs": [_run(run) for run in overview.runs],
    }


def _run(run: RunRecord) -> dict[str, Any]:
    """A run by its codes and numbers; its errors' messages and record ids are left out."""
    codes: dict[str, int] = {}
    for error in run.errors:
        code = str(error.get("code") or "unknown")
        codes[code] = codes.get(code, 0) + 1
    return {
        "id": run.id,
        "scope": run.scope,
        "mode": run.mode or None,
        "status": run.status,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "processed": run.processed,
        "expected": run.expected,
        "counts": _in_order(run.counts),
        "error_codes": codes,  # code -> errors kept with it (a run keeps the first 500)
    }


_COUNT_ORDER = {name: n for n, name in enumerate((*COUNT_KEYS, "skipped", "errors"))}


def _in_order(counts: Mapping[str, Any]) -> dict[str, Any]:
    """A run's counts in the report's order (Postgres' jsonb keeps its own), others last."""
    return dict(sorted(counts.items(), key=lambda kv: (_COUNT_ORDER.get(kv[0], 99), kv[0])))


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _mapping(mapping: AttributeMapping) -> dict[str, str]:
    return {"name": mapping.name, "field": mapping.field}


def _text(shown: dict[str, Any]) -> str:
    lines = [f"account {shown['account_id']}", "settings:"]
    lines += [f"  {name}: {_plain(value)}" for name, value in shown["settings"].items()]
    connection = shown["connection"]
    if connection is None:
        lines.append("connection: none (connect it: sfsync connect)")
    else:
        lines.append("connection:")
        lines += [f"  {name}: {_plain(value)}" for name, value in connection.items()]
        if not connection["tokens_readable"]:
            lines.append(f"  ! {_UNREADABLE}")
        elif connection["needs_reauth"]:
            lines.append("  ! Salesforce refused the tokens: reconnect (sfsync connect)")
    lines.append("attributes:" if shown["attributes"] else "attributes: none")
    lines += [f"  {m['name']} <- Contact.{m['field']}" for m in shown["attributes"]]
    lines.append("import:")
    for name, value in shown["import"].items():
        text = ", ".join(value) if isinstance(value, list) else _plain(value)
        lines.append(f"  {name}: {text}")
    lines.append("runs (newest first):" if shown["runs"] else "runs: none")
    for run in shown["runs"]:
        lines += _run_text(run)
    return "\n".join(lines)


_UNREADABLE = (
    "no configured key opens the stored tokens: add the key they were written with to"
    " SFSYNC_ENCRYPTION_KEYS, or reconnect (sfsync connect)"
)


def _run_text(run: dict[str, Any]) -> list[str]:
    expected = "" if run["expected"] is None else f" of {run['expected']}"
    lines = [
        f"  {run['id']}  {run['scope']}  {_plain(run['mode'])}  {run['status']}",
        f"    started {_plain(run['started_at'])}  finished {_plain(run['finished_at'])}",
        f"    processed {run['processed']}{expected}",
    ]
    counts = ", ".join(_counted(run["counts"]))
    if counts:
        lines.append(f"    counts: {counts}")
    if run["error_codes"]:
        codes = ", ".join(f"{code} ({n})" for code, n in run["error_codes"].items())
        lines.append(f"    error codes: {codes}")
    return lines


def _counted(counts: dict[str, Any], prefix: str = "") -> list[str]:
    """`name n` for every count that is not zero; nested counts (skipped) as `skipped.reason`."""
    out: list[str] = []
    for name, value in counts.items():
        if isinstance(value, dict):
            out += _counted(value, f"{prefix}{name}.")
        elif value:
            out.append(f"{prefix}{name} {value}")
    return out


def _plain(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@click.group("attribute")
def attribute() -> None:
    """Attribute mappings (attribute <- Contact field): add, list, remove."""


@attribute.command("add")
@click.argument("account_id")
@click.argument("name")
@click.argument("field")
@click.option(
    "--unchecked",
    is_flag=True,
    help="Save without reading the org's describe (the next import checks the mapping).",
)
@click.pass_obj
def attribute_add(
    container: Container, account_id: str, name: str, field: str, unchecked: bool
) -> None:
    """Map attribute NAME (snake_case, custom ones end in _c) to Contact FIELD (exact API name).

    When ACCOUNT_ID is connected, FIELD is checked against the org's Contact describe first:
    a field that is missing or hidden, spelt in another case, compound, deprecated, or of a
    type an attribute cannot hold is refused, with the closest names to try.
    """
    from sfsync.domain.mapping import validate_mapping
    from sfsync.services.accounts import add_checked_attribute

    mapping = validate_mapping(AttributeMapping(name, field))  # fails fast, before any I/O
    added = add_checked_attribute(
        container.uow, container.gateways(), AccountId(account_id), mapping, check=not unchecked
    )
    said = f"attribute {name} reads Contact.{field}"
    if added.field is not None:
        click.echo(f"{said} ({added.field.type}; checked against the org)")
        return
    why = "--unchecked" if added.connected else f"account {account_id} is not connected"
    click.echo(f"{said}; not checked against the org ({why}): the next import checks it")


@attribute.command("list")
@click.argument("account_id")
@_JSON
@click.pass_obj
def attribute_list(container: Container, account_id: str, as_json: bool) -> None:
    """ACCOUNT_ID's attribute mappings, by attribute name."""
    from sfsync.services.accounts import list_attributes

    mappings = list_attributes(container.uow(), AccountId(account_id))
    if as_json:
        click.echo(json.dumps([_mapping(m) for m in mappings], indent=2))
    elif not mappings:
        click.echo(f"account {account_id} has no attribute mappings")
    else:
        width = max(len(m.name) for m in mappings)
        for mapping in mappings:
            click.echo(f"{mapping.name:<{width}}  {mapping.field}")


@attribute.command("remove")
@click.argument("account_id")
@click.argument("name")
@click.pass_obj
def attribute_remove(container: Container, account_id: str, name: str) -> None:
    """Stop reading attribute NAME; candidates keep the values already imported for it."""
    from sfsync.services.accounts import remove_attribute

    remove_attribute(container.uow(), AccountId(account_id), name)
    click.echo(
        f"attribute {name} removed from account {account_id}; candidates keep the values"
        " already imported for it"
    )


COMMANDS = (account, attribute)
