"""REST resources under /services/data/vNN.N/: describe, limits, query, records, collections."""

from __future__ import annotations

import time
from datetime import UTC
from email.utils import parsedate_to_datetime

from aiohttp import web

from sfsync_emulator import describe
from sfsync_emulator.errors import ApiError, not_found
from sfsync_emulator.http import Router, empty, json_response, read_json
from sfsync_emulator.ids import LOCATOR, make_id
from sfsync_emulator.query import run
from sfsync_emulator.render import json_records
from sfsync_emulator.state import Cursor, Org
from sfsync_emulator.values import format_datetime, parse_datetime
from sfsync_emulator.writes import (
    check_lock,
    collection_create,
    collection_update,
    prepare,
    target,
)

CURSOR_SECONDS = 2 * 86400
DAY_MS = 86_400_000
C = r"sobjects/contact"


def _batch_size(request: web.Request, default: int = 2000) -> int:
    for part in request.headers.get("Sforce-Query-Options", "").split(","):
        key, _, value = part.partition("=")
        if key.strip().lower() == "batchsize" and value.strip().isdigit():
            return min(max(int(value), 200), 2000)
    return default


def _page(org: Org, cursor_id: str, cursor: Cursor, offset: int, size: int, version: str) -> dict:
    total = len(cursor.indices)
    end = min(offset + size, total)
    body: dict = {"totalSize": total, "done": end >= total}
    if end < total:
        body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor_id}-{end}"
    body["records"] = json_records(org.store, cursor.fields, cursor.indices[offset:end], version)
    return body


async def query(
    request: web.Request, org: Org, version: str, include_deleted: bool
) -> web.Response:
    soql = request.query.get("q")
    if not soql:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    request["soql"] = soql
    plan = run(org.store, soql, include_deleted)
    if plan.count_only:
        return json_response({"totalSize": len(plan.indices), "done": True, "records": []})
    cursor = Cursor(plan.indices, plan.fields, time.time(), _batch_size(request))
    cursor_id = make_id(LOCATOR, org.next_number())
    if len(plan.indices) > cursor.batch:
        org.cursors[cursor_id] = cursor
    return json_response(_page(org, cursor_id, cursor, 0, cursor.batch, version))


async def query_more(request: web.Request, org: Org, version: str, locator: str) -> web.Response:
    cursor_id, _, offset = locator.partition("-")
    cursor = org.cursors.get(cursor_id)
    if cursor is None or not offset.isdigit() or time.time() - cursor.created > CURSOR_SECONDS:
        org.cursors.pop(cursor_id, None)
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    size = _batch_size(request, cursor.batch)
    return json_response(_page(org, cursor_id, cursor, int(offset), size, version))


async def version_root(request: web.Request, org: Org, version: str) -> web.Response:
    return json_response(describe.resources(version))


async def limits(request: web.Request, org: Org, version: str) -> web.Response:
    return json_response(describe.limits(org.api_max, org.api_used, org.limits_used))


def _unmodified(request: web.Request, org: Org) -> bool:
    """True when If-Modified-Since is at or after the schema's last change (answer 304)."""
    raw = request.headers.get("If-Modified-Since")
    try:
        since = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError):
        since = None
    if since is None:
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return org.store.schema.modified_ms <= since.timestamp() * 1000


async def sobjects(request: web.Request, org: Org, version: str) -> web.Response:
    if _unmodified(request, org):
        return empty(304)
    return json_response(describe.global_describe(version))


async def contact_info(request: web.Request, org: Org, version: str) -> web.Response:
    return json_response({"objectDescribe": describe.sobject_summary(version), "recentItems": []})


async def contact_describe(request: web.Request, org: Org, version: str) -> web.Response:
    if _unmodified(request, org):
        return empty(304)
    return json_response(describe.contact_describe(org.store.schema, version))


async def get_record(request: web.Request, org: Org, version: str, rid: str) -> web.Response:
    i = target(org.store, rid, rest=True)
    schema = org.store.schema
    wanted = request.query.get("fields")
    fields = [schema.get(n.strip()) for n in wanted.split(",")] if wanted else schema.visible()
    return json_response(json_records(org.store, fields, [i], version)[0])


