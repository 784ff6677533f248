"""A scripted vendor behind httpx.MockTransport, and adapters wired to it with a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import httpx

from sfsync.adapters.vendor.client import VendorClient
from sfsync.adapters.vendor.contacts import VendorContacts
from sfsync.adapters.vendor.settings import VendorSettings

BASE = "https://vendor.example/api"
ROOT = f"{BASE}/crm/v1"
API_KEY = "key-123-secret"
TOKEN = "account-token-456"


class FakeClock:
    """Time that moves only when slept through (or advanced by a test)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@attrs.define
class FakeVendor:
    """`routes` answer by path (under /crm/v1); a list of responses is served in order,
    the last one repeated. Every request is kept."""

    routes: dict[str, Any] = attrs.field(factory=dict)
    requests: list[httpx.Request] = attrs.field(factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/crm/v1")
        answer = self.routes.get(path)
        if answer is None:
            return httpx.Response(404, json={"detail": "Not found."})
        if callable(answer):
            answer = answer(request)
        elif isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        answer.read()  # a response served again is read from memory, as a new one would be
        return answer

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix("/api/crm/v1") for r in self.requests]


def pages(rows: list[dict[str, Any]], size: int) -> Callable[[httpx.Request], httpx.Response]:
    """Cursor paging over `rows` (the cursor is the next offset, as opaque text)."""

    def answer(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor", "0"))
        end = start + size
        nxt = str(end) if end < len(rows) else None
        return httpx.Response(200, json={"next": nxt, "previous": None, "results": rows[start:end]})

    return answer


def client(vendor: FakeVendor, clock: FakeClock | None = None, **settings: Any) -> VendorClient:
    clock = clock or FakeClock()
    config = VendorSettings(BASE, API_KEY, **{"rate_per_minute": 0, **settings})
    http = httpx.Client(transport=httpx.MockTransport(vendor.handle))
    return VendorClient(config, TOKEN, http, sleep=clock.sleep, clock=clock)


def contacts(vendor: FakeVendor, clock: FakeClock | None = None, **settings: Any) -> VendorContacts:
    return VendorContacts(client(vendor, clock, **settings))


def row(remote_id: str | None, modified_at: str = "2026-01-02T03:04:05.678Z", **extra: Any) -> dict:
    """A vendor Contact as Merge shapes it."""
    return {
        "id": f"uuid-{remote_id}",
        "remote_id": remote_id,
        "first_name": extra.pop("first_name", "Ada"),
        "last_name": extra.pop("last_name", "Lovelace"),
        "email_addresses": extra.pop(
            "email_addresses", [{"email_address": f"{remote_id}@example.org"}]
        ),
        "modified_at": modified_at,
        "remote_was_deleted": extra.pop("remote_was_deleted", False),
        "field_mappings": extra.pop(
            "field_mappings",
            {"organization_defined_targets": {}, "linked_account_defined_targets": {}},
        ),
        "remote_data": extra.pop("remote_data", None),
        **extra,
    }


def remote_field(name: str, value: Any, field_type: str = "string", **klass: Any) -> dict:
    return {
        "remote_field_class": {"remote_key_name": name, "field_type": field_type, **klass},
        "value": value,
    }
