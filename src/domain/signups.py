"""Sign-ups waiting for their Contact to be flagged, and what became of each."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from sfsync.domain.model import AccountId, AccountSettings, SalesforceId


class SignupOutcome(enum.StrEnum):
    PENDING = "pending"  # waiting for the account's next flush
    FLAGGED = "flagged"  # a Contact with the email had its flag set now
    ALREADY_FLAGGED = "already_flagged"  # every Contact with the email was flagged before
    NO_CONTACT = "no_contact"  # no live Contact holds the email
    SKIPPED = "skipped"  # not looked up; `reason` says why


@attrs.frozen
class Signup:
    """One `candidate.signed_up` message, as recorded (idempotent by `message_id`)."""

    message_id: str
    account_id: AccountId
    candidate_id: str
    email: str = attrs.field(repr=False)
    received_at: datetime
    outcome: SignupOutcome = SignupOutcome.PENDING
    reason: str | None = None  # for SKIPPED: a code, never a value
    contact_ids: tuple[SalesforceId, ...] = ()


def skip_reason(settings: AccountSettings) -> str | None:
    """Why an account's sign-ups are not flagged in Salesforce (None: they are)."""
    if not settings.direct_api:
        return "vendor_mode"
    if not settings.signup_flag_enabled:
        return "signup_flag_disabled"
    return None
