"""Updating Contacts: sObject Collections (200 a call) or a Bulk API 2.0 ingest job.

Both return one `WriteResult` per update, in input order, carrying Salesforce's own error code
and field names for records it refused, with a message of ours: Salesforce's text echoes the
refused value ("data value too large: <value>"), so it is never kept. Failed rows never fail
the whole batch.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sfsync.adapters.salesforce.client import SalesforceClient
from sfsync.adapters.salesforce.errors import checked_code, field_names
from sfsync.adapters.salesforce.reads import ReadSettings, wait_for_job
from sfsync.domain.model import SalesforceId
from sfsync.domain.ports import ContactUpdate, WriteResult

COLLECTION_SIZE = 200
LOCKED = "UNABLE_TO_LOCK_ROW"
NULL_CELL = "#N/A"  # Bulk ingest: set the field to null (a blank cell leaves it unchanged)


def collections_update(
    client: SalesforceClient, updates: Sequence[ContactUpdate]
) -> list[WriteResult]:
    """Records refused with UNABLE_TO_LOCK_ROW are re-sent, within the retry policy."""
    results = _collections(client, updates)
    retry = client.settings.retry
    for attempt in range(retry.attempts - 1):
        locked = [i for i, r in enumerate(results) if r.error_code == LOCKED]
        if not locked:
            break
        time.sleep(min(retry.wait_initial * 2**attempt, retry.wait_max))
        again = _collections(client, [updates[i] for i in locked])
        for i, result in zip(locked, again, strict=True):
            results[i] = result
    return results


def _collections(client: SalesforceClient, updates: Sequence[ContactUpdate]) -> list[WriteResult]:
    results: list[WriteResult] = []
    for start in range(0, len(updates), COLLECTION_SIZE):
        chunk = updates[start : start + COLLECTION_SIZE]
        records = [
            {"attributes": {"type": "Contact"}, "id": u.contact_id, **u.values} for u in chunk
        ]
        body = client.json(
            "PATCH", "composite/sobjects", json={"allOrNone": False, "records": records}
        )
        pairs = zip(chunk, body, strict=True)
        results.extend(_save_result(u.contact_id, item) for u, item in pairs)
    return results


def _save_result(contact_id: SalesforceId, item: dict[str, Any]) -> WriteResult:
    if item.get("success"):
        return WriteResult(contact_id, ok=True)
    error = (item.get("errors") or [{}])[0]
    return refused(contact_id, error.get("statusCode"), error.get("fields"))


# Our words for the codes a Contact update meets most; any other code gets the generic one.
REFUSALS = {
    "STRING_TOO_LONG": "a value is longer than the field allows",
    "DUPLICATE_VALUE": "a value duplicates another record's",
    "DUPLICATES_DETECTED": "a duplicate rule matched another record",
    "INVALID_EMAIL_ADDRESS": "not a valid email address",
    "REQUIRED_FIELD_MISSING": "a required field is blank",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "a validation rule refused the record",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "a value is not in the restricted picklist",
    "INVALID_FIELD_FOR_INSERT_UPDATE": "a field is not writable for this user",
    "ENTITY_IS_DELETED": "the Contact is deleted",
    "INVALID_CROSS_REFERENCE_KEY": "the Contact does not exist",
    "UNABLE_TO_LOCK_ROW": "the record was locked by another update",
}


def refused(contact_id: str, code: Any, fields: Any = ()) -> WriteResult:
    """A refused record: Salesforce's code and field names, and our own description."""
    checked = checked_code(code) or "UNKNOWN"
    return WriteResult(
        SalesforceId(contact_id),
        ok=False,
        error_code=checked,
        message=REFUSALS.get(checked, "Salesforce refused the update"),
        fields=field_names(fields),
    )


def bulk_update(
    client: SalesforceClient, updates: Sequence[ContactUpdate], settings: ReadSettings
) -> list[WriteResult]:
    """Create an update ingest job, upload one CSV, close it, wait, read the three result sets."""
    job = client.json(
        "POST",
        "jobs/ingest",
        json={
            "object": "Contact",
            "operation": "update",
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        },
    )
    path = f"jobs/ingest/{job['id']}"
    client.request(
        "PUT",
        f"{path}/batches",
        content=ingest_csv(updates).encode("utf-8"),
        headers={"Content-Type": "text/csv"},
    )
    client.request("PATCH", path, json={"state": "UploadComplete"})
    wait_for_job(client, path, settings)
    by_id: dict[str, WriteResult] = {}
    for row in _result_rows(client, f"{path}/successfulResults"):
        by_id[row["sf__Id"]] = WriteResult(SalesforceId(row["sf__Id"]), ok=True)
    for row in _result_rows(client, f"{path}/failedResults"):
        by_id[row["Id"]] = _failed(row["Id"], row.get("sf__Error") or "")
    for row in _result_rows(client, f"{path}/unprocessedrecords"):
        by_id[row["Id"]] = WriteResult(
            SalesforceId(row["Id"]), ok=False, error_code="UNPROCESSED", message="not processed"
        )
    return [by_id.get(u.contact_id) or _no_result(u.contact_id) for u in updates]


def _no_result(contact_id: SalesforceId) -> WriteResult:
    return WriteResult(
        contact_id,
        ok=False,
        error_code="NO_RESULT",
        message="Salesforce reported no result for this record",
    )


def ingest_csv(updates: Iterable[ContactUpdate]) -> str:
    """Id plus the union of updated fields; absent = blank (no change), None = #N/A (clear)."""
    updates = list(updates)
    columns = list(dict.fromkeys(name for u in updates for name in u.values))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Id", *columns])
    for u in updates:
        writer.writerow([u.contact_id, *(_cell(u.values, c) for c in columns)])
    return out.getvalue()


def _cell(values: Mapping[str, Any], column: str) -> str:
    if column not in values:
        return ""
    value = values[column]
    if value is None or value == "":
        return NULL_CELL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _failed(contact_id: str, error: str) -> WriteResult:
    """`sf__Error` looks like `CODE:message:fields --`; keep the code and the field names."""
    code, _, rest = error.partition(":")
    fields = rest.rpartition(":")[2].removesuffix("--").split(",") if rest.endswith("--") else ()
    return refused(contact_id, code, fields)


def _result_rows(client: SalesforceClient, path: str) -> list[dict[str, str]]:
    text = client.request("GET", path, headers={"Accept": "text/csv"}).text
    return list(csv.DictReader(io.StringIO(text))) if text.strip() else []
