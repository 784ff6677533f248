"""Property tests of the push rules: what is sent reads back unchanged, dates never shift,
numbers stay exact, consent never re-subscribes, and a repeated push writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from sfsync.domain.coercion import from_salesforce
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    Candidate,
    Contact,
    ContactSchema,
    FieldInfo,
    FieldType,
    MappingDirection,
    SalesforceId,
)
from sfsync.domain.push import (
    ABSENT,
    DoesNotFit,
    Fits,
    Side,
    canonical,
    decide_consent,
    decide_two_way,
    fit_value,
    plan_push,
    preflight,
)

F = FieldType
FAST = settings(max_examples=60, deadline=None)
NOW = datetime(2025, 6, 1, tzinfo=UTC)
FIELDS = [
    FieldInfo("S__c", F.STRING, updateable=True, length=30),
    FieldInfo("T__c", F.TEXTAREA, updateable=True, length=255),
    FieldInfo(
        "P__c", F.PICKLIST, updateable=True, picklist_values=("a", "b"), restricted_picklist=True
    ),
    FieldInfo(
        "M__c",
        F.MULTIPICKLIST,
        updateable=True,
        picklist_values=("a", "b", "c"),
        restricted_picklist=True,
        length=100,
    ),
    FieldInfo("B__c", F.BOOLEAN, updateable=True, nillable=False),
    FieldInfo("I__c", F.INT, updateable=True),
    FieldInfo("N__c", F.DOUBLE, updateable=True, precision=10, scale=3),
    FieldInfo("C__c", F.CURRENCY, updateable=True, precision=18, scale=2),
    FieldInfo("R__c", F.PERCENT, updateable=True, precision=5, scale=2),
    FieldInfo("D__c", F.DATE, updateable=True),
    FieldInfo("DT__c", F.DATETIME, updateable=True),
    FieldInfo("TM__c", F.TIME, updateable=True),
]
zones = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.decimals()
    | st.text()
    | st.dates()
    | st.times()
    | st.datetimes(timezones=st.none() | zones),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
)
values = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).filter(lambda d: abs(d) < 10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.dates(),
    st.datetimes(timezones=zones, min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.times(),
)


@FAST
@given(field=st.sampled_from(FIELDS), value=anything)
def test_any_value_gives_a_wire_value_or_a_refusal(field, value):
    """Hostile input never raises."""
    assert isinstance(fit_value(field, value), Fits | DoesNotFit)


@FAST
@given(field=st.sampled_from(FIELDS), value=values)
def test_what_is_sent_reads_back_unchanged(field, value):
    """The import after a push reads the pushed value, and it compares equal."""
    fit = fit_value(field, value)
    if isinstance(fit, Fits) and fit.wire is not None:
        assert canonical(field, from_salesforce(field, fit.wire)) == fit


@FAST
@given(day=st.dates(), zone=zones)
def test_a_midnight_anywhere_is_its_own_day(day, zone):
    field = FIELDS[9]
    midnight = datetime.combine(day, time(0), zone)
    assert fit_value(field, midnight) == Fits(day.isoformat())
    assert fit_value(field, midnight.isoformat()) == Fits(day.isoformat())


@FAST
@given(
    number=st.decimals(allow_nan=False, allow_infinity=False, places=2).filter(
        lambda d: abs(d) < 10**13
    )
)
def test_a_number_within_precision_and_scale_is_sent_exactly(number):
    fit = fit_value(FIELDS[7], number)
    assert isinstance(fit, Fits)
    assert Decimal(repr(fit.wire)) == number


@FAST
@given(
    unsubscribed=st.booleans(),
    salesforce=st.none() | st.booleans(),
    acknowledged=st.none() | st.booleans(),
)
def test_consent_never_resubscribes_and_only_pushes_true(unsubscribed, salesforce, acknowledged):
    decision = decide_consent("c", unsubscribed, salesforce, acknowledged, NOW)
    assert decision.unsubscribed == (unsubscribed or salesforce is True)
    if decision.push_opt_out:
        assert decision.unsubscribed and salesforce is not True


wires = st.none() | st.sampled_from(["x", "y", "z"])
times = st.none() | st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2024, 1, 3), timezones=st.just(UTC)
)


@FAST
@given(
    candidate=wires,
    changed_at=times,
    salesforce=wires | st.just(ABSENT),
    modstamp=times,
    acknowledged=wires | st.just(ABSENT),
)
def test_two_way_decisions_agree_with_their_winner(
    candidate, changed_at, salesforce, modstamp, acknowledged
):
    decision = decide_two_way(candidate, changed_at, salesforce, modstamp, acknowledged)
    assert decision.push == (decision.winner is Side.CANDIDATE)
    assert decision.update_candidate == (decision.winner is Side.SALESFORCE)
    assert not (decision.conflict and decision.winner is None)
    if salesforce is not ABSENT and candidate == salesforce:
        assert decision.winner is None
    if decision.winner is Side.SALESFORCE:
        assert salesforce is not ABSENT


SCHEMA = ContactSchema(
    {f.name: f for f in FIELDS}
    | {
        "HasOptedOutOfEmail": FieldInfo(
            "HasOptedOutOfEmail", F.BOOLEAN, updateable=True, nillable=False
        )
    }
)
MAPPINGS = [
    AttributeMapping(f.name.lower().removesuffix("__c") + "_c", f.name, direction)
    for f, direction in zip(
        FIELDS, [MappingDirection.EXPORT, MappingDirection.TWO_WAY] * 6, strict=True
    )
]
CHECKED = preflight(AccountSettings(AccountId("a"), push_enabled=True), SCHEMA, MAPPINGS)


@FAST
@given(
    attributes=st.dictionaries(st.sampled_from([m.name for m in MAPPINGS]), values, max_size=12),
    unsubscribed=st.booleans(),
)
def test_a_push_acknowledged_then_repeated_writes_nothing(attributes, unsubscribed):
    """The no-op second push, with Salesforce's values unread or read back."""
    candidate = Candidate(
        "c",
        AccountId("a"),
        "a@b.org",
        salesforce_id=SalesforceId("003A"),
        attributes=attributes,
        unsubscribed=unsubscribed,
    )
    first = plan_push(CHECKED, candidate, {}, None, {}, NOW)
    acknowledged = {**first.settled, **first.update}
    assert plan_push(CHECKED, candidate, acknowledged, None, {}, NOW).update == {}
    read = Contact(SalesforceId("003A"), None, system_modstamp=NOW, fields=acknowledged)
    again = plan_push(CHECKED, candidate, acknowledged, read, {}, NOW)
    assert (again.update, again.settled, again.conflicts, again.candidate_updates) == (
        {},
        {},
        (),
        {},
    )
