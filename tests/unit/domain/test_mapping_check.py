"""The describe check of a new mapping: one reason per refusal, and names to try instead."""

from __future__ import annotations

import pytest

from sfsync.domain.errors import InvalidAttributeName, InvalidFieldName, MappingRefused
from sfsync.domain.mapping import check_mapping, close_names, validate_mapping
from sfsync.domain.model import AttributeMapping, ContactSchema, FieldInfo, FieldType

F = FieldType
SCHEMA = ContactSchema(
    {
        f.name: f
        for f in [
            FieldInfo("Email", F.EMAIL),
            FieldInfo("FirstName", F.STRING, compound_field_name="Name"),
            FieldInfo("LastName", F.STRING, compound_field_name="Name"),
            FieldInfo("Name", F.STRING),
            FieldInfo("MailingCity", F.STRING, compound_field_name="MailingAddress"),
            FieldInfo("MailingLatitude", F.DOUBLE, compound_field_name="MailingAddress"),
            FieldInfo("MailingAddress", F.ADDRESS),
            FieldInfo("Home__Latitude__s", F.DOUBLE, custom=True, compound_field_name="Home__c"),
            FieldInfo("Home__c", F.LOCATION, custom=True),
            FieldInfo("Favorite_Color__c", F.PICKLIST, custom=True),
            FieldInfo("Favorite_Food__c", F.STRING, custom=True),
            FieldInfo("Photo__c", F.BASE64, custom=True),
            FieldInfo("Old_Score__c", F.DOUBLE, custom=True, deprecated_and_hidden=True),
            FieldInfo("Score__c", F.DOUBLE, custom=True),
        ]
    }
)


def refusal(name: str, field: str) -> MappingRefused:
    with pytest.raises(MappingRefused) as err:
        check_mapping(AttributeMapping(name, field), SCHEMA)
    return err.value


class TestRefusals:
    def test_a_misspelt_field_is_missing_and_the_closest_names_are_offered(self):
        """A typo names what the describe has, closest first."""
        err = refusal("favorite_color_c", "Favourite_Color__c")
        assert err.code == "field_missing"
        assert err.suggestions[0] == "Favorite_Color__c"
        assert "did you mean Favorite_Color__c" in err.message

    def test_a_misspelt_field_in_the_wrong_case_is_still_matched(self):
        """Suggestions ignore case: `favourite_colour__c` finds Favorite_Color__c."""
        assert refusal("favorite_color_c", "favourite_colour__c").suggestions[0] == (
            "Favorite_Color__c"
        )

    def test_a_field_nothing_resembles_is_missing_without_suggestions(self):
        """A hidden field (absent from the describe) says field-level security may hide it."""
        err = refusal("salary_c", "Salary_Band_Code__c")
        assert (err.code, err.suggestions) == ("field_missing", ())
        assert "field-level security" in err.message and "did you mean" not in err.message

    def test_several_suggestions_read_as_a_list(self):
        err = refusal("favorite_c", "Favorite__c")
        assert {"Favorite_Color__c", "Favorite_Food__c"} <= set(err.suggestions)
        assert " or " in err.message

    def test_suggestions_leave_out_fields_that_could_not_be_mapped(self):
        """`Photos__c` is close to Photo__c, but a base64 field would be refused too."""
        assert "Photo__c" not in refusal("photo_c", "Photos__c").suggestions

    def test_the_wrong_case_is_refused_naming_the_exact_name(self):
        err = refusal("email", "email")
        assert (err.code, err.suggestions) == ("field_case", ("Email",))
        assert "spelt Email, not email" in err.message and "did you mean Email?" in err.message

    @pytest.mark.parametrize(
        ("field", "parts"),
        [
            ("MailingAddress", ("MailingCity", "MailingLatitude")),
            ("Home__c", ("Home__Latitude__s",)),
        ],
    )
    def test_a_compound_field_is_refused_offering_its_components(self, field, parts):
        err = refusal("place_c", field)
        assert (err.code, err.suggestions) == ("compound_field", parts)
        assert ", ".join(parts) in err.message

    def test_a_compound_field_in_the_wrong_case_gets_the_compound_reason(self):
        """Suggesting the exact name of a field that is refused anyway would waste a try."""
        assert refusal("address", "mailingaddress").code == "compound_field"

    def test_a_deprecated_and_hidden_field_is_refused(self):
        err = refusal("old_score_c", "Old_Score__c")
        assert err.code == "field_deprecated" and "deprecated" in err.message

    def test_a_type_an_attribute_cannot_hold_is_refused(self):
        err = refusal("photo_c", "Photo__c")
        assert err.code == "unsupported_field_type" and "base64" in err.message

    def test_refusals_are_invalid_field_names(self):
        """The import catches InvalidFieldName for a mapping gone bad: this is one."""
        assert isinstance(refusal("photo_c", "Photo__c"), InvalidFieldName)


class TestAccepted:
    def test_an_exact_mappable_field_returns_its_info(self):
        mapping = AttributeMapping("score_c", "Score__c")
        assert check_mapping(mapping, SCHEMA) is SCHEMA.fields["Score__c"]

    def test_the_name_field_is_readable_so_it_may_be_mapped(self):
        """Name is compound-like (FirstName, LastName), but a query reads it as one string."""
        assert check_mapping(AttributeMapping("full_name", "Name"), SCHEMA).name == "Name"

    def test_the_attribute_name_rule_still_applies(self):
        with pytest.raises(InvalidAttributeName, match="score_c"):
            check_mapping(AttributeMapping("score", "Score__c"), SCHEMA)


class TestCloseNames:
    def test_best_first_and_at_most_three(self):
        names = ["Score1__c", "Score2__c", "Score3__c", "Score4__c", "Other__c"]
        assert len(close_names("Score__c", names)) == 3

    def test_keeps_the_spelling_of_the_describe(self):
        assert close_names("MAILINGCITY", ["MailingCity"]) == ("MailingCity",)

    def test_nothing_close_gives_nothing(self):
        assert close_names("Zebra", ["MailingCity", "Email"]) == ()


class TestValidateMapping:
    """What is checked when no describe can be read (the account is not connected)."""

    def test_a_well_formed_mapping_passes(self):
        mapping = AttributeMapping("favorite_color_c", "Favorite_Color__c")
        assert validate_mapping(mapping) is mapping

    def test_a_custom_field_needs_an_attribute_ending_in_c(self):
        with pytest.raises(InvalidAttributeName, match="for example favorite_color_c"):
            validate_mapping(AttributeMapping("favorite_color", "Favorite_Color__c"))

    @pytest.mark.parametrize(
        ("name", "field"), [("Bad-Name", "Email"), ("email", "Email FROM User")]
    )
    def test_malformed_names_are_refused(self, name, field):
        with pytest.raises((InvalidAttributeName, InvalidFieldName)):
            validate_mapping(AttributeMapping(name, field))
