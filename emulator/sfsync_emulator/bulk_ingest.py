"""Bulk API 2.0 ingest jobs: create Open, PUT CSV, UploadComplete, results CSVs, delete."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from aiohttp import web

from sfsync_emulator.errors import ApiError, not_found
from sfsync_emulator.fields import Field
from sfsync_emulator.http import CSV_TYPE, Router, empty, json_response, read_json
from sfsync_emulator.ids import JOB, canonical, make_id
from sfsync_emulator.jobs import Job, job_list, options
from sfsync_emulator.render import csv_header, csv_quote
from sfsync_emulator.state import Fault, Org
from sfsync_emulator.store import Store
from sfsync_emulator.values import coerce
from sfsync_emulator.writes import check_lock, duplicate_error, duplicated, target

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
BATCH_ROWS = 10_000


def _job(org: Org, job_id: str) -> Job:
    job = org.jobs.get(job_id)
    if job is None or job.kind != "ingest":
        raise not_found()
    return job


async def create(request: web.Request, org: Org, version: str) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "INVALIDJOB", "Invalid job definition")
    if str(body.get("object", "")).lower() != "contact":
        raise ApiError(
            400, "INVALIDJOB", f"Entity '{body.get('object')}' is not supported by the Bulk API."
        )
    operation = body.get("operation")
    if operation not in OPERATIONS:
        raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
    external_id = body.get("externalIdFieldName")
    if operation == "upsert" and str(external_id).lower() != "id":
        raise ApiError(400, "INVALIDJOB", "externalIdFieldName must be an External ID field")
    delimiter, line_ending = options(body)
    job = Job(
        id=make_id(JOB, org.next_number()),
        kind="ingest",
        operation=operation,
        version=version,
        created=org.store.clock(),
        state="Open",
        delimiter=delimiter,
        line_ending=line_ending,
        external_id=external_id,
    )
    org.jobs[job.id] = job
    return json_response(job.info(False))


async def upload(request: web.Request, org: Org, version: str, job_id: str) -> web.Response:
    job = _job(org, job_id)
    if job.state != "Open" or job.data is not None:
        raise ApiError(409, "INVALIDJOB", "Job is not open for data upload")
    job.data = (await request.read()).decode("utf-8-sig")
    return empty(201)


async def set_state(request: web.Request, org: Org, version: str, job_id: str) -> web.Response:
    job = _job(org, job_id)
    body = await read_json(request)
    state = body.get("state") if isinstance(body, dict) else None
    if state == "Aborted" and job.state in ("Open", "UploadComplete"):
        job.state = "Aborted"
        _abort(job)
    elif state == "UploadComplete" and job.state == "Open":
        job.state = "UploadComplete"
        reply = json_response(job.info(False))
        started = time.monotonic()
        _process(org.store, job, request.get("fault"))
        request["written"] = [row[0] for row in job.succeeded]
        rows = len(job.succeeded) + len(job.failed)
        if job.data is not None:  # Salesforce splits the upload into batches of 10,000 rows
            org.spend("DailyBulkApiBatches", max(1, -(-rows // BATCH_ROWS)))
        job.processing_ms = int((time.monotonic() - started) * 1000)
        return reply
    else:
        raise ApiError(400, "INVALIDJOB", f"Cannot change state from {job.state} to {state}")
    return json_response(job.info(False))


def _rows(job: Job) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(job.data or ""), delimiter=job.sep))
    return [r for r in rows if r]


def _abort(job: Job) -> None:
    rows = _rows(job)
    if rows:
        job.header, job.unprocessed = rows[0], rows[1:]


def _process(store: Store, job: Job, fault: Fault | None) -> None:
    rows = _rows(job)
    if not rows:
        job.state, job.error_message = "Failed", "InvalidBatch : Empty CSV file"
        return
    job.header = rows[0]
    fields = []
    for name in job.header:
        f = store.schema.find(name)
        if f is None:
            job.state, job.error_message = "Failed", f"InvalidBatch : Field name not found : {name}"
            return
        fields.append(f)
    at = next((k for k, f in enumerate(fields) if f.name == "Id"), None)
    ids = [cells[at] if at is not None and at < len(cells) else "" for cells in rows[1:]]
    twice = duplicated(ids)
    for rid, cells in zip(ids, rows[1:], strict=True):
        try:
            if canonical(rid) in twice:
                raise duplicate_error(canonical(rid))
            rid, created = _apply(store, job.operation, fields, cells, fault)
            job.succeeded.append([rid, "true" if created else "false", *cells])
        except ApiError as err:
            detail = ",".join(err.fields or [])
            job.failed.append([rid, f"{err.code}:{err.message}:{detail} --", *cells])
    job.state = "JobComplete"


def _coerce_cell(f: Field, cell: str) -> Any:
    """A CSV cell as stored; a value of the wrong type fails its row as the SOAP layer says."""
    try:
        return coerce(f, None if cell == "#N/A" else cell)
    except ApiError as err:
        if err.code != "JSON_PARSER_ERROR":
            raise
        raise ApiError(
            400,
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{f.label}: value not of required type: {cell}",
            [f.name],
        ) from None


def _apply(
    store: Store, operation: str, fields: list[Any], cells: list[str], fault: Fault | None
) -> tuple[str, bool]:
    if len(cells) != len(fields):
        raise ApiError(400, "INVALID_FIELD", "Wrong number of columns in row")
    raw_id, values = "", {}
    for f, cell in zip(fields, cells, strict=True):
        if f.name == "Id":
            raw_id = cell
        elif cell != "":  # blank = leave unchanged; #N/A = set null
            if not store.schema.is_writable(f, create=operation == "insert"):
                raise ApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {f.name}.",
                    [f.name],
                )
            values[f.name] = _coerce_cell(f, cell)
    if operation == "insert" or (operation == "upsert" and not raw_id):
        check_lock(fault, "")
        if values.get("LastName") is None:
            raise ApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [LastName]",
                ["LastName"],
            )
        return store.id_of(store.create(values)), True
    if operation == "hardDelete":
        i = store.index_of(raw_id) if raw_id else None
        if i is None:
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
    else:
        i = target(store, raw_id)
    rid = store.id_of(i)
    check_lock(fault, rid)
    if operation == "delete":
        store.soft_delete(i)
    elif operation == "hardDelete":
        store.hard_delete(i)
    else:
        store.write(i, values)
    return rid, False


async def status(request: web.Request, org: Org, version: str, job_id: str) -> web.Response:
    return json_response(_job(org, job_id).info(True))


async def delete(request: web.Request, org: Org, version: str, job_id: str) -> web.Response:
    _job(org, job_id)
    del org.jobs[job_id]
    return empty()


async def listing(request: web.Request, org: Org, version: str) -> web.Response:
    return json_response(job_list([j for j in org.jobs.values() if j.kind == "ingest"]))


async def result_csv(
    request: web.Request, org: Org, version: str, job_id: str, which: str
) -> web.Response:
    job = _job(org, job_id)
    which = which.lower()
    prefix = {
        "successfulresults": ["sf__Id", "sf__Created"],
        "failedresults": ["sf__Id", "sf__Error"],
        "unprocessedrecords": [],
    }[which]
    rows = {
        "successfulresults": job.succeeded,
        "failedresults": job.failed,
        "unprocessedrecords": job.unprocessed,
    }[which]
    nl, sep = job.newline, job.sep
    text = csv_header(prefix + job.header, sep, nl) if job.header or prefix else ""
    text += "".join(sep.join(csv_quote(c) for c in row) + nl for row in rows)
    return web.Response(body=text.encode(), headers={"Content-Type": CSV_TYPE})


def register(router: Router) -> None:
    jid = r"(?P<job_id>[^/]+)"
    router.add("POST", r"jobs/ingest", create)
    router.add("GET", r"jobs/ingest", listing)
    router.add("GET", r"jobs/ingest/" + jid, status)
    router.add("PATCH", r"jobs/ingest/" + jid, set_state)
    router.add("DELETE", r"jobs/ingest/" + jid, delete)
    router.add("PUT", r"jobs/ingest/" + jid + r"/batches", upload)
    router.add(
        "GET",
        r"jobs/ingest/" + jid + r"/(?P<which>successfulResults|failedResults|unprocessedRecords)",
        result_csv,
    )
