"""Push eligibility: account, candidate and field."""

from __future__ import annotations

import pytest

from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    Candidate,
    FieldInfo,
    FieldType,
    SalesforceId,
)
from sfsync.domain.push import PushDecision, PushRefusal, push_eligibility

ACCOUNT = AccountId("acc_1")
PUSHING = AccountSettings(ACCOUNT, direct_api=True, push_enabled=True)
IMPORTED = Candidate("cand_1", ACCOUNT, "ada@example.com", salesforce_id=SalesforceId("003A"))
COLOR = FieldInfo("Favorite_Color__c", FieldType.STRING, updateable=True, custom=True)


class TestPushEligibility:
    def test_imported_candidate_and_updateable_field_may_be_pushed(self):
        assert push_eligibility(PUSHING, IMPORTED, COLOR) == PushDecision(True, None)

    @pytest.mark.parametrize(
        ("settings", "candidate", "field", "reason"),
        [
            (
                AccountSettings(ACCOUNT, direct_api=False, push_enabled=True),
                IMPORTED,
                COLOR,
                PushRefusal.NOT_DIRECT_MODE,
            ),
            (AccountSettings(ACCOUNT), IMPORTED, COLOR, PushRefusal.PUSH_DISABLED),
            (
                PUSHING,
                Candidate("cand_2", ACCOUNT, "b@x.org"),
                COLOR,
                PushRefusal.NOT_FROM_SALESFORCE,
            ),
            (PUSHING, IMPORTED, None, PushRefusal.FIELD_MISSING),
            (
                PUSHING,
                IMPORTED,
                FieldInfo("Name", FieldType.STRING, updateable=False),
                PushRefusal.FIELD_NOT_UPDATEABLE,
            ),
            (
                PUSHING,
                IMPORTED,
                FieldInfo("MailingAddress", FieldType.ADDRESS, updateable=True),
                PushRefusal.COMPOUND_FIELD,
            ),
        ],
    )
    def test_push_is_refused_with_its_reason(self, settings, candidate, field, reason):
        assert push_eligibility(settings, candidate, field) == PushDecision(False, reason)

    def test_account_reasons_come_before_field_reasons(self):
        off = AccountSettings(ACCOUNT, direct_api=False)
        assert push_eligibility(off, IMPORTED, None).reason is PushRefusal.NOT_DIRECT_MODE

    def test_component_of_a_compound_field_may_be_pushed(self):
        city = FieldInfo(
            "MailingCity", FieldType.STRING, updateable=True, compound_field_name="MailingAddress"
        )
        assert push_eligibility(PUSHING, IMPORTED, city).allowed
