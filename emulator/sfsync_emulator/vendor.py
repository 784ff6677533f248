"""The vendor's CRM API under /api/crm/v1 (Merge's shapes) and its admin calls.

Errors are DRF's: `{"detail": ...}`. Every call needs `Authorization: Bearer <api key>` and
`X-Account-Token: <account token>`; the rate limit counts per account token.
"""

from __future__ import annotations

import base64
import hmac
import json
from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from attrs import asdict

from sfsync_emulator.errors import ApiError
from sfsync_emulator.fields import Field
from sfsync_emulator.http import dumps, read_json
from sfsync_emulator.ids import CONTACT, number_of
from sfsync_emulator.state import Org
from sfsync_emulator.values import parse_datetime
from sfsync_emulator.vendor_state import Cached, Vendor, vendor_id

PREFIX = "/api/crm/v1"
MAX_PAGE = 100
COMMON = frozenset({"FirstName", "LastName", "Email"})  # fields the Contact model maps
FIELD_TYPES = {"boolean": "bool", "date": "date", "datetime": "datetime", "multipicklist": "list"}
FORMATS = {"email": "email", "phone": "phone", "url": "url", "currency": "currency", "id": "uuid"}


class Drf(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def detail(status: int, message: str, **headers: str) -> Drf:
    return Drf(status, {"detail": message}, headers)


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=dumps(body),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


# --- requests ------------------------------------------------------------------------
def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _time(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    ms = parse_datetime(raw.replace(" ", "+"))
    if ms is None:
        raise Drf(400, {name: ["Enter a valid date/time."]})
    return ms


def _page_size(request: web.Request) -> int:
    raw = request.query.get("page_size", str(MAX_PAGE))
    if not raw.isdigit() or int(raw) < 1:
        raise Drf(400, {"page_size": ["A valid integer is required."]})
    return min(int(raw), MAX_PAGE)


def _cursor(key: tuple[Any, int], forward: bool) -> str:
    return base64.urlsafe_b64encode(json.dumps([*key, forward]).encode()).decode()


def _read_cursor(raw: str) -> tuple[tuple[Any, int], bool]:
    """Keys are (modified ms or field name, index); the cursor names the page's edge key."""
    try:
        first, i, forward = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError):
        raise detail(404, "Invalid cursor") from None
    if not isinstance(first, int | str) or not isinstance(i, int):
        raise detail(404, "Invalid cursor")
    return (first, i), bool(forward)


def _page(
    keys: list[Any],
    request: web.Request,
    keep: Callable[[Any], bool] = lambda _: True,
    start: int = 0,
    end: int | None = None,
) -> tuple[list[Any], str | None, str | None]:
    """Keyset paging over sorted keys[start:end], scanning only as far as one page needs.

    Returns (items, next, previous); `previous` is offered once a cursor led past the start.
    """
    size = _page_size(request)
    end = len(keys) if end is None else end
    if "cursor" not in request.query:
        found = _scan(keys, range(start, end), keep, size + 1)
        return found[:size], _cursor(found[size - 1], True) if len(found) > size else None, None
    key, forward = _read_cursor(request.query["cursor"])
    if keys and type(key[0]) is not type(keys[0][0]):
        raise detail(404, "Invalid cursor")
    pos = bisect_left(keys, key)
    if forward:
        pos = max(start, pos + 1 if pos < len(keys) and keys[pos] == key else pos)
        found = _scan(keys, range(pos, end), keep, size + 1)
        items = found[:size]
        nxt = _cursor(items[-1], True) if len(found) > size else None
        return items, nxt, _cursor(items[0], False) if items else None
    found = _scan(keys, range(min(pos, end) - 1, start - 1, -1), keep, size + 1)
    items = found[:size][::-1]
    prev = _cursor(items[0], False) if len(found) > size else None
    return items, _cursor(items[-1], True) if items else None, prev


def _scan(keys: list[Any], positions: range, keep: Callable[[Any], bool], n: int) -> list[Any]:
    out = []
    for p in positions:
        if keep(keys[p]):
            out.append(keys[p])
            if len(out) == n:
                break
    return out


# --- rendering -----------------------------------------------------------------------
def field_class(f: Field) -> dict[str, Any]:
    kind = FIELD_TYPES.get(f.type, "number" if f.type in ("int", "double", "percent") else "")
    kind = kind or ("number" if f.type in ("currency", "long") else "string")
    choices = [{"value": v, "display_name": v} for v in f.picklist] or None
    return {
        "id": vendor_id("field", f.name),
        "display_name": f.label,
        "remote_key_name": f.name,
        "description": None,
        "is_custom": f.custom,
        "is_common_model_field": f.name in COMMON,
        "is_required": not f.nillable,
        "field_type": kind,
        "field_format": FORMATS.get(f.type),
        "field_choices": choices if f.type != "multipicklist" else None,
        "item_schema": _item_schema(f),
    }


def _item_schema(f: Field) -> dict[str, Any] | None:
    if f.type != "multipicklist":
        return None
    return {"item_type": "string", "item_format": None, "item_choices": list(f.picklist)}


def contact(vendor: Vendor, row: Cached, remote_fields: bool, remote_data: bool) -> dict:
    v = row.values
    email = v.get("Email")
    targets = {t: v.get(name) for t, name in vendor.config.field_mappings.items()}
    out: dict[str, Any] = {
        "id": row.id,
        "remote_id": row.remote_id,
        "created_at": iso(row.created_ms),
        "modified_at": iso(row.modified_ms),
        "first_name": v.get("FirstName"),
        "last_name": v.get("LastName"),
        "account": v.get("AccountId") and vendor_id("account", v["AccountId"]),
        "owner": v.get("OwnerId") and vendor_id("user", v["OwnerId"]),
        "addresses": [],
        "email_addresses": [{"email_address": email, "email_address_type": "WORK"}]
        if email
        else [],
        "phone_numbers": [],
        "last_activity_at": None,
        "remote_created_at": iso(
            parse_datetime(v["CreatedDate"]) if v.get("CreatedDate") else None
        ),
        "remote_was_deleted": row.deleted,
        "field_mappings": {
            "organization_defined_targets": targets,
            "linked_account_defined_targets": {},
        },
        "remote_data": [{"path": "/sobjects/Contact", "data": row.first_values}]
        if remote_data
        else None,
    }
    if remote_fields:
        schema = vendor.store.schema.fields
        out["remote_fields"] = [
            {"remote_field_class": field_class(schema[name]), "value": value}
            for name, value in v.items()
            if name in schema
        ]
    return out


# --- the API -------------------------------------------------------------------------
def _authorise(request: web.Request, vendor: Vendor) -> None:
    config = vendor.config
    given = request.headers.get("Authorization")
    if given is None:
        raise detail(401, "Authentication credentials were not provided.")
    if not hmac.compare_digest(given.encode(), f"Bearer {config.api_key}".encode()):
        raise detail(401, "Invalid API key.")
    token = request.headers.get("X-Account-Token", "")
    if not vendor.linked or not hmac.compare_digest(token.encode(), config.account_token.encode()):
        raise detail(401, "Invalid account token.")
    wait = vendor.throttle()
    if wait is not None:
        raise detail(
            429,
            f"Request was throttled. Expected available in {wait} seconds.",
            **{"Retry-After": str(wait)},
        )


def _contacts(request: web.Request, vendor: Vendor) -> web.Response:
    q = request.query
    lo, hi = _time(request, "modified_after"), _time(request, "modified_before")
    emails = {e.strip().lower() for e in q.get("email_addresses", "").split(",") if e.strip()}
    deleted = _flag(request, "include_deleted_data")
    rows, keys = vendor.rows, vendor.order
    if "remote_id" in q:  # a lookup, not a scan
        i = number_of(q["remote_id"], CONTACT)
        keys = [(rows[i].modified_ms, i)] if i in rows else []

    def keep(key: tuple[int, int]) -> bool:
        row = rows[key[1]]
        if row.deleted and not deleted:
            return False
        return not emails or str(row.values.get("Email") or "").lower() in emails

    start = 0 if lo is None else bisect_left(keys, (lo + 1, -1))
    end = None if hi is None else bisect_left(keys, (hi, -1))
    items, nxt, prev = _page(keys, request, keep, start, end)
    results = [contact(vendor, rows[i], *_extras(request)) for _, i in items]
    return respond({"next": nxt, "previous": prev, "results": results})


def _sync_status(vendor: Vendor) -> list[dict[str, Any]]:
    nxt = vendor.last_start_ms and vendor.last_start_ms + vendor.config.sync_interval_seconds * 1000
    return [
        {
            "model_name": "Contact",
            "model_id": "crm.Contact",
            "last_sync_start": iso(vendor.last_start_ms),
            "next_sync_start": iso(nxt),
            "last_sync_result": "DONE" if vendor.syncs else None,
            "last_sync_finished": iso(vendor.last_finished_ms),
            "status": "DONE" if vendor.syncs else "SYNCING",
            "is_initial_sync": vendor.syncs <= 1,
            "selective_sync_configurations_usage": "IN_LAST_SYNC",
        }
    ]


async def api(request: web.Request, org: Org) -> web.Response:
    vendor = org.vendor
    if vendor is None:
        return respond({"detail": "Not found."}, 404)
    try:
        _authorise(request, vendor)
        path, method = request.path.removeprefix(PREFIX).rstrip("/"), request.method
        if method == "GET" and path == "/contacts":
            return _contacts(request, vendor)
        if method == "GET" and path == "/contacts/remote-field-classes":
            fields = sorted(vendor.store.schema.fields.values(), key=lambda f: f.name)
            keys = [(f.name, 0) for f in fields if f.type != "address"]
            items, nxt, prev = _page(keys, request)
            schema = vendor.store.schema.fields
            results = [field_class(schema[name]) for name, _ in items]
            return respond({"next": nxt, "previous": prev, "results": results})
        if method == "GET" and path.startswith("/contacts/"):
            i = vendor.by_id.get(path.removeprefix("/contacts/"))
            if i is None:
                raise detail(404, "Not found.")
            return respond(contact(vendor, vendor.rows[i], *_extras(request)))
        if method == "GET" and path == "/sync-status":
            return respond({"next": None, "previous": None, "results": _sync_status(vendor)})
        if method == "POST" and path == "/sync-status/resync":
            if not vendor.config.resync_allowed:
                raise detail(403, "Force resync is not available on your plan.")
            vendor.sync()
            return respond(_sync_status(vendor))
        if method == "POST" and path == "/delete-account":
            vendor.linked = False
            return web.Response(status=200)
        raise detail(404, "Not found.")
    except Drf as err:
        return respond(err.body, err.status, err.headers)


def _extras(request: web.Request) -> tuple[bool, bool]:
    return _flag(request, "include_remote_fields"), _flag(request, "include_remote_data")


def fault_response(status: int, message: str | None, retry_after: int | None) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return respond({"detail": message or "Injected fault."}, status, headers)


# --- admin ---------------------------------------------------------------------------
def admin_routes(org: Org) -> list[web.RouteDef]:
    """Registered only when the vendor is served, so `org.vendor` is always set here."""
    r = web.RouteTableDef()

    def current() -> Vendor:
        assert org.vendor is not None
        return org.vendor

    @r.post("/__admin/vendor/sync")
    async def sync(request: web.Request) -> web.Response:
        counts = current().sync()
        return respond({"syncs": current().syncs, **counts})

    @r.get("/__admin/vendor/config")
    async def get_config(request: web.Request) -> web.Response:
        return respond(asdict(current().config))

    @r.put("/__admin/vendor/config")
    async def put_config(request: web.Request) -> web.Response:
        body = await read_json(request)
        config = current().config
        for key, value in (body or {}).items():
            if key in ("api_key", "account_token") or not hasattr(config, key):
                raise ApiError(400, "INVALID_FIELD", f"unknown or fixed vendor setting {key}")
            kind = type(getattr(config, key))
            if not isinstance(value, kind) and not (kind is float and type(value) is int):
                raise ApiError(400, "INVALID_FIELD", f"{key} must be a {kind.__name__}")
            setattr(config, key, value)
        current().calls.clear()
        return respond(asdict(config))

    return list(r)
