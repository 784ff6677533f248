"""Whether a candidate's value may be written to its Contact, and which values changed.

Push is the product page's optional direct-mode feature: it only updates Contacts that
were imported, and only fields that already exist and the connected user may edit.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from sfsync.domain.model import COMPOUND_TYPES, AccountSettings, Candidate, FieldInfo
from sfsync.domain.stored_values import attribute_to_json


class PushRefusal(enum.StrEnum):
    NOT_DIRECT_MODE = "not_direct_mode"
    PUSH_DISABLED = "push_disabled"
    NOT_FROM_SALESFORCE = "not_from_salesforce"
    FIELD_MISSING = "field_missing"
    FIELD_NOT_UPDATEABLE = "field_not_updateable"
    COMPOUND_FIELD = "compound_field"


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
    if field is None:
        return _refuse(PushRefusal.FIELD_MISSING)
    if field.type in COMPOUND_TYPES:
        return _refuse(PushRefusal.COMPOUND_FIELD)
    if not field.updateable:
        return _refuse(PushRefusal.FIELD_NOT_UPDATEABLE)
    return ALLOWED


def account_refusal(settings: AccountSettings) -> PushRefusal | None:
    """Why this account pushes nothing at all; None when it may push."""
    if not settings.direct_api:
        return PushRefusal.NOT_DIRECT_MODE
    if not settings.push_enabled:
        return PushRefusal.PUSH_DISABLED
    return None


def changed_values(
    candidate_attrs: Mapping[str, Any], last_pushed: Mapping[str, Any]
) -> dict[str, Any]:
    """The attributes whose value differs from what was last pushed.

    Values compare in their stored JSON form, so `last_pushed` may come straight from
    JSONB. An attribute the candidate does not have is not pushed (nothing is cleared).
    """
    return {
        name: value
        for name, value in candidate_attrs.items()
        if name not in last_pushed
        or attribute_to_json(value) != attribute_to_json(last_pushed[name])
    }
