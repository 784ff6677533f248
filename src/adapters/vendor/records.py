"""A vendor Contact to a domain `Contact`, its fields in the Salesforce REST wire form.

A field is read from the Contact's `field_mappings` (a target named exactly like the API
name; the organisation's targets first) or else from `remote_fields`. `remote_data` is never
read: the vendor keeps it as first synced, so it may be stale.

The vendor's rows are untrusted: a row that Salesforce could not have sent (an Id that is not
one, a wrong-typed field, a value too long or with characters Salesforce refuses, NUL among
them, which Postgres cannot store either) is refused whole with a reason, never stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sfsync.domain.coercion import (
    INTEGER_TYPES,
    NUMBER_TYPES,
    SALESFORCE_ID_TEXT,
    UNSENDABLE,
)
from sfsync.domain.model import BASE_FIELDS, CURSOR_FIELD, Contact, FieldType, SalesforceId

READ_FIELDS = frozenset((*BASE_FIELDS, CURSOR_FIELD))  # typed on Contact, not in `fields`
MAX_TEXT = 131_072  # characters: Salesforce's longest text field (a long text area)
_MAX_DEPTH = 8  # of a field value's lists and objects


class RowRefused(Exception):
    """A vendor row left out; `reason` (a run report key) says why, never a value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_time(value: Any) -> datetime | None:
    """An ISO time in UTC (a naive one taken as UTC); None when absent. ValueError when
    not one."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("not an ISO date-time")
    moment = datetime.fromisoformat(value)
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 has no UTC datetime
        raise ValueError("out of range") from None


def is_salesforce_id(value: Any) -> bool:
    return isinstance(value, str) and SALESFORCE_ID_TEXT.fullmatch(value) is not None


def contact_from_vendor(
    row: Mapping[str, Any], fields: Sequence[str], types: Mapping[str, FieldType]
) -> Contact:
    """The Contact; RowRefused when the row cannot be one (no Salesforce Id to key it by, a
    field of the wrong type, an unstorable value). `fields` are API names beyond the base
    ones; a field the row does not carry is left out (not read), one it carries empty is
    None."""
    remote_id = row.get("remote_id")
    if remote_id is None or remote_id == "":
        raise RowRefused("no_remote_id")
    if not is_salesforce_id(remote_id):
        raise RowRefused("invalid_remote_id")
    first, last = _text(row.get("first_name")), _text(row.get("last_name"))
    carried = field_values(row) if fields else {}
    values = {
        name: wire_value(_checked(carried[name]), types.get(name, FieldType.ANYTYPE))
        for name in fields
        if name in carried
    }
    deleted = row.get("remote_was_deleted")
    if not isinstance(deleted, bool | None):
        raise RowRefused("malformed_row")
    try:
        modstamp = parse_time(row.get("modified_at"))
    except ValueError:
        raise RowRefused("malformed_row") from None
    return Contact(
        id=SalesforceId(remote_id),
        email=first_email(row.get("email_addresses")),
        first_name=first,
        last_name=last,
        name=" ".join(p for p in (first, last) if p) or None,
        is_deleted=deleted is True,
        system_modstamp=modstamp,
        fields=values,
    )


def first_email(addresses: Any) -> str | None:
    if addresses is None:
        return None
    if not isinstance(addresses, list):
        raise RowRefused("malformed_row")
    for item in addresses:
        email = _text(item.get("email_address")) if isinstance(item, Mapping) else None
        if email:
            return email
    return None


def wire_value(raw: Any, kind: FieldType) -> Any:
    """What Salesforce's REST API would answer for a field of `kind`: booleans and numbers
    as JSON ones, a multi-select as "a;b". Anything else is passed on as given (dates are
    ISO strings already); a value that does not fit is the mapping's coercion error."""
    if raw is None:
        return None
    if kind == FieldType.MULTIPICKLIST and isinstance(raw, list):
        return ";".join(str(item) for item in raw)
    if kind == FieldType.BOOLEAN and isinstance(raw, str):
        word = raw.strip().lower()
        return word == "true" if word in ("true", "false") else raw
    if kind in INTEGER_TYPES | NUMBER_TYPES and isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            return raw
        return int(number) if kind in INTEGER_TYPES and number.is_integer() else number
    return raw


def field_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """Every value the row carries by API name: `remote_fields`, overridden by the linked
    account's field mapping targets, overridden by the organisation's."""
    values: dict[str, Any] = {}
    remote = row.get("remote_fields")
    if not isinstance(remote, list | None):
        raise RowRefused("malformed_row")
    for item in remote or ():
        field_class = item.get("remote_field_class") if isinstance(item, Mapping) else None
        if isinstance(field_class, Mapping) and isinstance(field_class.get("remote_key_name"), str):
            values[field_class["remote_key_name"]] = item.get("value")
    mappings = row.get("field_mappings")
    if isinstance(mappings, Mapping):
        for side in ("linked_account_defined_targets", "organization_defined_targets"):
            targets = mappings.get(side)
            if isinstance(targets, Mapping):
                values.update(targets)
    return values


def _text(value: Any) -> str | None:
    """A text value, None when absent or empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowRefused("malformed_row")
    return _checked(value) or None


def _checked(value: Any, depth: int = 0) -> Any:
    """`value` when every text in it fits Salesforce (and Postgres); else RowRefused."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise RowRefused("value_too_long")
        if UNSENDABLE.search(value):
            raise RowRefused("invalid_characters")
    elif isinstance(value, list | dict):
        if depth >= _MAX_DEPTH:
            raise RowRefused("malformed_row")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _checked(key, depth + 1)
            _checked(item, depth + 1)
    return value
