"""The aiohttp application: middleware (faults, log, errors, limit header) and dispatch."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from sfsync_emulator import admin, bulk_ingest, bulk_query, describe, oauth, rest, vendor
from sfsync_emulator.errors import ApiError, not_found
from sfsync_emulator.http import Router, error_response, json_response
from sfsync_emulator.state import Config, Fault, Org
from sfsync_emulator.tls import server_context

MAX_URI_BYTES = 16_384  # Salesforce answers 414 beyond (salesforce-api.md §3.3)
_VERSION = re.compile(r"/services/data/v(\d+)\.(\d+)(?:/(.*))?$")
_FAULT_CODES = {
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this "
        "ErrorId if you contact support: 1234567890-12345 (-1234567890)",
    ),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    429: ("REQUEST_LIMIT_EXCEEDED", "Too many requests"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
}


def _fault_response(fault: Fault) -> web.Response:
    status = fault.status or 503
    code, message = _FAULT_CODES.get(status, ("UNKNOWN_EXCEPTION", "Injected fault"))
    err = ApiError(status, fault.error_code or code, fault.message or message)
    response = error_response(err)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response


def build_app(org: Org) -> web.Application:
    router = Router()
    rest.register(router)
    bulk_query.register(router)
    bulk_ingest.register(router)

    def limit_headers() -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={org.api_used}/{org.api_max}"}

    async def data(request: web.Request) -> web.StreamResponse:
        m = _VERSION.match(request.path)
        if m is None:
            if request.path.rstrip("/") == "/services/data":
                return json_response(describe.versions())
            raise not_found()
        major, minor, tail = int(m[1]), int(m[2]), (m[3] or "").removesuffix("/")
        if minor == 0 and 21 <= major <= 30:
            raise ApiError(410, "GONE", f"The requested API version v{major}.0 has been retired")
        if minor != 0 or m[2] != "0" or not describe.OLDEST <= major <= describe.NEWEST:
            raise not_found()
        request["versioned"] = True
        if not org.auth.valid(request.headers.get("Authorization")):
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        handler, params = router.resolve(request.method, tail)
        if org.api_used >= org.api_max:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        org.api_used += 1
        request[bulk_query.LIMIT_HEADER] = limit_headers()
        return await handler(request, org, f"{major}.0", **params)

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        if len(request.raw_path.encode()) > MAX_URI_BYTES:
            return web.Response(status=414, text="URI Too Long")
        fault = org.take_fault(request.method, request.path)
        if fault is not None:
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.lock:
                request["fault"] = fault
        try:
            if request.path.startswith("/__admin"):
                admin.require_token(request, org.config.admin_token)
            if fault is not None and fault.status and request.path.startswith(vendor.PREFIX):
                response = vendor.fault_response(fault.status, fault.message, fault.retry_after)
            elif fault is not None and fault.status:
                response = _fault_response(fault)
            else:
                response = await handler(request)
        except ApiError as err:
            response = error_response(err)
        except web.HTTPException as exc:
            code = "NOT_FOUND" if exc.status == 404 else "METHOD_NOT_ALLOWED"
            response = error_response(ApiError(exc.status, code, exc.reason))
        if request.get("versioned") and not response.prepared:
            response.headers.update(limit_headers())
        if not request.path.startswith("/__admin"):
            org.record(
                request.method,
                request.path,
                request.query_string,
                request.get("soql"),
                response.status,
                request.get("written", []),
            )
        return response

    app = web.Application(middlewares=[middleware], client_max_size=200 * 1024**2)
    app.add_routes(admin.routes(org))
    app.router.add_get("/services/oauth2/authorize", lambda r: oauth.authorize(r, org))
    app.router.add_post("/services/oauth2/token", lambda r: oauth.token(r, org))
    app.router.add_route("*", "/services/oauth2/revoke", lambda r: oauth.revoke(r, org))
    app.router.add_route("*", "/services/data", data)
    app.router.add_route("*", "/services/data/{tail:.*}", data)
    if org.config.vendor is not None:
        app.add_routes(vendor.admin_routes(org))
        app.router.add_route("*", vendor.PREFIX + "/{tail:.*}", lambda r: vendor.api(r, org))
    return app


async def serve(config: Config) -> None:
    """Run until cancelled; print one JSON 'ready' line on stdout once listening."""
    org = Org.create(config)
    ssl_ctx, ca_path = None, None
    if config.https:
        cert_dir = Path(config.cert_dir or tempfile.mkdtemp(prefix="sfsync-emulator-"))
        ssl_ctx, ca_path = server_context(cert_dir)
    # aiohttp's default 8,190-byte request line would refuse URIs Salesforce serves.
    runner = web.AppRunner(build_app(org), access_log=None, max_line_size=4 * MAX_URI_BYTES)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if config.https else "http"
    host = f"[{config.host}]" if ":" in config.host else config.host
    ready = {
        "event": "ready",
        "base_url": f"{scheme}://{host}:{port}",
        "ca_path": str(ca_path) if ca_path else None,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "redirect_uris": config.redirect_uris,
        "contacts": config.contacts,
        "admin_token": config.admin_token,
    }
    if config.vendor is not None:
        ready["vendor_base_url"] = f"{scheme}://{host}:{port}/api"
        ready["vendor_api_key"] = config.vendor.api_key
        ready["vendor_account_token"] = config.vendor.account_token
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
