"""The preflight of a push run, and the push plan of one candidate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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
    ConsentChange,
    ConsentSource,
    Misfit,
    PushRefusal,
    plan_push,
    preflight,
)

F = FieldType
EXPORT, TWO_WAY = MappingDirection.EXPORT, MappingDirection.TWO_WAY
ACCOUNT = AccountId("acc_1")
PUSHING = AccountSettings(ACCOUNT, direct_api=True, push_enabled=True)
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
SCHEMA = ContactSchema(
    {
        f.name: f
        for f in [
            FieldInfo(
                "Color__c",
                F.PICKLIST,
                updateable=True,
                custom=True,
                length=255,
                picklist_values=("Red", "Blue"),
                restricted_picklist=True,
            ),
            FieldInfo("Age__c", F.DOUBLE, updateable=True, custom=True, precision=3, scale=0),
            FieldInfo("Birthdate", F.DATE, updateable=True),
            FieldInfo("Nick__c", F.STRING, updateable=True, custom=True, length=20),
            FieldInfo("Name", F.STRING, length=121),
            FieldInfo("MailingAddress", F.ADDRESS),
            FieldInfo("Old__c", F.STRING, updateable=True, deprecated_and_hidden=True),
            FieldInfo("HasOptedOutOfEmail", F.BOOLEAN, updateable=True, nillable=False),
        ]
    }
)
COLOR = AttributeMapping("color_c", "Color__c", EXPORT)
AGE = AttributeMapping("age_c", "Age__c", EXPORT)
BORN = AttributeMapping("birthdate", "Birthdate", EXPORT)
NICK = AttributeMapping("nick_c", "Nick__c", TWO_WAY)
MAPPINGS = (COLOR, AGE, BORN, NICK)
CHECKED = preflight(PUSHING, SCHEMA, MAPPINGS)
ADA = Candidate(
    "cand_1",
    ACCOUNT,
    "ada@example.com",
    salesforce_id=SalesforceId("003000000000001AAA"),
    attributes={"color_c": "Red", "age_c": 36.0, "birthdate": "1815-12-10", "nick_c": "Ada"},
)


def contact(modstamp: datetime = NOW, **fields: object) -> Contact:
    return Contact(
        SalesforceId("003000000000001AAA"), None, system_modstamp=modstamp, fields=fields
    )


class TestPreflight:
    def test_every_exported_field_that_can_be_written_is_a_target(self):
        assert [t.field.name for t in CHECKED.targets] == [
            "Color__c",
            "Age__c",
            "Birthdate",
            "Nick__c",
        ]
        assert CHECKED.consent_field == SCHEMA.get("HasOptedOutOfEmail")
        assert CHECKED.refused_fields == {}

    def test_import_only_mappings_are_not_pushed(self):
        checked = preflight(PUSHING, SCHEMA, [AttributeMapping("name", "Name")])
        assert (checked.targets, checked.refused_fields) == ((), {})

    def test_each_unwritable_field_is_named_once_with_its_reason(self):
        mappings = [
            AttributeMapping("gone_c", "Gone__c", EXPORT),
            AttributeMapping("name", "Name", TWO_WAY),
            AttributeMapping("address", "MailingAddress", EXPORT),
            AttributeMapping("old_c", "Old__c", EXPORT),
            COLOR,
        ]
        checked = preflight(PUSHING, SCHEMA, mappings)
        assert checked.refused_fields == {
            "Gone__c": PushRefusal.FIELD_MISSING,
            "Name": PushRefusal.FIELD_NOT_UPDATEABLE,
            "MailingAddress": PushRefusal.COMPOUND_FIELD,
            "Old__c": PushRefusal.FIELD_MISSING,
        }
        assert [t.mapping for t in checked.targets] == [COLOR]

    def test_a_field_two_exported_attributes_write_is_refused(self):
        other = AttributeMapping("colour_c", "Color__c", EXPORT)
        checked = preflight(PUSHING, SCHEMA, [COLOR, other])
        assert checked.refused_fields == {"Color__c": PushRefusal.FIELD_MAPPED_TWICE}
        assert checked.targets == ()

    def test_an_attribute_exported_to_the_unsubscribe_field_is_refused_and_consent_kept(self):
        optout = AttributeMapping("opted_out", "HasOptedOutOfEmail", EXPORT)
        checked = preflight(PUSHING, SCHEMA, [optout])
        assert checked.refused_fields == {"HasOptedOutOfEmail": PushRefusal.FIELD_MAPPED_TWICE}
        assert checked.consent_field is not None

    def test_an_unsubscribe_field_that_is_no_checkbox_is_refused(self):
        settings = AccountSettings(ACCOUNT, push_enabled=True, unsubscribe_field="Nick__c")
        checked = preflight(settings, SCHEMA, [])
        assert checked.refused_fields == {"Nick__c": PushRefusal.NOT_A_CHECKBOX}
        assert checked.consent_field is None

    def test_a_missing_unsubscribe_field_is_refused(self):
        settings = AccountSettings(ACCOUNT, push_enabled=True, unsubscribe_field="Gone__c")
        assert preflight(settings, SCHEMA, []).refused_fields == {
            "Gone__c": PushRefusal.FIELD_MISSING
        }

    def test_an_account_that_may_not_push_has_no_targets(self):
        checked = preflight(
            AccountSettings(ACCOUNT, direct_api=False, push_enabled=True), SCHEMA, MAPPINGS
        )
        assert (checked.account_refusal, checked.targets) == (PushRefusal.NOT_DIRECT_MODE, ())


class TestPlan:
    def test_a_first_push_sends_every_value(self):
        plan = plan_push(CHECKED, ADA, {}, None, {}, NOW)
        assert plan.update == {
            "Color__c": "Red",
            "Age__c": 36,
            "Birthdate": "1815-12-10",
            "Nick__c": "Ada",
        }
        assert (plan.skipped, plan.refused, plan.conflicts, plan.consent_changes) == (
            None,
            {},
            (),
            (),
        )

    def test_a_second_push_with_nothing_changed_writes_nothing(self):
        first = plan_push(CHECKED, ADA, {}, None, {}, NOW)
        second = plan_push(CHECKED, ADA, first.update, None, {}, NOW)
        assert (second.update, second.settled) == ({}, {})

    def test_only_changed_values_are_sent(self):
        acknowledged = {
            "Color__c": "Red",
            "Age__c": 35,
            "Birthdate": "1815-12-10",
            "Nick__c": "Ada",
        }
        plan = plan_push(CHECKED, ADA, acknowledged, None, {}, NOW)
        assert plan.update == {"Age__c": 36}

    def test_an_attribute_the_candidate_lacks_is_never_cleared(self):
        candidate = Candidate(
            "c", ACCOUNT, "a@b.org", salesforce_id=ADA.salesforce_id, attributes={"age_c": None}
        )
        plan = plan_push(CHECKED, candidate, {"Age__c": 36, "Color__c": "Red"}, None, {}, NOW)
        assert plan.update == {"Age__c": None}

    def test_a_value_that_does_not_fit_is_refused_and_the_rest_still_goes(self):
        candidate = Candidate(
            "c",
            ACCOUNT,
            "a@b.org",
            salesforce_id=ADA.salesforce_id,
            attributes={"color_c": "Green", "age_c": 1000, "birthdate": date(1990, 1, 2)},
        )
        plan = plan_push(CHECKED, candidate, {}, None, {}, NOW)
        assert plan.refused == {"Color__c": Misfit.NOT_IN_PICKLIST, "Age__c": Misfit.OUT_OF_RANGE}
        assert plan.update == {"Birthdate": "1990-01-02"}

    def test_a_candidate_not_from_salesforce_is_left_alone(self):
        signed_up = Candidate("c", ACCOUNT, "a@b.org", attributes=ADA.attributes, unsubscribed=True)
        plan = plan_push(CHECKED, signed_up, {}, None, {}, NOW)
        assert (plan.skipped, plan.update, plan.consent_changes) == (
            PushRefusal.NOT_FROM_SALESFORCE,
            {},
            (),
        )

    def test_nothing_is_pushed_for_an_account_that_may_not(self):
        checked = preflight(AccountSettings(ACCOUNT), SCHEMA, MAPPINGS)
        plan = plan_push(checked, ADA, {}, None, {}, NOW)
        assert (plan.skipped, plan.update) == (PushRefusal.PUSH_DISABLED, {})

    def test_a_value_salesforce_holds_already_is_acknowledged_not_written(self):
        read = contact(
            Color__c="Red",
            Age__c=36.0,
            Birthdate="1815-12-10",
            Nick__c="Ada",
            HasOptedOutOfEmail=False,
        )
        plan = plan_push(CHECKED, ADA, {}, read, {}, NOW)
        assert plan.update == {}
        assert plan.settled == {
            "Color__c": "Red",
            "Age__c": 36,
            "Birthdate": "1815-12-10",
            "Nick__c": "Ada",
            "HasOptedOutOfEmail": False,
        }

    def test_an_export_leaves_an_edit_in_salesforce_alone_until_the_candidate_changes(self):
        acknowledged = {"Color__c": "Red"}
        checked = preflight(PUSHING, SCHEMA, [COLOR])
        assert plan_push(checked, ADA, acknowledged, contact(Color__c="Blue"), {}, NOW).update == {}
        blue_here = Candidate(
            "c", ACCOUNT, "a@b.org", salesforce_id=ADA.salesforce_id, attributes={"color_c": "Blue"}
        )
        assert plan_push(
            checked, blue_here, acknowledged, contact(Color__c="Red"), {}, NOW
        ).update == {"Color__c": "Blue"}


class TestPlanTwoWay:
    CHECKED = preflight(PUSHING, SCHEMA, [NICK])
    ACKNOWLEDGED = {"Nick__c": "Ada"}

    def candidate(self, nick: str) -> Candidate:
        return Candidate(
            "c", ACCOUNT, "a@b.org", salesforce_id=ADA.salesforce_id, attributes={"nick_c": nick}
        )

    def test_a_conflict_the_candidate_won_is_pushed_and_counted(self):
        plan = plan_push(
            self.CHECKED,
            self.candidate("Countess"),
            self.ACKNOWLEDGED,
            contact(NOW, Nick__c="Lovelace"),
            {"nick_c": NOW + timedelta(seconds=1)},
            NOW,
        )
        assert (plan.update, plan.candidate_updates, plan.conflicts) == (
            {"Nick__c": "Countess"},
            {},
            ("Nick__c",),
        )

    def test_a_conflict_salesforce_won_updates_the_candidate_and_is_counted(self):
        plan = plan_push(
            self.CHECKED,
            self.candidate("Countess"),
            self.ACKNOWLEDGED,
            contact(NOW, Nick__c="Lovelace"),
            {"nick_c": NOW - timedelta(seconds=1)},
            NOW,
        )
        assert (plan.update, plan.candidate_updates, plan.conflicts) == (
            {},
            {"nick_c": "Lovelace"},
            ("Nick__c",),
        )
        assert plan.settled == {"Nick__c": "Lovelace"}

    def test_a_change_in_salesforce_alone_is_no_conflict(self):
        plan = plan_push(
            self.CHECKED,
            self.candidate("Ada"),
            self.ACKNOWLEDGED,
            contact(NOW, Nick__c="Lovelace"),
            {},
            NOW,
        )
        assert (plan.update, plan.candidate_updates, plan.conflicts) == (
            {},
            {"nick_c": "Lovelace"},
            (),
        )


class TestPlanConsent:
    CHECKED = preflight(PUSHING, SCHEMA, [])

    def test_an_unsubscribe_here_is_pushed(self):
        gone = Candidate(
            "c", ACCOUNT, "a@b.org", salesforce_id=ADA.salesforce_id, unsubscribed=True
        )
        plan = plan_push(self.CHECKED, gone, {}, None, {}, NOW)
        assert plan.update == {"HasOptedOutOfEmail": True}
        assert plan.consent_changes == (ConsentChange("c", True, ConsentSource.SFSYNC, NOW),)
        assert plan_push(self.CHECKED, gone, plan.update, None, {}, NOW).update == {}

    def test_an_opt_out_in_salesforce_unsubscribes_the_candidate(self):
        plan = plan_push(self.CHECKED, ADA, {}, contact(HasOptedOutOfEmail=True), {}, NOW)
        assert (plan.unsubscribed, plan.update) == (True, {})
        assert plan.settled == {"HasOptedOutOfEmail": True}
        assert plan.consent_changes == (
            ConsentChange("cand_1", True, ConsentSource.SALESFORCE, NOW),
        )

    def test_a_later_false_in_salesforce_is_overwritten(self):
        gone = Candidate(
            "c", ACCOUNT, "a@b.org", salesforce_id=ADA.salesforce_id, unsubscribed=True
        )
        plan = plan_push(
            self.CHECKED,
            gone,
            {"HasOptedOutOfEmail": True},
            contact(HasOptedOutOfEmail=False),
            {},
            NOW,
        )
        assert (plan.unsubscribed, plan.update) == (True, {"HasOptedOutOfEmail": True})

    def test_a_subscribed_candidate_pushes_no_consent(self):
        assert plan_push(self.CHECKED, ADA, {}, None, {}, NOW).update == {}
