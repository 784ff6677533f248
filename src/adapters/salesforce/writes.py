"""Updating Contacts: sObject Collections (200 a call) or a Bulk API 2.0 ingest job.

Both return one `WriteResult` per update, in input order, carrying Salesforce's own error code
and field names for records it refused, with a message of ours: Salesforce's text echoes the
refused value ("data value too large: <value>"), so it is never kept. Failed rows never fail
the whole batch.
"""

from __future__ import annotations

import csv
import io
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

import attrs

from sfsync.adapters.salesforce.client import SalesforceClient
from sfsync.adapters.salesforce.errors import SalesforceIncompleteRead, checked_code, field_names
from sfsync.adapters.salesforce.reads import ReadSettings, wait_for_job
from sfsync.adapters.salesforce.records import lines_of
from sfsync.domain.coercion import INTEGER_TYPES, NUMBER_TYPES
from sfsync.domain.model import ContactSchema, FieldType, SalesforceId
from sfsync.domain.ports import ContactUpdate, WriteResult

COLLECTION_SIZE = 200
LOCKED = "UNABLE_TO_LOCK_ROW"
NULL_CELL = "#N/A"  # Bulk ingest: set the field to null (a blank cell leaves it unchanged)
# One ingest job's upload. Salesforce takes 150 MB once base64-encoded; 100 MB of raw CSV
# stays under it (simple-salesforce splits there too). A bigger push runs a job per 100 MB.
UPLOAD_BYTES = 100_000_000
SPOOL_MEMORY = 4_000_000  # an upload up to this stays in memory, a bigger one goes to disk
CHUNK_BYTES = 1 << 20


def collections_update(
    client: SalesforceClient, updates: Sequence[ContactUpdate]
) -> Iterator[WriteResult]:
    """One call per 200 updates, each call's results yielded once it is answered (its
    records refused with UNABLE_TO_LOCK_ROW re-sent first, within the retry policy): when a
    later call fails, what Salesforce saved before is already known."""
    for start in range(0, len(updates), COLLECTION_SIZE):
        yield from _retrying_locked(client, updates[start : start + COLLECTION_SIZE])


def _retrying_locked(
    client: SalesforceClient, updates: Sequence[ContactUpdate]
) -> list[WriteResult]:
    results = _collection(client, updates)
    retry = client.settings.retry
    for attempt in range(retry.attempts - 1):
        locked = [i for i, r in enumerate(results) if r.error_code == LOCKED]
        if not locked:
            break
        time.sleep(min(retry.wait_initial * 2**attempt, retry.wait_max))
        again = _collection(client, [updates[i] for i in locked])
        for i, result in zip(locked, again, strict=True):
            results[i] = result
    return results


def _collection(client: SalesforceClient, updates: Sequence[ContactUpdate]) -> list[WriteResult]:
    """One sObject Collections call (at most COLLECTION_SIZE updates)."""
    records = [{"attributes": {"type": "Contact"}, "id": u.contact_id, **u.values} for u in updates]
    body = client.json("PATCH", "composite/sobjects", json={"allOrNone": False, "records": records})
    return [_save_result(u, item) for u, item in zip(updates, body, strict=True)]


def _save_result(update: ContactUpdate, item: dict[str, Any]) -> WriteResult:
    if item.get("success"):
        return WriteResult(update.contact_id, ok=True, values=update.values)
    error = (item.get("errors") or [{}])[0]
    result = refused(update.contact_id, error.get("statusCode"), error.get("fields"))
    return attrs.evolve(result, values=update.values)


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


def no_result(contact_id: SalesforceId) -> WriteResult:
    return WriteResult(
        contact_id,
        ok=False,
        error_code="NO_RESULT",
        message="Salesforce reported no result for this record",
    )


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


def bulk_update_streamed(
    client: SalesforceClient,
    schema: ContactSchema,
    columns: Sequence[str],
    updates: Iterable[ContactUpdate],
    settings: ReadSettings,
) -> Iterator[WriteResult]:
    """Ingest jobs fed from `updates` as they come: each job's CSV is spooled (to disk past
    SPOOL_MEMORY) up to UPLOAD_BYTES, uploaded in one request, closed, waited for, and its
    results streamed back carrying the values sent."""
    csv_line = _CsvLines()
    header = csv_line(["Id", *columns])
    pending = iter(updates)
    while True:
        with tempfile.SpooledTemporaryFile(SPOOL_MEMORY) as spool:
            spool.write(header)
            rows = 0
            for update in pending:
                cells = [update.contact_id, *(_cell(update.values, c) for c in columns)]
                spool.write(csv_line(cells))
                rows += 1
                if spool.tell() >= UPLOAD_BYTES - len(header):
                    break
            else:
                if rows:
                    yield from _ingest(client, schema, _Upload(spool, rows), settings)
                return
            yield from _ingest(client, schema, _Upload(spool, rows), settings)


