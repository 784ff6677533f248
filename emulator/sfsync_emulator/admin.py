"""Admin API for tests, the demo and benchmarks: JSON under /__admin/ (never rate-limited).

Every call needs `Authorization: Bearer <admin token>` (the token is in the ready line).
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from attrs import asdict

from sfsync_emulator.auth import Client
from sfsync_emulator.errors import ApiError
from sfsync_emulator.fields import Field
from sfsync_emulator.http import empty, json_response, read_json
from sfsync_emulator.oauth import instance_url
from sfsync_emulator.render import json_records
from sfsync_emulator.state import Fault, Org
from sfsync_emulator.values import coerce, parse_datetime
from sfsync_emulator.writes import target

FIELD_KEYS = (
    "type",
    "label",
    "length",
    "picklist",
    "restricted",
    "reference_to",
    "precision",
    "scale",
    "digits",
    "nillable",
    "updateable",
    "createable",
    "filterable",
    "formula",
)


def require_token(request: web.Request, token: str) -> None:
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {token}".encode()):
        raise ApiError(
            401,
            "INVALID_SESSION_ID",
            "the admin API needs 'Authorization: Bearer <admin token>' (see the ready line)",
        )


def _values(org: Org, body: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """Admin writes bypass field security but still type-check; SystemModstamp may be set."""
    values, stamp = {}, None
    for key, raw in body.items():
        f = org.store.schema.any(key)
        if f is None:
            raise ApiError(400, "INVALID_FIELD", f"unknown field {key}")
        if f.name == "SystemModstamp":
            stamp = parse_datetime(raw) if isinstance(raw, str) else None
            if stamp is None:
                raise ApiError(400, "JSON_PARSER_ERROR", "SystemModstamp must be ISO 8601")
        elif f.name != "Id":
            values[f.name] = coerce(f, raw) if f.type != "address" else None
    return values, stamp


def _row(org: Org, i: int) -> dict[str, Any]:
    fields = list(org.store.schema.fields.values())
    return json_records(org.store, fields, [i], "66.0")[0]


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    return body if isinstance(body, dict) else {}


def routes(org: Org) -> list[web.RouteDef]:
    r = web.RouteTableDef()

    @r.post("/__admin/reset")
    async def reset(request: web.Request) -> web.Response:
        b = await _body(request)
        org.reset(b.get("contacts"), b.get("seed"), bool(b.get("revoke_tokens")))
        return json_response({"contacts": org.store.n})

    @r.get("/__admin/state")
    async def state(request: web.Request) -> web.Response:
        s = org.store
        return json_response(
            {
                "contacts": s.live_count(),
                "recycle_bin": len(s.deleted),
                "api_max": org.api_max,
                "api_used": org.api_used,
                "session_seconds": org.auth.session_seconds,
                "hidden": sorted(s.schema.hidden),
                "read_only": sorted(s.schema.read_only),
                "jobs": len(org.jobs),
                "cursors": len(org.cursors),
            }
        )

    @r.post("/__admin/token")
    async def token(request: web.Request) -> web.Response:
        b = await _body(request)
        cid = b.get("client_id", org.config.client_id)
        refresh = org.auth.new_refresh(cid) if b.get("refresh") else None
        access = org.auth.mint(cid, refresh, b.get("lifetime_seconds"))
        return json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "instance_url": instance_url(request, org),
            }
        )

    @r.post("/__admin/contacts")
    async def create(request: web.Request) -> web.Response:
        values, stamp = _values(org, await _body(request))
        values.setdefault("LastName", "Doe")
        i = org.store.create(values, stamp)
        return json_response({"id": org.store.id_of(i)}, status=201)

    @r.get("/__admin/contacts/{rid}")
    async def read(request: web.Request) -> web.Response:
        i = org.store.index_of(request.match_info["rid"])
        if i is None:
            raise ApiError(404, "NOT_FOUND", "no such contact")
        return json_response(_row(org, i))

    @r.patch("/__admin/contacts/{rid}")
    async def update(request: web.Request) -> web.Response:
        i = target(org.store, request.match_info["rid"], rest=True)
        values, stamp = _values(org, await _body(request))
        org.store.write(i, values, stamp)
        return json_response(_row(org, i))

    @r.delete("/__admin/contacts/{rid}")
    async def delete(request: web.Request) -> web.Response:
        i = org.store.index_of(request.match_info["rid"])
        if i is None:
            raise ApiError(404, "NOT_FOUND", "no such contact")
        if request.query.get("hard", "").lower() in ("1", "true", "yes"):
            org.store.hard_delete(i)
        elif i not in org.store.deleted:
            org.store.soft_delete(i)
        if "deleted_ms" in request.query:  # backdate it in getDeleted (tests of its minutes)
            org.store.deleted_log[i] = int(request.query["deleted_ms"])
        return empty()

    @r.post("/__admin/contacts/{rid}/undelete")
    async def undelete(request: web.Request) -> web.Response:
        i = org.store.index_of(request.match_info["rid"])
        if i is None or i not in org.store.deleted:
            raise ApiError(404, "NOT_FOUND", "not in the recycle bin")
        org.store.undelete(i)
        return empty()

    @r.post("/__admin/fields")
    async def add_field(request: web.Request) -> web.Response:
        b = await _body(request)
        name = str(b.get("name", ""))
        if not name.endswith("__c") or org.store.schema.any(name):
            raise ApiError(400, "INVALID_FIELD", "custom field names end in __c and are new")
        kw = {k: b[k] for k in FIELD_KEYS if k in b}
        for key in ("picklist", "reference_to"):
            if key in kw:
                kw[key] = tuple(kw[key])
        org.store.schema.add(Field(name, custom=True, **kw))
        return json_response({"name": name}, status=201)

    @r.put("/__admin/security")
    async def security(request: web.Request) -> web.Response:
        b = await _body(request)
        org.store.schema.set_security(list(b.get("hidden", [])), list(b.get("read_only", [])))
        return empty()

    @r.get("/__admin/requests")
    async def requests(request: web.Request) -> web.Response:
        return json_response(list(org.log))

    @r.delete("/__admin/requests")
    async def clear_requests(request: web.Request) -> web.Response:
        org.log.clear()
        return empty()

    @r.put("/__admin/quota")
    async def quota(request: web.Request) -> web.Response:
        b = await _body(request)
        org.api_max = int(b.get("max", org.api_max))
        org.api_used = int(b.get("used", org.api_used))
        return json_response({"max": org.api_max, "used": org.api_used})

    @r.put("/__admin/oauth")
    async def oauth(request: web.Request) -> web.Response:
        b = await _body(request)
        auth = org.auth
        auth.session_seconds = int(b.get("session_seconds", auth.session_seconds))
        auth.rotate = bool(b.get("rotate_refresh_tokens", auth.rotate))
        auth.deny = bool(b.get("deny_authorization", auth.deny))
        return empty()

    @r.post("/__admin/tokens/expire")
    async def expire(request: web.Request) -> web.Response:
        org.auth.expire_all()
        return empty()

    @r.post("/__admin/tokens/revoke-refresh")
    async def revoke_refresh(request: web.Request) -> web.Response:
        org.auth.revoke_refresh_tokens()
        return empty()

    @r.post("/__admin/clients")
    async def clients(request: web.Request) -> web.Response:
        b = await _body(request)
        client = Client(
            str(b["client_id"]),
            str(b.get("client_secret", "")),
            list(b.get("redirect_uris", [])),
            b.get("cert_pem"),
        )
        org.auth.clients[client.client_id] = client
        return json_response({"client_id": client.client_id}, status=201)

    @r.get("/__admin/faults")
    async def faults(request: web.Request) -> web.Response:
        return json_response([asdict(f) for f in org.faults])

    @r.post("/__admin/faults")
    async def add_fault(request: web.Request) -> web.Response:
        b = await _body(request)
        try:
            org.faults.append(Fault(**b))
        except TypeError as exc:
            raise ApiError(400, "INVALID_FIELD", str(exc)) from None
        return json_response(asdict(org.faults[-1]), status=201)

    @r.delete("/__admin/faults")
    async def clear_faults(request: web.Request) -> web.Response:
        org.faults.clear()
        return empty()

    return list(r)
