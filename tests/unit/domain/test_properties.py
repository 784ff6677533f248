"""Property tests: names always valid, coercions round-trip, hostile input never crashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfsync.domain.coercion import SUPPORTED_TYPES, from_salesforce, to_salesforce
from sfsync.domain.errors import CoercionError, InvalidAttributeName, InvalidFieldName
from sfsync.domain.import_filter import dedupe_batch, should_import
from sfsync.domain.mapping import (
    attribute_name_for,
    check_mapping,
    validate_attribute_name,
    validate_field_name,
)
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    Contact,
    ContactSchema,
    DuplicatePolicy,
    FieldInfo,
    FieldType,
    SalesforceId,
    normalize_email,
)
from sfsync.domain.stored_values import attribute_from_json, attribute_to_json

F = FieldType
FAST = settings(max_examples=40, deadline=None)
STRING_TYPES = [F.STRING, F.TEXTAREA, F.EMAIL, F.PHONE, F.URL, F.PICKLIST, F.COMBOBOX]

# --- strategies ---------------------------------------------------------------------------

segment = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}(_[A-Za-z0-9]{1,6}){0,2}", fullmatch=True)
field_names = st.one_of(
    segment,
    st.builds("{}__{}".format, segment, st.sampled_from(["c", "r", "s", "pc"])),
    st.builds("{}__{}__c".format, segment, segment),
).filter(lambda name: len(name) <= 80)

# Text Salesforce takes: no C0 controls but \t\n\r, no lone surrogates, not blank.
sendable = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\t\n\r\"'\\;"),
    min_size=1,
).filter(lambda s: s.strip() != "")
item = sendable.filter(lambda s: ";" not in s)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
whole_ms = st.integers(0, 999).map(lambda ms: ms * 1000)
aware = st.builds(
    lambda dt, us, tz: dt.replace(microsecond=us, tzinfo=tz),
    st.datetimes(datetime(1900, 1, 2), datetime(2200, 1, 1)),
    whole_ms,
    offsets,
)
sf_ids = st.from_regex(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?", fullmatch=True)

VALUES = {
    **dict.fromkeys(STRING_TYPES, sendable),
    F.MULTIPICKLIST: st.lists(item, min_size=1, max_size=4).filter(
        lambda xs: ";".join(xs).strip() != ""
    ),
    F.BOOLEAN: st.booleans(),
    F.INT: st.integers(-(2**31) + 1, 2**31 - 1),
    F.LONG: st.integers(-(2**63) + 1, 2**63 - 1),
    **dict.fromkeys(
        [F.DOUBLE, F.CURRENCY, F.PERCENT], st.floats(allow_nan=False, allow_infinity=False)
    ),
    F.DATE: st.dates(),
    F.DATETIME: aware,
    F.TIME: st.times().map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)),
    **dict.fromkeys([F.ID, F.REFERENCE], sf_ids),
}


def _rest_datetime(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "+0000")


# Canonical REST wire forms, built independently of the code under test.
WIRES = {
    **VALUES,
    F.MULTIPICKLIST: VALUES[F.MULTIPICKLIST].map(";".join),
    F.DATE: st.dates().filter(lambda d: d.year >= 1000).map(lambda d: d.isoformat()),
    F.DATETIME: st.datetimes(datetime(1000, 1, 1), timezones=st.just(UTC))
    .map(lambda dt: dt.replace(microsecond=dt.microsecond // 1000 * 1000))
    .map(_rest_datetime),
    F.TIME: st.times().map(lambda t: t.isoformat(timespec="milliseconds") + "Z"),
}
assert set(VALUES) == set(SUPPORTED_TYPES)

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.binary(),
    st.lists(st.one_of(st.text(), st.integers()), max_size=3),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.text(min_size=5000, max_size=6000),
    st.just("\x00'\"\\\n--;"),
)


def field(field_type: FieldType) -> FieldInfo:
    return FieldInfo("Thing__c", field_type)


# --- names --------------------------------------------------------------------------------


@FAST
@given(field_names)
def test_attribute_name_of_a_valid_field_is_snake_case_and_stable(name):
    try:
        attribute = attribute_name_for(name)
    except InvalidAttributeName as err:
        assert "longer than 63" in err.message
        return
    assert validate_attribute_name(attribute) == attribute
    assert attribute_name_for(attribute) == attribute  # idempotent on its own output
    assert attribute_name_for(name) == attribute
    if name.endswith("__c"):  # a custom field's attribute ends in _c (a standard one may too:
        assert attribute.endswith("_c")  # `A_C` is a valid standard-shaped name)


@FAST
@given(st.one_of(st.text(), anything))
def test_any_name_is_accepted_or_refused_with_an_invalid_error(name):
    for check in (attribute_name_for, validate_field_name, validate_attribute_name):
        try:
            check(name)
        except (InvalidFieldName, InvalidAttributeName):
            pass


@FAST
@given(st.text(max_size=100), st.text(max_size=100))
def test_any_mapping_is_checked_without_crashing(attribute, api_name):
    schema = ContactSchema({"Age__c": FieldInfo("Age__c", F.DOUBLE, custom=True)})
    try:
        check_mapping(AttributeMapping(attribute, api_name), schema)
    except (InvalidFieldName, InvalidAttributeName):
        pass


# --- coercion -----------------------------------------------------------------------------


@pytest.mark.parametrize("field_type", sorted(VALUES))
@FAST
@given(data=st.data())
def test_wire_form_round_trips(field_type, data):
    wire = data.draw(WIRES[field_type])
    assert to_salesforce(field(field_type), from_salesforce(field(field_type), wire)) == wire


@pytest.mark.parametrize("field_type", sorted(VALUES))
@FAST
@given(data=st.data())
def test_value_round_trips_through_wire_and_json(field_type, data):
    value = data.draw(VALUES[field_type])
    f = field(field_type)
    assert from_salesforce(f, to_salesforce(f, value)) == value
    stored = json.loads(json.dumps(attribute_to_json(value), allow_nan=False))
    assert attribute_from_json(f, stored) == value


@FAST
@given(st.sampled_from([F.INT, F.LONG, F.DOUBLE, F.BOOLEAN, F.DATETIME]), st.data())
def test_bulk_csv_string_reads_as_the_rest_value(field_type, data):
    rest = data.draw(WIRES[field_type])
    bulk = json.dumps(rest) if field_type is not F.DATETIME else rest.replace("+0000", "Z")
    f = field(field_type)
    assert from_salesforce(f, bulk) == from_salesforce(f, rest)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(FieldType)), anything)
def test_hostile_values_only_raise_coercion_errors(field_type, raw):
    f = field(field_type)
    for convert in (from_salesforce, to_salesforce, attribute_from_json):
        try:
            convert(f, raw)
        except CoercionError as err:
            assert "Thing__c" in err.message or "not supported" in err.message


# --- import filter ------------------------------------------------------------------------


@FAST
@given(st.one_of(st.none(), st.text(), st.text(min_size=300, max_size=400)), anything)
def test_any_email_and_flag_give_a_decision(email, flag):
    settings_ = AccountSettings(AccountId("a"), only_import_tagged=True)
    contact = Contact(SalesforceId("003A"), email, fields={"gq_import__c": flag})
    decision = should_import(contact, settings_)
    if decision.accepted:
        assert normalize_email(email).count("@") == 1


emails = st.sampled_from(["a@x.org", "A@x.org ", "b@x.org", None])
batch = st.lists(
    st.builds(
        Contact,
        id=sf_ids.map(SalesforceId),
        email=emails,
        system_modstamp=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    ),
    max_size=8,
    unique_by=lambda c: c.id,
)


@FAST
@given(batch, st.sampled_from(list(DuplicatePolicy)))
def test_dedupe_keeps_one_contact_per_email(contacts, policy):
    winners, conflicts = dedupe_batch(contacts, policy)
    keys = [normalize_email(c.email) for c in winners if c.email]
    assert len(keys) == len(set(keys))
    assert len(winners) + len(conflicts) == len(contacts)
    assert {c.id for c in winners} | {c.other_contact_id for c in conflicts} == {
        c.id for c in contacts
    }
