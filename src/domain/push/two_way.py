"""Two-way mappings: the side that changed last since the last acknowledgement wins.

Values compare in their wire form (`fit.canonical`), so one value written two ways (a
date-time at two offsets, a selection in two orders) is one value.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from sfsync.domain.push.fit import Wire


class Absent(enum.Enum):
    """No value to compare: never acknowledged, or Salesforce's value not read."""

    ABSENT = "absent"


ABSENT = Absent.ABSENT
Known = Wire | Absent


class Side(enum.StrEnum):
    CANDIDATE = "candidate"
    SALESFORCE = "salesforce"


@attrs.frozen
class TwoWayDecision:
    winner: Side | None  # None: nothing to carry over (unchanged, or both sides agree)
    push: bool  # write the candidate's value to the Contact
    update_candidate: bool  # give the candidate Salesforce's value
    conflict: bool  # both sides changed since the last acknowledgement, to different values


UNCHANGED = TwoWayDecision(winner=None, push=False, update_candidate=False, conflict=False)
CANDIDATE_WINS = TwoWayDecision(Side.CANDIDATE, push=True, update_candidate=False, conflict=False)
SALESFORCE_WINS = TwoWayDecision(Side.SALESFORCE, push=False, update_candidate=True, conflict=False)


def _changed(value: Known, acknowledged: Known) -> bool:
    return acknowledged is ABSENT or value != acknowledged


def decide_two_way(
    candidate: Wire,
    candidate_changed_at: datetime | None,
    salesforce: Known,
    salesforce_modstamp: datetime | None,
    acknowledged: Known,
) -> TwoWayDecision:
    """Which side's value both should hold.

    Args:
        candidate_changed_at: when the candidate's value last changed (None: unknown).
        salesforce: the Contact's value now, or ABSENT when not read (then only the
            candidate can have changed).
        salesforce_modstamp: the Contact's `SystemModstamp`.
        acknowledged: the value Salesforce last acknowledged, or ABSENT if never.

    A conflict goes to the later change; on a tie, or with a time unknown, Salesforce
    wins: it is the record the candidate was imported from.
    """
    if salesforce is not ABSENT and candidate == salesforce:
        return UNCHANGED
    salesforce_changed = salesforce is not ABSENT and _changed(salesforce, acknowledged)
    if not _changed(candidate, acknowledged):
        return SALESFORCE_WINS if salesforce_changed else UNCHANGED
    if not salesforce_changed:
        return CANDIDATE_WINS
    later = (
        candidate_changed_at is not None
        and salesforce_modstamp is not None
        and candidate_changed_at > salesforce_modstamp
    )
    return attrs.evolve(CANDIDATE_WINS if later else SALESFORCE_WINS, conflict=True)
