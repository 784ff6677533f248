"""Bulk API 2.0 query jobs: create, poll, paged CSV results, abort, delete."""

from __future__ import annotations

import base64
import binascii
import time

from aiohttp import web

from sfsync_emulator.errors import ApiError, not_found
from sfsync_emulator.http import CSV_TYPE, Router, empty, json_response, read_json
from sfsync_emulator.ids import JOB, make_id
from sfsync_emulator.jobs import Job, job_list, options
from sfsync_emulator.query import run
from sfsync_emulator.render import csv_header, csv_lines
from sfsync_emulator.state import Org

DEFAULT_PAGE = 100_000
LIMIT_HEADER = "limit_headers"  # request key: headers a streamed response must carry


def _job(org: Org, job_id: str, kind: str) -> Job:
    job = org.jobs.get(job_id)
    if job is None or job.kind != kind:
        raise not_found()
    return job


def encode_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def decode_locator(locator: str) -> int:
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.isdigit():
        raise ApiError(400, "INVALID_QUERY_LOCATOR", f"Invalid locator: {locator}")
    return int(text)


async def create(request: web.Request, org: Org, version: str) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict) or not body.get("query"):
        raise ApiError(400, "INVALIDJOB", "query is required")
    operation = body.get("operation")
    if operation not in ("query", "queryAll"):
        raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
    delimiter, line_ending = options(body)
    request["soql"] = body["query"]
    started = time.monotonic()
    plan = run(org.store, body["query"], operation == "queryAll")
    q = plan.query
    if q.count or q.offset:
        raise ApiError(
            400,
            "API_ERROR",
            "Implementation restriction: aggregate queries and "
            "OFFSET are not supported by Bulk API 2.0",
        )
    if any(f.type == "address" for f in plan.fields):
        raise ApiError(400, "API_ERROR", "Selecting compound data not supported in Bulk Query")
    job = Job(
        id=make_id(JOB, org.next_number()),
        kind="query",
        operation=operation,
        version=version,
        created=org.store.clock(),
        state="UploadComplete",
        delimiter=delimiter,
        line_ending=line_ending,
        query=body["query"],
        fields=plan.fields,
        indices=plan.indices,
    )
    job.processing_ms = int((time.monotonic() - started) * 1000)
    org.jobs[job.id] = job
    org.spend("DailyBulkV2QueryJobs")
    reply = json_response(job.info(False))
    job.state = "JobComplete"  # finish at once: clients poll slowly (reference quirk 8)
    return reply


async def status(request: web.Request, org: Org, version: str, job_id: str) -> web.Response:
    return json_response(_job(org, job_id, "query").info(True))


async def set_state(request: web.Request, org: Org, version: str, job_id: str) -> web.Response:
    job = _job(org, job_id, "query")
    body = await read_json(request)
    if not isinstance(body, dict) or body.get("state") != "Aborted":
        raise ApiError(400, "INVALIDJOB", "Only state Aborted can be set on a query job")
    if job.state not in ("JobComplete", "Failed"):
        job.state = "Aborted"
    return json_response(job.info(False))


async def delete(request: web.Request, org: Org, version: str, job_id: str) -> web.Response:
    _job(org, job_id, "query")
    del org.jobs[job_id]
    return empty()


async def listing(request: web.Request, org: Org, version: str) -> web.Response:
    return json_response(job_list([j for j in org.jobs.values() if j.kind == "query"]))


async def results(request: web.Request, org: Org, version: str, job_id: str) -> web.StreamResponse:
    job = _job(org, job_id, "query")
    if job.state != "JobComplete":
        raise ApiError(400, "INVALIDJOB", f"Job is not complete: {job.state}")
    raw_max = request.query.get("maxRecords", "")
    size = int(raw_max) if raw_max.isdigit() and int(raw_max) > 0 else DEFAULT_PAGE
    locator = request.query.get("locator")
    start = decode_locator(locator) if locator else 0
    end = min(start + size, len(job.indices))
    headers = {
        "Content-Type": CSV_TYPE,
        "Sforce-NumberOfRecords": str(max(end - start, 0)),
        "Sforce-Locator": encode_locator(end) if end < len(job.indices) else "null",
        **request.get(LIMIT_HEADER, {}),
    }
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    names = [f.name for f in job.fields]
    await response.write(csv_header(names, job.sep, job.newline).encode())
    for chunk in csv_lines(org.store, job.fields, job.indices[start:end], job.sep, job.newline):
        await response.write(chunk.encode())
    await response.write_eof()
    return response


def register(router: Router) -> None:
    jid = r"(?P<job_id>[^/]+)"
    router.add("POST", r"jobs/query", create)
    router.add("GET", r"jobs/query", listing)
    router.add("GET", r"jobs/query/" + jid, status)
    router.add("PATCH", r"jobs/query/" + jid, set_state)
    router.add("DELETE", r"jobs/query/" + jid, delete)
    router.add("GET", r"jobs/query/" + jid + r"/results", results)
