"""Consent is sticky: an unsubscribe from either side wins, and no sync re-subscribes anyone.

The candidate's `unsubscribed` and the Contact's opt-out checkbox (`HasOptedOutOfEmail` by
default) are merged as "either is true". sfsync only ever writes `true` to Salesforce; a
`false` from Salesforce never clears a candidate's unsubscribe, and a candidate whose
Contact is opted out is unsubscribed again. To re-subscribe someone, clear both sides.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs


class ConsentSource(enum.StrEnum):
    SALESFORCE = "salesforce"  # the Contact's opt-out, applied to the candidate
    SFSYNC = "sfsync"  # the candidate's unsubscribe, written to the Contact by sfsync


@attrs.frozen
class ConsentChange:
    """One consent change sfsync made, kept with where it came from and when."""

    candidate_id: str
    unsubscribed: bool
    source: ConsentSource
    at: datetime


@attrs.frozen
class ConsentDecision:
    unsubscribed: bool  # the candidate's state from now on
    push_opt_out: bool  # write `true` to the Contact's opt-out field
    changes: tuple[ConsentChange, ...] = ()


def decide_consent(
    candidate_id: str,
    unsubscribed: bool,
    salesforce: bool | None,
    acknowledged: bool | None,
    now: datetime,
) -> ConsentDecision:
    """Merge the candidate's unsubscribe with the Contact's opt-out.

    Args:
        unsubscribed: the candidate's state now.
        salesforce: the opt-out field as Salesforce holds it now; None when not read.
        acknowledged: the opt-out value Salesforce last acknowledged (None: never pushed).
        now: when the decision is made, the time of its changes.

    With Salesforce's value unknown, `true` is pushed unless Salesforce already
    acknowledged it. The `sfsync` change is to be recorded once Salesforce acknowledges
    the push.
    """
    if salesforce is True and not unsubscribed:
        change = ConsentChange(candidate_id, True, ConsentSource.SALESFORCE, now)
        return ConsentDecision(unsubscribed=True, push_opt_out=False, changes=(change,))
    if not unsubscribed:
        return ConsentDecision(unsubscribed=False, push_opt_out=False)
    known_in_salesforce = salesforce if salesforce is not None else acknowledged is True
    if known_in_salesforce:
        return ConsentDecision(unsubscribed=True, push_opt_out=False)
    change = ConsentChange(candidate_id, True, ConsentSource.SFSYNC, now)
    return ConsentDecision(unsubscribed=True, push_opt_out=True, changes=(change,))
