"""Whether a candidate's values may be written to its Contact at all.

Push is the product page's optional direct-mode feature: it only updates Contacts that
were imported, and only fields that already exist and the connected user may edit.
"""

from __future__ import annotations

import enum

import attrs

from sfsync.domain.model import COMPOUND_TYPES, AccountSettings, Candidate, FieldInfo


class PushRefusal(enum.StrEnum):
    NOT_DIRECT_MODE = "not_direct_mode"
    PUSH_DISABLED = "push_disabled"
    NOT_FROM_SALESFORCE = "not_from_salesforce"
    FIELD_MISSING = "field_missing"
    FIELD_NOT_UPDATEABLE = "field_not_updateable"
    COMPOUND_FIELD = "compound_field"
    FIELD_MAPPED_TWICE = "field_mapped_twice"  # two exported attributes, or one and consent
    NOT_A_CHECKBOX = "not_a_checkbox"  # the unsubscribe field is not a boolean


@attrs.frozen
class PushDecision:
    allowed: bool
    reason: PushRefusal | None = None


ALLOWED = PushDecision(allowed=True)


def _refuse(reason: PushRefusal) -> PushDecision:
    return PushDecision(allowed=False, reason=reason)


def push_eligibility(
    settings: AccountSettings, candidate: Candidate, field: FieldInfo | None
) -> PushDecision:
    """Whether one value of `candidate` may be written to `field` (None: not in the describe).

    Account-level reasons come first, then the candidate, then the field, so a report
    groups refusals by their root cause.
    """
    account = account_refusal(settings)
    if account is not None:
        return _refuse(account)
    if candidate.salesforce_id is None:
        return _refuse(PushRefusal.NOT_FROM_SALESFORCE)
    reason = field_refusal(field)
    return ALLOWED if reason is None else _refuse(reason)


def account_refusal(settings: AccountSettings) -> PushRefusal | None:
    """Why this account pushes nothing at all; None when it may push."""
    if not settings.direct_api:
        return PushRefusal.NOT_DIRECT_MODE
    if not settings.push_enabled:
        return PushRefusal.PUSH_DISABLED
    return None


def field_refusal(field: FieldInfo | None) -> PushRefusal | None:
    """Why no value may be written to `field` (None: not in the describe, for example
    hidden by field-level security); None when it may be."""
    if field is None or field.deprecated_and_hidden:
        return PushRefusal.FIELD_MISSING
    if field.type in COMPOUND_TYPES:
        return PushRefusal.COMPOUND_FIELD
    if not field.updateable:
        return PushRefusal.FIELD_NOT_UPDATEABLE
    return None
