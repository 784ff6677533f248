"""SOQL text: the one literal-escaping function, field-name checks, and query building.

Nothing enters a query string except (a) field names that match a strict identifier pattern
AND exist in the org's describe, (b) string literals through `soql_quote`, and (c) datetime
literals we format ourselves. That is the whole defence against SOQL injection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import quote_plus

from sfsync.adapters.salesforce.errors import SalesforceFieldError
from sfsync.domain.errors import InvalidFieldName
from sfsync.domain.mapping import validate_field_name
from sfsync.domain.model import (
    BASE_FIELDS,
    COMPOUND_TYPES,
    CURSOR_FIELD,
    ContactSchema,
    FieldInfo,
    FieldType,
)
from sfsync.domain.ports import ContactQuery

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}

READ_FIELDS = (*BASE_FIELDS, CURSOR_FIELD)


def soql_quote(value: str) -> str:
    """A SOQL string literal, quotes included; other control characters become \\uXXXX."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"


def soql_datetime(moment: datetime) -> str:
    """An unquoted SOQL datetime literal in UTC with milliseconds (SystemModstamp precision)."""
    if moment.tzinfo is None:
        raise ValueError("datetimes sent to Salesforce must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def checked_field(name: str, schema: ContactSchema) -> str:
    """The canonical API name of `name`, if it is a plain field this user can see."""
    try:
        validate_field_name(name)  # the domain's strict identifier pattern
    except InvalidFieldName as err:
        raise SalesforceFieldError(err.message, error_code="INVALID_FIELD_NAME") from err
    info = schema.get(name) or _case_insensitive(name, schema)
    if info is None:
        raise SalesforceFieldError(
            f"Contact has no field {name!r} visible to this user", error_code="INVALID_FIELD"
        )
    if info.type in COMPOUND_TYPES:
        parts = ", ".join(schema.components_of(info.name)) or "its component fields"
        raise SalesforceFieldError(
            f"{info.name} is a compound field; select {parts} instead", error_code="COMPOUND_FIELD"
        )
    return info.name


def _case_insensitive(name: str, schema: ContactSchema) -> FieldInfo | None:
    lowered = name.lower()
    return next((f for f in schema.fields.values() if f.name.lower() == lowered), None)


def select_list(fields: Iterable[str], schema: ContactSchema) -> tuple[str, ...]:
    """Base fields (those visible) then the requested ones, checked, without duplicates."""
    chosen = [f for f in READ_FIELDS if schema.get(f) is not None or f == "Id"]
    for name in fields:
        canonical = checked_field(name, schema)
        if canonical not in chosen:
            chosen.append(canonical)
    return tuple(chosen)


def where_clause(
    query: ContactQuery, schema: ContactSchema, ids: Iterable[str] | None = None
) -> str:
    """The WHERE text for a ContactQuery ('' when it selects everything)."""
    conditions = []
    if query.modified_after is not None:
        stamp = soql_datetime(query.modified_after.modstamp)
        last_id = soql_quote(query.modified_after.contact_id)
        newer = f"{CURSOR_FIELD} > {stamp} OR ({CURSOR_FIELD} = {stamp} AND Id > {last_id})"
        lowest = query.modified_after.modstamp
        if query.recheck is not None:
            after, until = (soql_datetime(moment) for moment in query.recheck)
            newer += f" OR ({CURSOR_FIELD} > {after} AND {CURSOR_FIELD} <= {until})"
            lowest = min(lowest, query.recheck[0])
        # The redundant top-level range lets the SystemModstamp index do the narrowing.
        conditions.append(f"{CURSOR_FIELD} >= {soql_datetime(lowest)} AND ({newer})")
    if query.flag_field is not None:
        flag = checked_field(query.flag_field, schema)
        if schema.fields[flag].type != FieldType.BOOLEAN:
            raise SalesforceFieldError(f"{flag} is not a checkbox field", error_code="NOT_BOOLEAN")
        conditions.append(f"{flag} = true")
    if ids is not None:
        conditions.append(f"Id IN ({', '.join(soql_quote(i) for i in ids)})")
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def contacts_soql(
    query: ContactQuery, schema: ContactSchema, ids: Iterable[str] | None = None
) -> str:
    """SELECT ... FROM Contact [WHERE ...] ORDER BY SystemModstamp, Id."""
    fields = ", ".join(select_list(query.fields, schema))
    return (
        f"SELECT {fields} FROM Contact{where_clause(query, schema, ids)}"
        f" ORDER BY {CURSOR_FIELD}, Id"
    )


STAMPS_SOQL = f"SELECT Id, {CURSOR_FIELD} FROM Contact ORDER BY Id"


def email_soql(email: str) -> str:
    return f"SELECT Id FROM Contact WHERE Email = {soql_quote(email)}"


MAX_LITERAL_CHARS = 4_000  # Salesforce refuses a longer string literal in WHERE


def emails_soql(emails: Sequence[str], select: Sequence[str]) -> str:
    """The Contacts holding one of `emails` (Salesforce compares them case-insensitively)."""
    literals = ", ".join(soql_quote(email) for email in emails)
    return f"SELECT {', '.join(select)} FROM Contact WHERE Email IN ({literals}) ORDER BY Id"


def email_batches(emails: Iterable[str], select: Sequence[str], budget: int) -> Iterator[list[str]]:
    """`emails` grouped so each query, URL-encoded, takes at most `budget` bytes.

    An email SOQL cannot carry (a literal over 4,000 characters, or too long for a URL on
    its own) is left out: no Contact holds it (an Email field keeps 80 characters).
    """
    base = len(quote_plus(emails_soql((), select)))
    batch: list[str] = []
    size = base
    for email in emails:
        literal = soql_quote(email)
        cost = len(quote_plus(literal + ", "))
        if len(literal) - 2 > MAX_LITERAL_CHARS or base + cost > budget:
            continue
        if batch and size + cost > budget:
            yield batch
            batch, size = [], base
        batch.append(email)
        size += cost
    if batch:
        yield batch
