"""HTTP calls to the vendor for one linked account: credentials, rate limit, retries.

Every call carries the API key and the account token, waits for room in the account's rate
first, sleeps out a 429's Retry-After (a few times), and retries 5xx answers and connection
errors with backoff. Nothing logged or raised holds a token, a parameter value or a record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import structlog

from sfsync.adapters.vendor import errors
from sfsync.adapters.vendor.rate_limit import RateLimit
from sfsync.adapters.vendor.settings import VendorSettings

log = structlog.get_logger(__name__)

# The words of the paths we call; any other segment (an id) is `{id}` in a call's kind.
_PATH_WORDS = frozenset(
    {"contacts", "remote-field-classes", "sync-status", "resync", "delete-account"}
)
# Headers that describe the body as sent, not as read (decoded) here.
_DECODED = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class VendorClient:
    """Calls `{settings.api_root}/{path}`. `calls` counts requests sent; `waited` the
    seconds slept for the rate limit (its window and 429 answers; not 5xx backoff)."""

    def __init__(
        self,
        settings: VendorSettings,
        account_token: str,
        http: httpx.Client | None = None,
        *,
        on_call: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`on_call` is told each call's kind (`GET vendor/contacts/{id}`)."""
        self.settings = settings
        self.http = http or httpx.Client(timeout=settings.timeout)
        self.headers = {
            "Authorization": f"Bearer {settings.api_key}",
            "X-Account-Token": account_token,
            "Accept": "application/json",
        }
        self.limit = RateLimit(settings.rate_per_minute, clock=clock, sleep=sleep)
        self.sleep = sleep
        self.on_call = on_call or (lambda kind: None)
        self.calls = 0
        self.waited = 0.0

    def json(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.request(method, path, params)
        if not response.content:
            return None
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise errors.bad_response(call_kind(method, path), "not JSON") from None

    def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """Send until answered: a 2xx is returned, anything else raised as a domain failure."""
        kind = call_kind(method, path)
        url = f"{self.settings.api_root}/{path.lstrip('/')}"
        throttled = failures = 0
        while True:
            self.waited += self.limit.take()
            try:
                response = self._send(method, url, kind, params)
            except httpx.TransportError as err:
                tls = errors.tls_failure(err, urlsplit(url).netloc)
                if tls is not None:
                    raise tls from err
                failures += 1
                if failures > self.settings.max_retries:
                    raise errors.unavailable(kind, type(err).__name__) from err
                log.info("vendor.retry", kind=kind, error=type(err).__name__, attempt=failures)
                self.sleep(self._backoff(failures, None))
                continue
            status = response.status_code
            if status < 300:
                return response
            if status == 429:
                throttled += 1
                wait = _retry_after(response)
                if wait is None:
                    wait = self._backoff(throttled, None)
                if wait > self.settings.max_retry_after:
                    raise errors.rate_limited(kind, f"asked to wait {wait:.0f} s")
                if throttled > self.settings.max_throttled:
                    raise errors.rate_limited(kind, f"{throttled} answers 429 in a row")
                log.info("vendor.throttled", kind=kind, wait_seconds=wait)
                self.sleep(wait)
                self.waited += wait
                continue
            if status >= 500:
                failures += 1
                if failures > self.settings.max_retries:
                    raise errors.unavailable(kind, f"HTTP {status}")
                log.info("vendor.retry", kind=kind, status=status, attempt=failures)
                self.sleep(self._backoff(failures, _retry_after(response)))
                continue
            raise errors.refusal(response, kind)

    def close(self) -> None:
        self.http.close()

    def _send(
        self, method: str, url: str, kind: str, params: Mapping[str, Any] | None
    ) -> httpx.Response:
        self.calls += 1
        self.on_call(kind)
        request = self.http.build_request(method, url, params=params, headers=self.headers)
        response = self.http.send(request, stream=True)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():  # decoded: a gzip bomb is counted too
                body += chunk
                if len(body) > self.settings.max_body_bytes:
                    mib = self.settings.max_body_bytes // 2**20
                    raise errors.bad_page(kind, f"its body is over {mib} MiB")
        finally:
            response.close()
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _DECODED}
        return httpx.Response(response.status_code, headers=headers, content=bytes(body))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        wait = min(self.settings.backoff_initial * 2 ** (attempt - 1), self.settings.backoff_max)
        if retry_after is not None and retry_after <= self.settings.max_retry_after:
            wait = max(wait, retry_after)  # a 503's Retry-After, when it asks for longer
        return wait


def call_kind(method: str, path: str) -> str:
    """`GET vendor/contacts/{id}`: the method and the path's template, never an id."""
    words = [w if w in _PATH_WORDS else "{id}" for w in path.split("?")[0].split("/") if w]
    return f"{method.upper()} vendor/{'/'.join(words)}"


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (the vendor sends seconds, never an HTTP date)."""
    raw = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None
