"""Response helpers: JSON with Salesforce's content type, the three error shapes, routing."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sfsync_emulator.errors import ApiError

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"
Handler = Callable[..., Awaitable[web.StreamResponse]]


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=dumps(body), status=status, headers={"Content-Type": JSON_TYPE, **(headers or {})}
    )


def empty(status: int = 204) -> web.Response:
    return web.Response(status=status)


def error_response(err: ApiError) -> web.Response:
    return json_response(err.body(), status=err.status)


def oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return json_response({"error": error, "error_description": description}, status=status)


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise ApiError(
            400, "JSON_PARSER_ERROR", "Unexpected character: was expecting a JSON value"
        ) from None


class Router:
    """Tiny path router over the part after `/services/data/vNN.N/`."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + "$", re.I), handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = []
        for m, rx, handler in self.routes:
            match = rx.match(path)
            if match is None:
                continue
            if m == method or (m == "GET" and method == "HEAD"):
                return handler, match.groupdict()
            allowed.append(m)
        if allowed:
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are {','.join(sorted(set(allowed)))}",
            )
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
