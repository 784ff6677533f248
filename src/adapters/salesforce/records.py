"""Wire records to `Contact`: REST JSON objects and Bulk CSV rows.

Base fields are typed; every other selected field is kept raw in `Contact.fields` (the REST
JSON value, or the CSV string with blank turned into None) for the attribute mapping.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sfsync.adapters.salesforce.soql import READ_FIELDS
from sfsync.domain.model import Contact, SalesforceId

BATCH_SIZE = 2000


def parse_datetime(value: str | None) -> datetime | None:
    """REST `2024-01-01T00:00:00.000+0000` and Bulk `2024-01-01T00:00:00.000Z` alike."""
    return datetime.fromisoformat(value) if value else None


_NOT_EXTRA = (*READ_FIELDS, "attributes")


def contact_from_json(record: Mapping[str, Any]) -> Contact:
    fields = dict(record)  # copied at C speed, then the base fields taken out
    for name in _NOT_EXTRA:
        fields.pop(name, None)
    return Contact(
        id=SalesforceId(record["Id"]),
        email=record.get("Email"),
        first_name=record.get("FirstName"),
        last_name=record.get("LastName"),
        name=record.get("Name"),
        is_deleted=bool(record.get("IsDeleted")),
        system_modstamp=parse_datetime(record.get("SystemModstamp")),
        fields=fields,
    )


def csv_contacts(text: str, batch_size: int = BATCH_SIZE) -> Iterator[list[Contact]]:
    """Parse one Bulk results page row by row, yielding batches of at most `batch_size`."""
    return csv_contacts_from_lines(_lines(text), batch_size)


def csv_contacts_from_lines(
    lines: Iterable[str], batch_size: int = BATCH_SIZE
) -> Iterator[list[Contact]]:
    """Parse CSV lines (with their endings) as they arrive, in batches of `batch_size`.

    Columns are located once from the header; this loop runs for every row of a Bulk read.
    """
    rows = csv.reader(lines)
    header = next(rows, None)
    if header is None:
        return
    at = {name: position for position, name in enumerate(header)}
    cid, email, first, last, name, deleted, stamp = (
        at.get(f)
        for f in ("Id", "Email", "FirstName", "LastName", "Name", "IsDeleted", "SystemModstamp")
    )
    extra = [(name, at[name]) for name in header if name not in READ_FIELDS]
    batch: list[Contact] = []
    for row in rows:
        batch.append(
            Contact(
                id=SalesforceId(row[cid] if cid is not None else ""),
                email=row[email] or None if email is not None else None,
                first_name=row[first] or None if first is not None else None,
                last_name=row[last] or None if last is not None else None,
                name=row[name] or None if name is not None else None,
                is_deleted=deleted is not None and row[deleted].lower() == "true",
                system_modstamp=parse_datetime(row[stamp]) if stamp is not None else None,
                fields={field: row[i] or None for field, i in extra},
            )
        )
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def lines_of(chunks: Iterable[str]) -> Iterator[str]:
    """Lines with their endings from a stream of text chunks (quoted newlines survive)."""
    pending = ""
    for chunk in chunks:
        pending += chunk
        start = 0
        while (end := pending.find("\n", start)) >= 0:
            yield pending[start : end + 1]
            start = end + 1
        pending = pending[start:]
    if pending:
        yield pending


def _lines(text: str) -> Iterator[str]:
    """Lines with their endings, lazily (csv keeps quoted newlines intact across them)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end
