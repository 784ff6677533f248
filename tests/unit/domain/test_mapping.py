"""Attribute names, mapping checks, Contact-to-attributes and the stored JSON form."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from sfsync.domain.errors import CoercionError, InvalidAttributeName, InvalidFieldName
from sfsync.domain.mapping import (
    FieldError,
    attribute_name_for,
    check_mapping,
    contact_to_attributes,
    validate_attribute_name,
    validate_field_name,
)
from sfsync.domain.model import (
    AttributeMapping,
    Contact,
    ContactSchema,
    FieldInfo,
    FieldType,
    SalesforceId,
)
from sfsync.domain.stored_values import attribute_from_json, attribute_to_json

F = FieldType
SCHEMA = ContactSchema(
    {
        f.name: f
        for f in [
            FieldInfo("Favorite_Color__c", F.PICKLIST, updateable=True, custom=True),
            FieldInfo("Age__c", F.DOUBLE, updateable=True, custom=True),
            FieldInfo("Birthdate", F.DATE, updateable=True),
            FieldInfo("MailingCity", F.STRING, compound_field_name="MailingAddress"),
            FieldInfo("MailingStreet", F.TEXTAREA, compound_field_name="MailingAddress"),
            FieldInfo("MailingAddress", F.ADDRESS),
            FieldInfo("Photo__c", F.BASE64, custom=True),
        ]
    }
)


class TestAttributeNameFor:
    @pytest.mark.parametrize(
        ("field", "attribute"),
        [
            ("Favorite_Color__c", "favorite_color_c"),
            ("MailingCity", "mailing_city"),
            ("HasOptedOutOfEmail", "has_opted_out_of_email"),
            ("Age__c", "age_c"),
            ("ns__Score__c", "ns_score_c"),
            ("SSN__c", "ssn_c"),
            ("SSNNumber__c", "ssn_number_c"),
            ("Address2Line__c", "address2_line_c"),
            ("Id", "id"),
            ("Account__r", "account_r"),
        ],
    )
    def test_field_api_name_becomes_snake_case(self, field, attribute):
        assert attribute_name_for(field) == attribute

    def test_bad_field_name_is_refused(self):
        with pytest.raises(InvalidFieldName, match="Name FROM User"):
            attribute_name_for("Name FROM User --")

    def test_name_that_would_exceed_63_characters_is_refused(self):
        with pytest.raises(InvalidAttributeName, match="shorter"):
            attribute_name_for("ns__" + "AbCd" * 18 + "__c")


class TestValidateNames:
    @pytest.mark.parametrize("name", ["a", "favorite_color_c", "field2_name", "x_1_2"])
    def test_snake_case_attribute_name_is_accepted(self, name):
        assert validate_attribute_name(name) == name

    @pytest.mark.parametrize(
        "name",
        ["", "Favorite", "_a", "a_", "a__b", "1a", "a-b", "a b", "zoë", "a" * 64, None, 3],
    )
    def test_bad_attribute_name_is_refused_naming_it(self, name):
        with pytest.raises(InvalidAttributeName) as err:
            validate_attribute_name(name)
        shown = repr(name) if isinstance(name, str) else type(name).__name__
        assert shown[:40] in err.value.message

    @pytest.mark.parametrize(
        "name", ["Email", "Favorite_Color__c", "ns__Score__c", "Loc__Latitude__s", "Acct__r"]
    )
    def test_salesforce_field_name_is_accepted(self, name):
        assert validate_field_name(name) == name

    @pytest.mark.parametrize(
        "name",
        [
            "Name FROM User --",
            "Email,Phone",
            "Name'",
            'Na"me',
            "a__b__c__c",
            "Foo__",
            "_Foo",
            "Foo___c",
            "2Foo",
            "Foo__x",
            "Fo o",
            "Name;DROP",
            "Émail",
            "A" * 81,
            "",
            None,
        ],
    )
    def test_bad_field_name_is_refused(self, name):
        with pytest.raises(InvalidFieldName, match="not a Salesforce field API name"):
            validate_field_name(name)

    def test_long_bad_name_is_cut_short_in_the_message(self):
        with pytest.raises(InvalidFieldName) as err:
            validate_field_name("x " * 5000)
        assert len(err.value.message) < 300


class TestCheckMapping:
    def test_valid_custom_mapping_returns_its_field(self):
        mapping = AttributeMapping("favorite_color_c", "Favorite_Color__c")
        assert check_mapping(mapping, SCHEMA) is SCHEMA.fields["Favorite_Color__c"]

    def test_standard_field_may_use_any_snake_case_name(self):
        assert check_mapping(AttributeMapping("city", "MailingCity"), SCHEMA).name == "MailingCity"

    def test_field_name_must_match_exactly(self):
        with pytest.raises(InvalidFieldName, match="did you mean Favorite_Color__c") as err:
            check_mapping(AttributeMapping("favorite_color_c", "favorite_color__c"), SCHEMA)
        assert err.value.code == "field_case"

    def test_unknown_field_is_refused(self):
        with pytest.raises(InvalidFieldName, match="no field Shoe_Size__c"):
            check_mapping(AttributeMapping("shoe_size_c", "Shoe_Size__c"), SCHEMA)

    def test_compound_field_is_refused_naming_its_components(self):
        with pytest.raises(InvalidFieldName, match="MailingCity, MailingStreet") as err:
            check_mapping(AttributeMapping("address", "MailingAddress"), SCHEMA)
        assert err.value.code == "compound_field"

    def test_unsupported_type_is_refused(self):
        with pytest.raises(InvalidFieldName, match="base64"):
            check_mapping(AttributeMapping("photo_c", "Photo__c"), SCHEMA)

    def test_custom_field_attribute_must_end_in_c(self):
        with pytest.raises(InvalidAttributeName, match="favorite_color_c"):
            check_mapping(AttributeMapping("favorite_color", "Favorite_Color__c"), SCHEMA)

    def test_attribute_name_must_be_snake_case(self):
        with pytest.raises(InvalidAttributeName, match="FavoriteColor_c"):
            check_mapping(AttributeMapping("FavoriteColor_c", "Favorite_Color__c"), SCHEMA)


MAPPINGS = [
    AttributeMapping("favorite_color_c", "Favorite_Color__c"),
    AttributeMapping("age_c", "Age__c"),
    AttributeMapping("birthdate", "Birthdate"),
]


def contact(**fields) -> Contact:
    return Contact(SalesforceId("003A"), "ada@example.com", fields=fields)


class TestContactToAttributes:
    def test_mapped_values_are_coerced(self):
        attrs_, errors = contact_to_attributes(
            contact(Favorite_Color__c="Blue", Age__c="41", Birthdate="1815-12-10"),
            MAPPINGS,
            SCHEMA,
        )
        assert attrs_ == {
            "favorite_color_c": "Blue",
            "age_c": 41.0,
            "birthdate": date(1815, 12, 10),
        }
        assert errors == []

    def test_field_not_read_is_left_out_and_blank_gives_none(self):
        attrs_, errors = contact_to_attributes(contact(Age__c=""), MAPPINGS, SCHEMA)
        assert (attrs_, errors) == ({"age_c": None}, [])

    def test_bad_value_gives_an_error_without_the_value(self):
        attrs_, errors = contact_to_attributes(
            contact(Age__c="secret-41", Birthdate="1815-12-10"), MAPPINGS, SCHEMA
        )
        assert attrs_ == {"birthdate": date(1815, 12, 10)}
        [error] = errors
        assert (error.attribute, error.field, error.code) == ("age_c", "Age__c", "coercion_error")
        assert "Age__c" in error.message and "secret" not in error.message

    def test_broken_mapping_is_an_error_not_a_crash(self):
        mappings = [AttributeMapping("gone_c", "Gone__c"), AttributeMapping("Bad", "Age__c")]
        attrs_, errors = contact_to_attributes(contact(Gone__c="x", Age__c=1), mappings, SCHEMA)
        assert attrs_ == {}
        assert [(e.code, e.attribute) for e in errors] == [
            ("field_missing", "gone_c"),
            ("invalid_attribute_name", "Bad"),
        ]
        assert all(isinstance(e, FieldError) for e in errors)


class TestStoredJson:
    @pytest.mark.parametrize(
        ("field_type", "value", "stored"),
        [
            (F.DATE, date(2024, 2, 29), "2024-02-29"),
            (
                F.DATETIME,
                datetime(2024, 1, 1, 8, tzinfo=timezone(timedelta(hours=-8))),
                "2024-01-01T08:00:00-08:00",
            ),
            (
                F.DATETIME,
                datetime(2024, 1, 1, 0, 0, 0, 123000, tzinfo=UTC),
                "2024-01-01T00:00:00.123000+00:00",
            ),
            (F.TIME, time(13, 5, 1), "13:05:01"),
            (F.MULTIPICKLIST, ["A", "B"], ["A", "B"]),
            (F.BOOLEAN, True, True),
            (F.INT, 7, 7),
            (F.CURRENCY, 9.5, 9.5),
            (F.STRING, 'zoë "quoted"\n', 'zoë "quoted"\n'),
            (F.STRING, None, None),
        ],
    )
    def test_values_round_trip_through_json(self, field_type, value, stored):
        field = FieldInfo("X__c", field_type)
        assert attribute_to_json(value) == stored
        assert attribute_from_json(field, stored) == value

    @pytest.mark.parametrize("value", [float("nan"), object(), {"a": 1}, [1, 2], b"x"])
    def test_value_that_json_cannot_hold_is_refused(self, value):
        with pytest.raises(CoercionError, match="cannot be stored"):
            attribute_to_json(value)

    @pytest.mark.parametrize(
        ("field_type", "data"),
        [
            (F.DATETIME, "2024-01-01T00:00:00"),
            (F.DATETIME, 5),
            (F.DATE, "tomorrow"),
            (F.TIME, "25:00:00"),
            (F.TIME, 3),
            (F.MULTIPICKLIST, "A;B"),
            (F.INT, "x"),
        ],
    )
    def test_bad_stored_value_is_a_coercion_error(self, field_type, data):
        with pytest.raises(CoercionError, match="X__c"):
            attribute_from_json(FieldInfo("X__c", field_type), data)


@pytest.mark.parametrize(
    ("field_type", "raw"),
    [
        (FieldType.DATE, "2024-02-29"),
        (FieldType.DATETIME, "2024-01-01T08:00:00.000+0800"),
        (FieldType.TIME, "13:05:01.250Z"),
        (FieldType.MULTIPICKLIST, "A;B"),
        (FieldType.DOUBLE, "1e3"),
        (FieldType.BOOLEAN, "TRUE"),
        (FieldType.STRING, "  "),
    ],
)
def test_stored_reader_gives_the_stored_json_form(field_type, raw):
    from sfsync.domain.coercion import from_salesforce
    from sfsync.domain.stored_values import attribute_to_json, stored_reader

    info = FieldInfo("Thing__c", field_type)
    assert stored_reader(info)(raw) == attribute_to_json(from_salesforce(info, raw))
