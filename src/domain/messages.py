"""The message contract (version 1): what other services send us and what we publish."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Any

import attrs

from sfsync.domain.model import AccountId

CONTRACT_VERSION = 1


class Scope(enum.StrEnum):
    IMPORT = "import"
    EXPORT = "export"
    FULL = "full"


class Trigger(enum.StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    CANDIDATE_PAGE = "candidate_page"


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    QUOTA = "quota"


class InvalidField(ValueError):
    """A field that breaks the contract. The text names the field and what it expects, and
    never holds the value (a publisher's mistake may put personal data anywhere)."""


def _version(_: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value != CONTRACT_VERSION:
        raise InvalidField("unsupported version; this worker speaks version 1")


# Ids are identifiers, never data: they go into logs, run rows and events, so an email or a
# name put in an id is refused, not carried along.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")


def is_identifier(value: Any) -> bool:
    """1 to 200 letters, digits, '.', '_', ':' or '-', starting with a letter or digit."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _identifier(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not is_identifier(value):
        raise InvalidField(
            f"{attribute.name} must be an id of 1 to 200 characters"
            " (letters, digits, '.', '_', ':', '-')"
        )


def _optional_identifier(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _identifier(instance, attribute, value)


def _is(expected: str) -> Any:
    """attrs' `in_` would print the value it refuses: this names the field instead."""

    def check(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
        if value != expected:
            raise InvalidField(f"{attribute.name} must be {expected!r}")

    return check


@attrs.frozen
class SyncRequested:
    type: str = attrs.field(validator=_is("sync.requested"))
    version: int = attrs.field(validator=_version)
    id: str = attrs.field(validator=_identifier)
    requested_at: datetime
    account_id: AccountId = attrs.field(validator=_identifier)
    scope: Scope
    trigger: Trigger = Trigger.MANUAL
    candidate_id: str | None = attrs.field(default=None, validator=_optional_identifier)
    full_resync: bool = False
    # Optional, set by `sfsync dead-letters replay`: carry on a run that ended failed or
    # quota. Without it the same id again is the same request (its event is sent again).
    replay: bool = False


@attrs.frozen
class CandidateSignedUp:
    type: str = attrs.field(validator=_is("candidate.signed_up"))
    version: int = attrs.field(validator=_version)
    id: str = attrs.field(validator=_identifier)
    occurred_at: datetime
    account_id: AccountId = attrs.field(validator=_identifier)
    candidate_id: str = attrs.field(validator=_identifier)
    email: str = attrs.field(repr=False)
    study_id: str | None = None
