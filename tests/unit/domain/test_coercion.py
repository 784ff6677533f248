"""Values coerced between Salesforce wire forms (REST JSON, Bulk CSV) and attribute values."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfsync.domain.coercion import from_salesforce, is_flag_set, reader, to_salesforce
from sfsync.domain.errors import CoercionError
from sfsync.domain.model import FieldInfo, FieldType

F = FieldType
PST = timezone(timedelta(hours=-8))


def field(field_type: FieldType, **kw) -> FieldInfo:
    return FieldInfo("Thing__c", field_type, **kw)


INBOUND = [
    (F.STRING, "Ada", "Ada"),
    (F.TEXTAREA, "line 1\nline 2", "line 1\nline 2"),
    (F.EMAIL, "ada@example.com", "ada@example.com"),
    (F.PICKLIST, "Blue", "Blue"),
    (F.MULTIPICKLIST, "A;B", ["A", "B"]),
    (F.BOOLEAN, True, True),
    (F.BOOLEAN, "false", False),
    (F.BOOLEAN, "TRUE", True),
    (F.INT, 42, 42),
    (F.INT, "-42", -42),
    (F.LONG, 42.0, 42),
    (F.DOUBLE, 1.5, 1.5),
    (F.CURRENCY, "1234.50", 1234.5),
    (F.PERCENT, 7, 7.0),
    (F.DOUBLE, "1e3", 1000.0),
    (F.DATE, "2024-02-29", date(2024, 2, 29)),
    (F.DATETIME, "2024-01-01T00:00:00.000+0000", datetime(2024, 1, 1, tzinfo=UTC)),
    (F.DATETIME, "2024-01-01T00:00:00.000Z", datetime(2024, 1, 1, tzinfo=UTC)),
    (F.DATETIME, "2024-01-01T08:00:00.000+08:00", datetime(2024, 1, 1, tzinfo=UTC)),
    (F.TIME, "13:05:01.250Z", time(13, 5, 1, 250000)),
    (F.ID, "003000000000001", "003000000000001"),
    (F.REFERENCE, "001000000000001AAA", "001000000000001AAA"),
]


class TestFromSalesforce:
    @pytest.mark.parametrize(("field_type", "raw", "value"), INBOUND)
    def test_wire_value_becomes_typed_value(self, field_type, raw, value):
        assert from_salesforce(field(field_type), raw) == value

    @pytest.mark.parametrize("field_type", [t for t, _, _ in INBOUND])
    @pytest.mark.parametrize("blank", [None, "", "  "])
    def test_blank_is_none_for_every_type(self, field_type, blank):
        assert from_salesforce(field(field_type), blank) is None

    def test_datetime_keeps_its_time_zone_instant(self):
        value = from_salesforce(field(F.DATETIME), "2024-01-01T00:00:00.000-0800")
        assert value == datetime(2024, 1, 1, tzinfo=PST)

    @pytest.mark.parametrize(
        ("field_type", "raw"),
        [
            (F.STRING, 5),
            (F.MULTIPICKLIST, ["A"]),
            (F.BOOLEAN, "yes"),
            (F.BOOLEAN, 2),
            (F.INT, "4.5"),
            (F.INT, 4.5),
            (F.INT, True),
            (F.INT, 2**31),
            (F.INT, "1_000"),
            (F.LONG, "٤٢"),
            (F.DOUBLE, "nan"),
            (F.DOUBLE, "inf"),
            (F.DOUBLE, float("inf")),
            (F.DOUBLE, "1_0"),
            (F.DOUBLE, False),
            (F.DATE, "2024-02-30"),
            (F.DATE, "20240101"),
            (F.DATE, "2024-01-01T00:00:00Z"),
            (F.DATETIME, "2024-01-01T00:00:00"),
            (F.DATETIME, "2024-01-01"),
            (F.TIME, "25:00:00Z"),
            (F.ID, "003"),
            (F.ID, "003000000000001AAAx"),
            (F.REFERENCE, "003'; DROP TABLE--"),
        ],
    )
    def test_uncoercible_value_is_a_coercion_error(self, field_type, raw):
        with pytest.raises(CoercionError):
            from_salesforce(field(field_type), raw)

    def test_error_names_field_and_type_but_not_the_value(self):
        with pytest.raises(CoercionError) as err:
            from_salesforce(field(F.DATE), "born-1815-secret")
        assert "Thing__c" in err.value.message and "date" in err.value.message
        assert "secret" not in str(err.value)

    @pytest.mark.parametrize("field_type", [F.ADDRESS, F.LOCATION, F.BASE64, F.ANYTYPE])
    def test_unsupported_type_is_a_coercion_error(self, field_type):
        with pytest.raises(CoercionError, match="not supported"):
            from_salesforce(field(field_type), None)


OUTBOUND = [
    (F.STRING, 'zoë "q" \\ \n', 'zoë "q" \\ \n'),
    (F.MULTIPICKLIST, ["A", "B"], "A;B"),
    (F.MULTIPICKLIST, [], None),
    (F.BOOLEAN, False, False),
    (F.LONG, 2**40, 2**40),
    (F.DOUBLE, 3, 3.0),
    (F.DATE, date(812, 1, 2), "0812-01-02"),
    (F.DATETIME, datetime(2024, 1, 1, 0, 0, 0, 999999, tzinfo=PST), "2024-01-01T08:00:00.999+0000"),
    (F.TIME, time(9, 0), "09:00:00.000Z"),
    (F.REFERENCE, "001000000000001AAA", "001000000000001AAA"),
]


class TestToSalesforce:
    @pytest.mark.parametrize(("field_type", "value", "wire"), OUTBOUND)
    def test_value_becomes_rest_wire_form(self, field_type, value, wire):
        assert to_salesforce(field(field_type), value) == wire

    def test_none_clears_a_nillable_field(self):
        assert to_salesforce(field(F.STRING), None) is None

    def test_none_for_a_required_field_is_refused(self):
        with pytest.raises(CoercionError, match="cannot be blank"):
            to_salesforce(field(F.BOOLEAN, nillable=False), None)

    @pytest.mark.parametrize(
        ("field_type", "value"),
        [
            (F.STRING, "nul\x00byte"),
            (F.STRING, "\ud800"),
            (F.STRING, 5),
            (F.MULTIPICKLIST, "A;B"),
            (F.MULTIPICKLIST, ["A;B"]),
            (F.MULTIPICKLIST, [""]),
            (F.BOOLEAN, "true"),
            (F.INT, 1.0),
            (F.INT, True),
            (F.INT, 2**31),
            (F.DOUBLE, float("nan")),
            (F.DOUBLE, "1.5"),
            (F.DATE, datetime(2024, 1, 1)),
            (F.DATE, "2024-01-01"),
            (F.DATETIME, datetime(2024, 1, 1)),
            (F.DATETIME, datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))),
            (F.TIME, time(9, tzinfo=UTC)),
            (F.ID, "short"),
            (F.ADDRESS, {"city": "x"}),
        ],
    )
    def test_value_salesforce_cannot_take_is_a_coercion_error(self, field_type, value):
        with pytest.raises(CoercionError):
            to_salesforce(field(field_type), value)


class TestIsFlagSet:
    @pytest.mark.parametrize("raw", [True, "true", "TRUE", "True", " 1 ", 1])
    def test_ticked_checkbox(self, raw):
        assert is_flag_set(raw)

    @pytest.mark.parametrize("raw", [False, "false", "0", 0, None, "", "yes", 2, 1.0, [True]])
    def test_anything_else_is_not_ticked(self, raw):
        assert not is_flag_set(raw)


SUPPORTED = sorted({t for t, _, _ in INBOUND} | {F.COMBOBOX, F.PHONE, F.URL, F.LONG})
WIRE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from([raw for _, raw, _ in INBOUND] + ["  7 ", " true ", "2024-02-29 "]),
    st.lists(st.text(max_size=3), max_size=2),
)


def outcome(read, raw):
    try:
        return ("value", read(raw))
    except CoercionError as err:
        return ("error", err.message)


class TestReader:
    """`reader` (the import's fast path) answers exactly as `from_salesforce` does."""

    @pytest.mark.parametrize(("field_type", "raw", "value"), INBOUND)
    def test_known_values(self, field_type, raw, value):
        assert reader(field(field_type))(raw) == value

    @settings(max_examples=300)
    @given(field_type=st.sampled_from(SUPPORTED), raw=WIRE_VALUES)
    def test_any_wire_value(self, field_type, raw):
        info = field(field_type)
        read = reader(info)
        assert outcome(read, raw) == outcome(lambda r: from_salesforce(info, r), raw)
