"""Typed Salesforce errors, each also in the right domain failure family.

Services catch the domain families (PermanentFailure, TransientFailure, QuotaExhausted);
callers that care about Salesforce detail read `error_code` (Salesforce's own code),
`status` and `fields`, each kept only when it looks like one. The message is always ours:
Salesforce's free text is never kept, because it echoes SOQL literals and record values
("data value too large: <value>", "duplicate value found: ... on record with id: ...").
What stays identifies the failure without holding data: the code, the HTTP status, the
field names, record ids.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sfsync.domain import errors as domain

_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,79}")
MAX_FIELDS = 20


def checked_code(raw: Any) -> str | None:
    """Salesforce's errorCode/statusCode when it looks like one (CODE_IN_CAPS), else None."""
    return raw if isinstance(raw, str) and _CODE.fullmatch(raw) else None


def field_names(raw: Any) -> tuple[str, ...]:
    """The `fields` of an error body, kept only where each looks like an API name."""
    if not isinstance(raw, Iterable) or isinstance(raw, str | bytes):
        return ()
    names = (f.strip() for f in raw if isinstance(f, str))
    return tuple(f for f in names if _FIELD.fullmatch(f))[:MAX_FIELDS]


class SalesforceError(domain.DomainError):
    """Base of every error the Salesforce adapter raises. The message is our own wording,
    prefixed with Salesforce's code and followed by the field names it gave, if any."""

    code = "salesforce_error"

    def __init__(
        self,
        message: str,
        *,
        error_code: Any = None,
        status: int | None = None,
        fields: Any = (),
    ) -> None:
        self.error_code = checked_code(error_code)
        self.status = status
        self.fields = field_names(fields)
        prefix = f"{self.error_code}: " if self.error_code else ""
        on = f" (fields: {', '.join(self.fields)})" if self.fields else ""
        super().__init__(f"{prefix}{message}{on}")


class SalesforceRequestError(SalesforceError, domain.PermanentFailure):
    """Salesforce refused the request (bad SOQL, bad field, bad record): retrying won't help."""

    code = "salesforce_request_refused"


class SalesforceUnavailable(SalesforceError, domain.TransientFailure):
    """5xx, 420, 429, lock contention, timeouts or connection errors (retried, then raised)."""

    code = "salesforce_unavailable"


class SalesforceTlsError(SalesforceError, domain.PermanentFailure):
    """The host's certificate failed verification: a configuration matter, not retried."""

    code = "tls_verification_failed"


def tls_failure(err: BaseException, url: str) -> SalesforceTlsError | None:
    """A SalesforceTlsError when `err` (an httpx transport error) is a certificate failure."""
    cause: BaseException | None = err
    for _ in range(8):  # httpx -> httpcore -> ssl: a short chain
        if cause is None or isinstance(cause, ssl.SSLCertVerificationError):
            break
        cause = cause.__cause__ or cause.__context__
    if not isinstance(cause, ssl.SSLCertVerificationError):
        return None
    reason = cause.verify_message or "certificate rejected"
    return SalesforceTlsError(
        f"TLS certificate verification failed for {urlsplit(url).netloc}: {reason};"
        " set SFSYNC_SF_CA_BUNDLE to trust a private CA"
    )


class SalesforceIncompleteRead(SalesforceError, domain.TransientFailure):
    """A read ended with fewer records than Salesforce announced."""

    code = "salesforce_incomplete_read"


class SalesforceBulkJobFailed(SalesforceError, domain.TransientFailure):
    """A Bulk API 2.0 job ended Failed or Aborted, or did not finish in time."""

    code = "salesforce_bulk_job_failed"


class SalesforceAuthError(SalesforceError, domain.PermanentFailure):
    """Authentication failed (bad client id/secret, bad JWT, no way to renew a session)."""

    code = "salesforce_auth_error"


class ReauthorizationRequired(SalesforceAuthError, domain.ReauthorizationRequired):
    """The refresh token (or the JWT user's approval) is gone: a human must reconnect."""

    code = "reauthorization_required"


class SalesforceQuotaExceeded(SalesforceError, domain.QuotaExhausted):
    """REQUEST_LIMIT_EXCEEDED, or our configured share of the daily API allowance is spent."""

    code = "quota"


class SalesforceFieldError(SalesforceError, domain.InvalidFieldName):
    """A field name that is malformed, unknown to the org, compound, or of the wrong type."""

    code = "invalid_field_name"
