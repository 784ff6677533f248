"""Value fit: the JSON value a push sends for an attribute value, or why it cannot."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from sfsync.domain.model import FieldInfo, FieldType
from sfsync.domain.push import DoesNotFit, Fits, Misfit, canonical, fit_value

F = FieldType
TEXT = FieldInfo("Nick__c", F.STRING, length=10)
COLOR = FieldInfo(
    "Color__c", F.PICKLIST, length=255, picklist_values=("Red", "Blue"), restricted_picklist=True
)
OPEN_COLOR = FieldInfo("Color__c", F.PICKLIST, picklist_values=("Red", "Blue"))
CHANNELS = FieldInfo(
    "Channels__c",
    F.MULTIPICKLIST,
    length=20,
    picklist_values=("Email", "SMS", "Post"),
    restricted_picklist=True,
)
SCORE = FieldInfo("Score__c", F.DOUBLE, precision=5, scale=2)
PRICE = FieldInfo("Price__c", F.CURRENCY, precision=18, scale=2)
SHARE = FieldInfo("Share__c", F.PERCENT, precision=3, scale=0)
COUNT = FieldInfo("Count__c", F.INT)
OPTED_OUT = FieldInfo("HasOptedOutOfEmail", F.BOOLEAN, nillable=False)
BORN = FieldInfo("Birthdate", F.DATE)
SEEN = FieldInfo("Seen__c", F.DATETIME)
AT = FieldInfo("At__c", F.TIME)
PARIS = timezone(timedelta(hours=2))
TONGA = timezone(timedelta(hours=13))
HONOLULU = timezone(timedelta(hours=-10))


def fits(field: FieldInfo, value: object) -> object:
    result = fit_value(field, value)
    assert isinstance(result, Fits), result
    return result.wire


def misfit(field: FieldInfo, value: object) -> Misfit:
    result = fit_value(field, value)
    assert isinstance(result, DoesNotFit), result
    return result.misfit


class TestText:
    def test_text_within_its_length_is_sent_as_it_is(self):
        assert fits(TEXT, "Ada  ") == "Ada  "

    def test_text_longer_than_the_field_is_refused(self):
        assert misfit(TEXT, "x" * 11) is Misfit.TOO_LONG

    def test_length_counts_as_salesforce_does(self):
        """An emoji is two characters to Salesforce (UTF-16), one to Python."""
        assert fits(TEXT, "é" * 10) == "é" * 10
        assert misfit(TEXT, "😀" * 6) is Misfit.TOO_LONG

    def test_empty_text_clears_the_field(self):
        assert fits(TEXT, "") is None

    def test_text_of_white_space_only_clears_it_as_an_import_reads_it_back(self):
        """Found by the read-back property: "\r" was sent, and read back as null."""
        assert [fits(TEXT, v) for v in ("\r", "  ", "\u2028")] == [None, None, None]
        assert fits(TEXT, " a ") == " a "

    def test_control_characters_are_refused(self):
        assert misfit(TEXT, "a\x00b") is Misfit.INVALID_CHARACTERS
        assert fits(TEXT, "a\tb\nc") == "a\tb\nc"

    @pytest.mark.parametrize("value", [5, True, ["a"], date(2024, 1, 1)])
    def test_anything_but_text_is_a_type_mismatch(self, value):
        assert misfit(TEXT, value) is Misfit.TYPE_MISMATCH


class TestPicklists:
    def test_a_restricted_picklist_takes_its_active_values_only(self):
        assert fits(COLOR, "Red") == "Red"
        assert misfit(COLOR, "Green") is Misfit.NOT_IN_PICKLIST
        assert misfit(COLOR, "red") is Misfit.NOT_IN_PICKLIST  # values match exactly

    def test_an_unrestricted_picklist_takes_any_text(self):
        assert fits(OPEN_COLOR, "Green") == "Green"

    def test_a_selection_is_joined_with_semicolons_in_the_picklists_order(self):
        assert fits(CHANNELS, ["SMS", "Email", "SMS"]) == "Email;SMS"

    def test_an_empty_selection_clears_the_field(self):
        assert fits(CHANNELS, []) is None

    @pytest.mark.parametrize("value", [["Fax"], ["Email", ""], ["Email;SMS"], [" "]])
    def test_a_value_not_allowed_in_the_selection_is_refused(self, value):
        assert misfit(CHANNELS, value) is Misfit.MULTIPICKLIST_VALUE_NOT_ALLOWED

    def test_a_selection_longer_than_the_field_is_refused(self):
        wide = FieldInfo("Tags__c", F.MULTIPICKLIST, length=8)
        assert fits(wide, ["abc", "defg"]) == "abc;defg"
        assert misfit(wide, ["abc", "defgh"]) is Misfit.TOO_LONG

    def test_one_joined_string_is_not_a_selection(self):
        assert misfit(CHANNELS, "Email;SMS") is Misfit.TYPE_MISMATCH


class TestNumbers:
    @pytest.mark.parametrize(
        ("value", "wire"),
        [(0.3, 0.3), (Decimal("0.30"), 0.3), (12, 12), (12.0, 12), (Decimal("-999.99"), -999.99)],
    )
    def test_numbers_are_sent_exactly(self, value, wire):
        sent = fits(SCORE, value)
        assert sent == wire and type(sent) is type(wire)

    def test_no_float_artefact_is_sent(self):
        assert repr(fits(SCORE, Decimal("0.3"))) == "0.3"
        assert repr(fits(PRICE, Decimal("1234567.89"))) == "1234567.89"

    def test_more_decimal_places_than_the_scale_are_refused_not_rounded(self):
        assert misfit(SCORE, 0.1 + 0.2) is Misfit.TOO_MANY_DECIMALS
        assert misfit(SCORE, Decimal("1.005")) is Misfit.TOO_MANY_DECIMALS
        assert misfit(SHARE, 12.5) is Misfit.TOO_MANY_DECIMALS

    def test_more_whole_digits_than_precision_minus_scale_are_out_of_range(self):
        assert fits(SCORE, 999.99) == 999.99
        assert misfit(SCORE, 1000) is Misfit.OUT_OF_RANGE
        assert fits(SHARE, 100) == 100
        assert misfit(SHARE, 1000) is Misfit.OUT_OF_RANGE

    def test_without_a_known_precision_eighteen_digits_is_the_limit(self):
        field = FieldInfo("N__c", F.DOUBLE)
        assert fits(field, 10**17) == 10**17
        assert misfit(field, 10**18) is Misfit.OUT_OF_RANGE
        assert fits(field, 0.123456789) == 0.123456789

    def test_digits_a_json_number_cannot_carry_exactly_are_refused(self):
        field = FieldInfo("N__c", F.DOUBLE, precision=18, scale=17)
        assert misfit(field, Decimal("0.12345678901234567")) is Misfit.OUT_OF_RANGE

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, Decimal("NaN")])
    def test_a_number_that_is_not_finite_is_refused(self, value):
        assert misfit(SCORE, value) is Misfit.NOT_FINITE

    @pytest.mark.parametrize("value", [True, "12", [1]])
    def test_a_boolean_or_text_is_not_a_number(self, value):
        assert misfit(SCORE, value) is Misfit.TYPE_MISMATCH

    def test_whole_number_fields_take_whole_values_in_range(self):
        assert fits(COUNT, 41.0) == 41
        assert misfit(COUNT, 41.5) is Misfit.TOO_MANY_DECIMALS
        assert misfit(COUNT, 2**31) is Misfit.OUT_OF_RANGE
        assert fits(FieldInfo("L", F.LONG), 2**31) == 2**31


class TestBooleans:
    def test_booleans_are_sent_as_they_are(self):
        assert fits(OPTED_OUT, True) is True
        assert fits(OPTED_OUT, False) is False

    @pytest.mark.parametrize("value", [1, 0, "true", "yes"])
    def test_nothing_but_a_boolean_is_accepted(self, value):
        assert misfit(OPTED_OUT, value) is Misfit.TYPE_MISMATCH

    def test_a_checkbox_cannot_be_blank(self):
        assert misfit(OPTED_OUT, None) is Misfit.REQUIRED


class TestDates:
    @pytest.mark.parametrize(
        "value",
        [
            date(1815, 12, 10),
            "1815-12-10",
            datetime(1815, 12, 10, tzinfo=UTC),
            datetime(1815, 12, 10, tzinfo=TONGA),
            datetime(1815, 12, 10, tzinfo=HONOLULU),
            datetime(1815, 12, 10),
            "1815-12-10T00:00:00+13:00",
            "1815-12-10T00:00:00-10:00",
        ],
    )
    def test_a_date_is_its_own_calendar_day_in_any_zone(self, value):
        """A midnight in Tonga is not the 9th in UTC: no date shifts through a time zone."""
        assert fits(BORN, value) == "1815-12-10"

    def test_a_date_time_with_a_time_of_day_is_not_a_date(self):
        assert misfit(BORN, datetime(2024, 1, 1, 12, tzinfo=UTC)) is Misfit.NOT_A_DATE

    @pytest.mark.parametrize("value", ["10/12/1815", "1815-13-01", 1815, "", "2024-01-01T00:00"])
    def test_anything_else_is_refused(self, value):
        assert isinstance(fit_value(BORN, value), DoesNotFit)

    def test_a_date_time_is_sent_in_utc_with_milliseconds(self):
        seen = datetime(2024, 3, 1, 1, 30, 5, 123456, tzinfo=PARIS)
        assert fits(SEEN, seen) == "2024-02-29T23:30:05.123+0000"
        assert fits(SEEN, seen.isoformat()) == "2024-02-29T23:30:05.123+0000"

    def test_a_date_time_without_a_zone_is_refused(self):
        assert misfit(SEEN, datetime(2024, 3, 1)) is Misfit.NO_TIME_ZONE
        assert misfit(SEEN, "2024-03-01T00:00:00") is Misfit.NO_TIME_ZONE

    def test_a_date_alone_is_not_a_date_time(self):
        assert misfit(SEEN, date(2024, 3, 1)) is Misfit.TYPE_MISMATCH

    def test_a_time_is_sent_with_milliseconds(self):
        assert fits(AT, time(13, 45, 0, 500000)) == "13:45:00.500Z"
        assert fits(AT, "13:45:00") == "13:45:00.000Z"


class TestFieldsAndBlanks:
    def test_none_clears_a_field_that_may_be_blank(self):
        assert fits(TEXT, None) is None

    def test_none_for_a_required_field_is_refused(self):
        required = FieldInfo("LastName", F.STRING, nillable=False, length=80)
        assert misfit(required, None) is Misfit.REQUIRED
        assert misfit(required, "") is Misfit.REQUIRED

    @pytest.mark.parametrize("kind", [F.BASE64, F.ANYTYPE, F.ADDRESS, F.LOCATION])
    def test_a_type_sfsync_cannot_write_is_refused(self, kind):
        assert misfit(FieldInfo("X__c", kind), "x") is Misfit.UNSUPPORTED_TYPE

    def test_a_reference_takes_a_salesforce_id(self):
        ref = FieldInfo("AccountId", F.REFERENCE)
        assert fits(ref, "001000000000001AAA") == "001000000000001AAA"
        assert misfit(ref, "not an id") is Misfit.TYPE_MISMATCH


class TestCanonical:
    def test_canonical_ignores_the_fields_limits(self):
        """Salesforce's own value compares even if it no longer fits (a retired value)."""
        assert canonical(COLOR, "Green") == Fits("Green")
        assert canonical(TEXT, "x" * 11) == Fits("x" * 11)

    def test_canonical_still_refuses_the_wrong_type(self):
        assert canonical(SCORE, "12") == DoesNotFit(Misfit.TYPE_MISMATCH)
