"""Ops commands for accounts and their attribute mappings: set, show; add, list, remove."""

from __future__ import annotations

import json
from datetime import datetime

import click

from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    DeletionBehaviour,
    DuplicatePolicy,
    MappingDirection,
)
from sfsync.entrypoints.account_view import mapping_dict, overview_dict, overview_text
from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.terminal import JSON_OPTION

_VERBS = {
    MappingDirection.IMPORT: "reads",
    MappingDirection.EXPORT: "is pushed to",
    MappingDirection.TWO_WAY: "reads and is pushed to",
}


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
@click.option(
    "--direct-api/--vendor-mode",
    default=True,
    show_default=True,
    help="sfsync reads (and pushes) through the Salesforce API, or the vendor syncs.",
)
@click.option(
    "--push/--no-push",
    default=False,
    show_default=True,
    help="Push export and two-way attributes and unsubscribes to Contacts (direct API only).",
)
@click.option(
    "--unsubscribe-field",
    default="HasOptedOutOfEmail",
    show_default=True,
    help="Contact checkbox that an unsubscribe is pushed to.",
)
@click.option(
    "--time-zone",
    default="America/Los_Angeles",
    show_default=True,
    help="IANA time zone of the daily export and import (docs/scheduler.md).",
)
@click.option(
    "--export-at",
    type=click.DateTime(["%H:%M"]),
    default="23:30",
    show_default=True,
    help="Local time of the daily export (push accounts only).",
)
@click.option(
    "--import-at",
    type=click.DateTime(["%H:%M"]),
    default="00:00",
    show_default=True,
    help="Local time of the daily import.",
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
    direct_api: bool,
    push: bool,
    unsubscribe_field: str,
    time_zone: str,
    export_at: datetime,
    import_at: datetime,
) -> None:
    """Create ACCOUNT_ID or replace its settings (an option left out takes its default)."""
    from sfsync.domain.mapping import validate_field_name
    from sfsync.services.accounts import save_settings

    settings = AccountSettings(
        account_id=AccountId(account_id),
        only_import_tagged=only_tagged,
        import_flag_field=flag_field,
        deletion_field=deletion_field or None,
        deletion_behaviour=DeletionBehaviour(deletion),
        duplicate_policy=DuplicatePolicy(duplicates),
        quota_share=quota_share,
        direct_api=direct_api,
        push_enabled=push,
        unsubscribe_field=validate_field_name(unsubscribe_field),
        time_zone=time_zone,
        export_at=export_at.time(),
        import_at=import_at.time(),
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
@JSON_OPTION
@click.pass_obj
def account_show(container: Container, account_id: str, runs: int, as_json: bool) -> None:
    """ACCOUNT_ID's settings, connection (never its tokens), attributes, import marks and
    last runs (codes and counts, never a record's data)."""
    from sfsync.services.accounts import show_account

    overview = show_account(container.uow(), AccountId(account_id), runs)
    shown = overview_dict(overview)
    click.echo(json.dumps(shown, indent=2) if as_json else overview_text(shown))


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
@click.option(
    "--direction",
    type=click.Choice([d.value for d in MappingDirection]),
    default="import",
    show_default=True,
    help="import: read from the Contact; export: push to it; two_way: both.",
)
@click.pass_obj
def attribute_add(
    container: Container,
    account_id: str,
    name: str,
    field: str,
    unchecked: bool,
    direction: str,
) -> None:
    """Map attribute NAME (snake_case, custom ones end in _c) to Contact FIELD (exact API name).

    When ACCOUNT_ID is connected, FIELD is checked against the org's Contact describe first:
    a field that is missing or hidden, spelt in another case, compound, deprecated, or of a
    type an attribute cannot hold is refused, with the closest names to try; so is, for an
    export or two-way mapping, a field the connected user cannot edit.
    """
    from sfsync.domain.mapping import validate_mapping
    from sfsync.services.accounts import add_checked_attribute

    way = MappingDirection(direction)
    mapping = validate_mapping(AttributeMapping(name, field, way))  # fails fast, before I/O
    added = add_checked_attribute(
        container.uow, container.gateways(), AccountId(account_id), mapping, check=not unchecked
    )
    said = f"attribute {name} {_VERBS[way]} Contact.{field}"
    if added.field is not None:
        click.echo(f"{said} ({added.field.type}; checked against {added.checked_with})")
        return
    why = "--unchecked" if added.connected else f"account {account_id} is not connected"
    click.echo(f"{said}; not checked against the org ({why}): the next import checks it")


@attribute.command("list")
@click.argument("account_id")
@JSON_OPTION
@click.pass_obj
def attribute_list(container: Container, account_id: str, as_json: bool) -> None:
    """ACCOUNT_ID's attribute mappings, by attribute name: name, field, direction."""
    from sfsync.services.accounts import list_attributes

    mappings = list_attributes(container.uow(), AccountId(account_id))
    if as_json:
        click.echo(json.dumps([mapping_dict(m) for m in mappings], indent=2))
    elif not mappings:
        click.echo(f"account {account_id} has no attribute mappings")
    else:
        width = max(len(m.name) for m in mappings)
        field_width = max(len(m.field) for m in mappings)
        for m in mappings:
            click.echo(f"{m.name:<{width}}  {m.field:<{field_width}}  {m.direction}")


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
