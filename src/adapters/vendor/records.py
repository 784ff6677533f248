"""A vendor Contact to a domain `Contact`, its fields in the Salesforce REST wire form.

A field is read from the Contact's `field_mappings` (a target named exactly like the API
name; the organisation's targets first) or else from `remote_fields`. `remote_data` is never
read: the vendor keeps it as first synced, so it may be stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sfsync.domain.coercion import INTEGER_TYPES, NUMBER_TYPES
from sfsync.domain.model import BASE_FIELDS, CURSOR_FIELD, Contact, FieldType, SalesforceId

READ_FIELDS = frozenset((*BASE_FIELDS, CURSOR_FIELD))  # typed on Contact, not in `fields`


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value)


def contact_from_vendor(
    row: Mapping[str, Any], fields: Sequence[str], types: Mapping[str, FieldType]
) -> Contact | None:
    """The Contact, None when the row has no `remote_id` (no Salesforce Id to key it by).
    `fields` are API names beyond the base ones; a field the row does not carry is left out
    (not read), one it carries empty is None."""
    remote_id = row.get("remote_id")
    if not isinstance(remote_id, str) or not remote_id:
        return None
    first, last = _text(row.get("first_name")), _text(row.get("last_name"))
    carried = field_values(row) if fields else {}
    values = {
        name: wire_value(carried[name], types.get(name, FieldType.ANYTYPE))
        for name in fields
        if name in carried
    }
    return Contact(
        id=SalesforceId(remote_id),
        email=first_email(row.get("email_addresses")),
        first_name=first,
        last_name=last,
        name=" ".join(p for p in (first, last) if p) or None,
        is_deleted=bool(row.get("remote_was_deleted")),
        system_modstamp=parse_time(row.get("modified_at")),
        fields=values,
    )


def first_email(addresses: Any) -> str | None:
    for item in addresses or ():
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
    for item in row.get("remote_fields") or ():
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
    return value if isinstance(value, str) and value else None
