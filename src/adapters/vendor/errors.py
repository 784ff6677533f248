"""The vendor's answers as domain failures. Messages are ours: a vendor's error body may
echo what was asked (an email filter), so only parameter names are kept from it."""

from __future__ import annotations

import re
import ssl
from typing import Any

import httpx

from sfsync.domain.errors import PermanentFailure, TransientFailure

_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_PARAMETERS = 10


def refusal(response: httpx.Response, call: str) -> PermanentFailure:
    """The failure of a 4xx answer (429 aside, which the client waits out)."""
    status = response.status_code
    if status == 401:
        return PermanentFailure(
            f"the vendor refused the linked account's token ({call}, HTTP 401): the link is "
            "gone or the API key changed; relink with `sfsync connect ACCOUNT --vendor`",
            code="vendor_link_invalid",
        )
    if status == 403:
        return PermanentFailure(
            f"the vendor does not allow {call} (HTTP 403)", code="vendor_forbidden"
        )
    if status == 400:
        names = parameters(_json(response))
        on = f": {', '.join(names)}" if names else ""
        return PermanentFailure(
            f"the vendor refused the parameters of {call} (HTTP 400){on}",
            code="vendor_bad_request",
        )
    return PermanentFailure(f"the vendor refused {call} (HTTP {status})", code="vendor_refused")


def parameters(body: Any) -> tuple[str, ...]:
    """The parameter names of a DRF error body ({"name": ["message"]}), never the values."""
    if not isinstance(body, dict):
        return ()
    names = (k for k in body if isinstance(k, str) and _PARAMETER.fullmatch(k))
    return tuple(sorted(names))[:MAX_PARAMETERS]


def unavailable(call: str, why: str) -> TransientFailure:
    return TransientFailure(
        f"the vendor could not answer {call} after retries ({why})", code="vendor_unavailable"
    )


def bad_response(call: str, why: str) -> TransientFailure:
    """A 2xx answer that is no answer (a proxy's page, a truncated body): may pass."""
    return TransientFailure(
        f"the vendor's answer to {call} was unreadable: {why}", code="vendor_bad_response"
    )


def bad_page(call: str, why: str) -> PermanentFailure:
    return PermanentFailure(
        f"the vendor answered {call} with a bad page: {why}", code="vendor_bad_page"
    )


def cursor_loop(call: str, page: int) -> PermanentFailure:
    return PermanentFailure(
        f"the vendor's paging of {call} looped: page {page} gave a next cursor given before",
        code="vendor_cursor_loop",
    )


def rate_limited(call: str, why: str) -> TransientFailure:
    return TransientFailure(
        f"the vendor's rate limit held back {call}: {why}", code="vendor_rate_limited"
    )


def tls_failure(err: BaseException, host: str) -> PermanentFailure | None:
    """A PermanentFailure when `err` (an httpx transport error) is a certificate failure:
    retrying cannot fix it."""
    cause: BaseException | None = err
    for _ in range(8):  # httpx -> httpcore -> ssl: a short chain
        if cause is None or isinstance(cause, ssl.SSLCertVerificationError):
            break
        cause = cause.__cause__ or cause.__context__
    if not isinstance(cause, ssl.SSLCertVerificationError):
        return None
    return PermanentFailure(
        f"TLS certificate verification failed for {host}: "
        f"{cause.verify_message or 'certificate rejected'}; set SFSYNC_VENDOR_CA_BUNDLE to "
        "trust a private CA",
        code="tls_verification_failed",
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
