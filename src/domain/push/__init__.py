"""Push: the rules for writing candidates' values and unsubscribes back to their Contacts."""

from sfsync.domain.push.consent import (
    ConsentChange,
    ConsentDecision,
    ConsentSource,
    decide_consent,
)
from sfsync.domain.push.eligibility import (
    PushDecision,
    PushRefusal,
    account_refusal,
    field_refusal,
    push_eligibility,
)
from sfsync.domain.push.fit import DoesNotFit, Fits, Misfit, ValueFit, Wire, canonical, fit_value
from sfsync.domain.push.plan import Preflight, PushPlan, Target, plan_push, preflight
from sfsync.domain.push.two_way import ABSENT, Side, TwoWayDecision, decide_two_way

__all__ = [
    "ABSENT",
    "ConsentChange",
    "ConsentDecision",
    "ConsentSource",
    "DoesNotFit",
    "Fits",
    "Misfit",
    "Preflight",
    "PushDecision",
    "PushPlan",
    "PushRefusal",
    "Side",
    "Target",
    "TwoWayDecision",
    "ValueFit",
    "Wire",
    "account_refusal",
    "canonical",
    "decide_consent",
    "decide_two_way",
    "field_refusal",
    "fit_value",
    "plan_push",
    "preflight",
    "push_eligibility",
]
