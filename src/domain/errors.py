"""Failure families: every error is classified once, here, as permanent or transient.

The actor layer maps `PermanentFailure` to "dead-letter now, with a reason" and
`TransientFailure` to "retry with backoff"; no raw library exception decides.
"""


class DomainError(Exception):
    """Base of every error sfsync raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class PermanentFailure(DomainError):
    """Retrying cannot help: bad input, unknown account, revoked access."""

    code = "permanent"


class TransientFailure(DomainError):
    """Retrying later may help: timeouts, 5xx, lock contention."""

    code = "transient"


class InvalidMessage(PermanentFailure):
    """A message that does not follow the contract (bad JSON, missing field, unknown version)."""

    code = "invalid_message"


class UnknownAccount(PermanentFailure):
    code = "unknown_account"


class InvalidAttributeName(PermanentFailure):
    code = "invalid_attribute_name"


class InvalidFieldName(PermanentFailure):
    code = "invalid_field_name"


class MappingRefused(InvalidFieldName):
    """A mapping the org's describe shows cannot work; `suggestions` are field names to try."""

    def __init__(self, message: str, *, code: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message, code=code)
        self.suggestions = suggestions


class CoercionError(DomainError):
    """A value that cannot be converted to or from a Salesforce field type (a per-record error)."""

    code = "coercion_error"


class QuotaExhausted(DomainError):
    """The org's API quota (or our configured share of it) is used up: stop, resume later."""

    code = "quota"


class ReauthorizationRequired(PermanentFailure):
    """The Salesforce refresh token was revoked or expired: a human must reconnect."""

    code = "reauthorization_required"


class Conflict(PermanentFailure):
    """A write that breaks a uniqueness rule (same email or Contact Id twice in an account)."""

    code = "conflict"


class Interrupted(DomainError):
    """The worker is shutting down: the run stops after the page in hand, uncounted as a
    failure, and its message is delivered again to carry it on."""

    code = "interrupted"

    def __init__(
        self, message: str = "the worker is shutting down; the run carries on from its last page"
    ) -> None:
        super().__init__(message)
