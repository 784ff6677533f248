"""The HTTP client for the vendor: the same trust as Salesforce calls (system store and
certifi's roots), plus an optional extra CA (a TLS-inspecting proxy, the emulator)."""

from __future__ import annotations

import httpx

from sfsync.adapters.salesforce.transport import trust_context


def vendor_http(extra_ca: str | None = None, timeout: float = 30.0) -> httpx.Client:
    """A client for the vendor's API; the caller closes it."""
    return httpx.Client(timeout=timeout, verify=trust_context(extra_ca))
