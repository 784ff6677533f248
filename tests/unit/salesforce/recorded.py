"""Recorded Salesforce response shapes (from the API reference) and a scriptable MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from sfsync.adapters.salesforce.auth import OAuthApp, RefreshTokenAuth, Tokens
from sfsync.adapters.salesforce.client import ClientSettings, RetryPolicy
from sfsync.adapters.salesforce.gateway import HttpxSalesforce, SalesforceSettings
from sfsync.adapters.salesforce.reads import ReadSettings

INSTANCE = "https://org.example.my.salesforce.com"
LOGIN = "https://login.salesforce.com"
FAST_RETRY = RetryPolicy(attempts=3, timeout=5, wait_initial=0.001, wait_max=0.002, wait_jitter=0)

DESCRIBE = {
    "name": "Contact",
    "fields": [
        {"name": "Id", "type": "id", "updateable": False, "nillable": False},
        {"name": "Email", "type": "email", "updateable": True, "nillable": True},
        {"name": "FirstName", "type": "string", "updateable": True, "nillable": True},
        {"name": "LastName", "type": "string", "updateable": True, "nillable": False},
        {"name": "Name", "type": "string", "updateable": False, "nillable": False},
        {"name": "IsDeleted", "type": "boolean", "updateable": False, "nillable": False},
        {"name": "SystemModstamp", "type": "datetime", "updateable": False, "nillable": False},
        {
            "name": "MailingCity",
            "type": "string",
            "updateable": True,
            "compoundFieldName": "MailingAddress",
        },
        {
            "name": "MailingStreet",
            "type": "textarea",
            "updateable": True,
            "compoundFieldName": "MailingAddress",
        },
        {"name": "MailingAddress", "type": "address", "updateable": False},
        {"name": "gq_import__c", "type": "boolean", "updateable": True, "custom": True},
        {
            "name": "Favorite_Color__c",
            "type": "picklist",
            "updateable": True,
            "custom": True,
            "picklistValues": [{"active": True, "value": "Red"}],
        },
        {"name": "Secret__c", "type": "encryptedstring", "updateable": True, "custom": True},
    ],
}


def record(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": "Contact", "url": f"/services/data/v62.0/sobjects/Contact/{n}"},
        "Id": f"003{n:015d}",
        "Email": f"p{n}@example.com",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Name": "Ada Lovelace",
        "IsDeleted": False,
        "SystemModstamp": "2024-01-01T00:00:00.000+0000",
        **extra,
    }


def session_expired() -> httpx.Response:
    return httpx.Response(
        401, json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    )


def sf_error(status: int, code: str, message: str = "refused") -> httpx.Response:
    return httpx.Response(status, json=[{"message": message, "errorCode": code}])


class Org:
    """A scripted org: route handlers by (method, path suffix); every request is recorded."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, str, Callable[[httpx.Request], httpx.Response]]] = []
        self.requests: list[httpx.Request] = []
        self.script("GET", "/sobjects/Contact/describe", httpx.Response(200, json=DESCRIBE))

    def route(
        self, method: str, path: str, handler: Callable[[httpx.Request], httpx.Response]
    ) -> None:
        self.routes.insert(0, (method, path, handler))

    def script(self, method: str, path: str, *responses: httpx.Response) -> None:
        """Answer with these responses in turn, then keep repeating the last one."""
        queue = list(responses)
        self.route(method, path, lambda r: queue.pop(0) if len(queue) > 1 else queue[0])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for method, path, handler in self.routes:
            if request.method == method and request.url.path.rstrip("/").endswith(path):
                response = handler(request)
                response.headers.setdefault("Sforce-Limit-Info", "api-usage=10/1000")
                return response
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def soql(self) -> list[str]:
        return [r.url.params["q"] for r in self.requests if "q" in r.url.params]

    def body(self, index: int) -> Any:
        return json.loads(self.requests[index].content)


def gateway(
    org: Org,
    *,
    max_share: float | None = None,
    bulk_threshold: int = 10_000,
    bulk_write_threshold: int = 2_000,
    on_tokens=None,
    on_reauth_required=None,
    refresh_token: str | None = "r1",
) -> HttpxSalesforce:
    app = OAuthApp(LOGIN, "client-id", "client-secret")
    auth = RefreshTokenAuth(
        app,
        Tokens("a1", INSTANCE, refresh_token),
        on_tokens=on_tokens,
        on_reauth_required=on_reauth_required,
    )
    settings = SalesforceSettings(
        client=ClientSettings(retry=FAST_RETRY, max_share=max_share),
        reads=ReadSettings(bulk_threshold=bulk_threshold, poll_initial=0.001, poll_max=0.002),
        bulk_write_threshold=bulk_write_threshold,
    )
    return HttpxSalesforce(auth, settings, http=httpx.Client(transport=httpx.MockTransport(org)))