class _CsvLines:
    """One CSV line (UTF-8) a call, from one writer and buffer for a whole job."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")

    def __call__(self, cells: Sequence[str]) -> bytes:
        self._writer.writerow(cells)
        line = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return line.encode("utf-8")


class _Upload:
    """A spooled job CSV of `rows` records: a request body that each attempt (a retry too)
    reads from the top, and its rows read back."""

    def __init__(self, spool: IO[bytes], rows: int) -> None:
        self.spool = spool
        self.rows = rows
        self.size = spool.tell()

    def __iter__(self) -> Iterator[bytes]:
        self.spool.seek(0)
        while chunk := self.spool.read(CHUNK_BYTES):
            yield chunk

    def records(self) -> Iterator[dict[str, str]]:
        self.spool.seek(0)
        return csv.DictReader(line.decode("utf-8") for line in self.spool)


def _ingest(
    client: SalesforceClient, schema: ContactSchema, upload: _Upload, settings: ReadSettings
) -> Iterator[WriteResult]:
    """One job. Salesforce puts every row in one of three result sets, and the job's counts
    say which are not empty: the refused and unprocessed rows are read (when there are
    any), the rest of the upload is what it accepted. Its successful results, a copy of
    the whole upload, are never downloaded."""
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
        content=upload,
        headers={"Content-Type": "text/csv", "Content-Length": str(upload.size)},
    )
    client.request("PATCH", path, json={"state": "UploadComplete"})
    done = wait_for_job(client, path, settings)
    failed = int(done.get("numberRecordsFailed") or 0)
    unprocessed = upload.rows - int(done.get("numberRecordsProcessed") or 0)
    answered: set[str] = set()
    if failed > 0:
        for row in _counted_rows(client, f"{path}/failedResults", failed, answered):
            refusal = _failed(row["Id"], row.get("sf__Error") or "")
            yield attrs.evolve(refusal, values=_sent(schema, row))
    if unprocessed > 0:
        for row in _counted_rows(client, f"{path}/unprocessedrecords", unprocessed, answered):
            yield WriteResult(
                SalesforceId(row["Id"]),
                ok=False,
                error_code="UNPROCESSED",
                message="not processed",
                values=_sent(schema, row),
            )
    for row in upload.records():
        if row["Id"] not in answered:
            yield WriteResult(SalesforceId(row["Id"]), ok=True, values=_sent(schema, row))


def _counted_rows(
    client: SalesforceClient, path: str, count: int, answered: set[str]
) -> Iterator[dict[str, str]]:
    """A result set's rows, each Id added to `answered`. Fewer rows than the job counted:
    the rest of the upload can't be taken as accepted, so the read ends in an error."""
    read = 0
    for row in _streamed_rows(client, path):
        answered.add(row["Id"])
        read += 1
        yield row
    if read < count:
        raise SalesforceIncompleteRead(f"{path} had {read} of the {count} rows counted")


def _streamed_rows(client: SalesforceClient, path: str) -> Iterator[dict[str, str]]:
    response = client.stream("GET", path, headers={"Accept": "text/csv"})
    try:
        yield from csv.DictReader(lines_of(response.iter_text()))
    finally:
        response.close()


def _sent(schema: ContactSchema, row: Mapping[str, str]) -> dict[str, Any]:
    """The values a result row says were sent, as the wire values they were written from
    (`_cell` in reverse; a blank cell was not sent)."""
    sent: dict[str, Any] = {}
    for name, cell in row.items():
        if name == "Id" or name.startswith("sf__") or cell == "":
            continue
        info = schema.get(name)
        kind = info.type if info is not None else FieldType.STRING
        sent[name] = _wire(kind, cell)
    return sent


def _wire(kind: FieldType, cell: str) -> Any:
    if cell == NULL_CELL:
        return None
    if kind is FieldType.BOOLEAN:
        return cell == "true"
    if kind in INTEGER_TYPES or kind in NUMBER_TYPES:
        return int(cell) if cell.lstrip("-").isdigit() else float(cell)
    return cell
