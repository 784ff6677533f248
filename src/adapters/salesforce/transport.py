"""The one way to build an HTTP client for Salesforce, so every caller trusts the same roots.

Trust is the system store, plus certifi's roots (what httpx trusts by default), plus an
optional extra CA (a TLS-inspecting proxy, the emulator) added on top, never instead.
"""

from __future__ import annotations

import functools
import ssl

import certifi
import httpx


@functools.cache
def trust_context(extra_ca: str | None = None) -> ssl.SSLContext:
    """Built once per process and CA file: loading the roots takes about 60 ms."""
    context = ssl.create_default_context()  # the system store (and SSL_CERT_FILE/_DIR)
    context.load_verify_locations(cafile=certifi.where())
    if extra_ca:
        context.load_verify_locations(cafile=extra_ca)
    return context


def salesforce_http(extra_ca: str | None = None, timeout: float = 30.0) -> httpx.Client:
    """A client for login hosts and instances; the caller closes it."""
    return httpx.Client(timeout=timeout, verify=trust_context(extra_ca))