async def patch_record(request: web.Request, org: Org, version: str, rid: str) -> web.Response:
    i = target(org.store, rid, rest=True)
    body = await read_json(request)
    if not body:
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body is empty or invalid")
    check_lock(request.get("fault"), org.store.id_of(i))
    org.store.write(i, prepare(org.store, body))
    request["written"] = [org.store.id_of(i)]
    return empty()


async def delete_record(request: web.Request, org: Org, version: str, rid: str) -> web.Response:
    i = target(org.store, rid, rest=True)
    check_lock(request.get("fault"), org.store.id_of(i))
    org.store.soft_delete(i)
    request["written"] = [org.store.id_of(i)]
    return empty()


async def create_record(request: web.Request, org: Org, version: str) -> web.Response:
    values = prepare(org.store, await read_json(request), create=True)
    check_lock(request.get("fault"), "")
    rid = org.store.id_of(org.store.create(values))
    request["written"] = [rid]
    return json_response({"id": rid, "success": True, "errors": []}, status=201)


async def collections(request: web.Request, org: Org, version: str) -> web.Response:
    body = await read_json(request)
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise ApiError(400, "JSON_PARSER_ERROR", "Missing required field: records")
    if len(records) > 200:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )
    all_or_none = bool(body.get("allOrNone", False))
    apply = collection_update if request.method == "PATCH" else collection_create
    results = apply(org.store, records, all_or_none, request.get("fault"))
    request["written"] = [r["id"] for r in results if r["success"]]
    return json_response(results)


def _window(request: web.Request, days: int) -> tuple[int, int, int]:
    start = parse_datetime(request.query.get("start", ""))
    end = parse_datetime(request.query.get("end", ""))
    now = int(time.time() * 1000)
    if start is None or end is None:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "start and end must be ISO 8601 dates")
    start, end = start // 60_000 * 60_000, end // 60_000 * 60_000
    if start >= end:
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate by more than one minute",
        )
    if start < now - days * DAY_MS:
        raise ApiError(
            400, "INVALID_REPLICATION_DATE", f"startDate cannot be more than {days} days ago"
        )
    return start, end, min(end, now // 60_000 * 60_000)


async def updated(request: web.Request, org: Org, version: str) -> web.Response:
    start, end, latest = _window(request, 30)
    store = org.store
    indices = [i for i in store.ordered(start, end) if i not in store.deleted]
    if len(indices) > 600_000:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "too many ids; narrow the window")
    return json_response(
        {"ids": [store.id_of(i) for i in indices], "latestDateCovered": format_datetime(latest)}
    )


async def deleted(request: web.Request, org: Org, version: str) -> web.Response:
    start, end, latest = _window(request, 15)
    store = org.store
    rows = sorted((ms, i) for i, ms in store.deleted_log.items() if start <= ms < end)
    earliest = (int(time.time() * 1000) - 15 * DAY_MS) // 60_000 * 60_000
    return json_response(
        {
            "deletedRecords": [
                {"id": store.id_of(i), "deletedDate": format_datetime(ms)} for ms, i in rows
            ],
            "earliestDateAvailable": format_datetime(earliest),
            "latestDateCovered": format_datetime(latest),
        }
    )


async def other_sobject(request: web.Request, org: Org, version: str, rest: str) -> web.Response:
    raise not_found()


def register(router: Router) -> None:
    rid = r"(?P<rid>[^/]+)"
    router.add("GET", r"", version_root)
    router.add("GET", r"limits", limits)
    router.add("GET", r"sobjects", sobjects)
    router.add("GET", C, contact_info)
    router.add("POST", C, create_record)
    router.add("GET", C + r"/describe", contact_describe)
    router.add("GET", C + r"/updated", updated)
    router.add("GET", C + r"/deleted", deleted)
    router.add("GET", C + "/" + rid, get_record)
    router.add("PATCH", C + "/" + rid, patch_record)
    router.add("DELETE", C + "/" + rid, delete_record)
    router.add("GET", r"query", lambda r, o, v: query(r, o, v, False))
    router.add("GET", r"queryAll", lambda r, o, v: query(r, o, v, True))
    router.add("GET", r"(?:query|queryAll)/(?P<locator>[^/]+)", query_more)
    router.add("PATCH", r"composite/sobjects", collections)
    router.add("POST", r"composite/sobjects", collections)
    router.add("GET", r"sobjects/(?P<rest>.+)", other_sobject)
