"""Deletion behaviour: the checkbox, Salesforce's own deletes, and the account's choice."""

from __future__ import annotations

import pytest

from sfsync.domain.deletion import DeletionAction, apply_unsubscribe, decide_deletion
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    Candidate,
    Contact,
    DeletionBehaviour,
    SalesforceId,
)

ACCOUNT = AccountId("acc_1")
EXISTING = Candidate("cand_1", ACCOUNT, "ada@example.com", salesforce_id=SalesforceId("003A"))


def contact(is_deleted=False, **fields) -> Contact:
    return Contact(SalesforceId("003A"), "ada@example.com", is_deleted=is_deleted, fields=fields)


def settings(behaviour=DeletionBehaviour.KEEP, **kw) -> AccountSettings:
    return AccountSettings(ACCOUNT, deletion_behaviour=behaviour, **kw)


BEHAVIOUR_ACTIONS = [
    (DeletionBehaviour.KEEP, DeletionAction.KEEP),
    (DeletionBehaviour.DELETE, DeletionAction.DELETE),
    (DeletionBehaviour.UNSUBSCRIBE, DeletionAction.UNSUBSCRIBE),
]


class TestDecideDeletion:
    @pytest.mark.parametrize("behaviour", list(DeletionBehaviour))
    def test_unflagged_contact_needs_no_action(self, behaviour):
        action = decide_deletion(contact(is_deleted__c=False), settings(behaviour), EXISTING)
        assert action is DeletionAction.NONE

    def test_default_behaviour_keeps_the_candidate(self):
        flagged = contact(is_deleted__c=True)
        assert decide_deletion(flagged, AccountSettings(ACCOUNT), EXISTING) is DeletionAction.KEEP

    @pytest.mark.parametrize(("behaviour", "expected"), BEHAVIOUR_ACTIONS)
    @pytest.mark.parametrize("flag", [True, "true", "TRUE", "1", 1])
    def test_checkbox_applies_the_accounts_behaviour(self, behaviour, expected, flag):
        action = decide_deletion(contact(is_deleted__c=flag), settings(behaviour), EXISTING)
        assert action is expected

    @pytest.mark.parametrize(("behaviour", "expected"), BEHAVIOUR_ACTIONS)
    def test_salesforce_recycle_bin_delete_applies_the_behaviour(self, behaviour, expected):
        action = decide_deletion(contact(is_deleted=True), settings(behaviour), EXISTING)
        assert action is expected

    @pytest.mark.parametrize(("behaviour", "expected"), BEHAVIOUR_ACTIONS)
    def test_get_deleted_report_applies_the_behaviour(self, behaviour, expected):
        action = decide_deletion(contact(), settings(behaviour), EXISTING, True)
        assert action is expected

    @pytest.mark.parametrize("behaviour", list(DeletionBehaviour))
    def test_flagged_contact_never_imported_creates_nothing(self, behaviour):
        action = decide_deletion(contact(is_deleted__c="true"), settings(behaviour), None)
        assert action is DeletionAction.SKIP

    def test_deletion_field_name_comes_from_settings(self):
        custom = settings(DeletionBehaviour.DELETE, deletion_field="Gone__c")
        assert decide_deletion(contact(Gone__c=True), custom, EXISTING) is DeletionAction.DELETE
        assert decide_deletion(contact(is_deleted__c=True), custom, EXISTING) is (
            DeletionAction.NONE
        )

    def test_no_deletion_field_ignores_the_checkbox_but_not_salesforce_deletes(self):
        off = settings(DeletionBehaviour.DELETE, deletion_field=None)
        assert decide_deletion(contact(is_deleted__c=True), off, EXISTING) is DeletionAction.NONE
        assert decide_deletion(contact(True), off, EXISTING) is DeletionAction.DELETE

    def test_already_unsubscribed_candidate_is_kept_as_is(self):
        opted_out = apply_unsubscribe(EXISTING)
        action = decide_deletion(contact(True), settings(DeletionBehaviour.UNSUBSCRIBE), opted_out)
        assert action is DeletionAction.KEEP


def test_unsubscribe_marks_opted_out_and_keeps_the_rest():
    result = apply_unsubscribe(EXISTING)
    assert result.unsubscribed
    assert (result.id, result.email, result.salesforce_id) == ("cand_1", EXISTING.email, "003A")
