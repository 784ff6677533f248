"""The page plan: domain rules applied to a page of Contacts and the candidates it touches."""

from datetime import UTC, datetime, timedelta
from itertools import count

import attrs

from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    Candidate,
    Contact,
    DeletionBehaviour,
    DuplicatePolicy,
    FieldInfo,
    FieldType,
    SalesforceId,
)
from sfsync.domain.push import ConsentChange, ConsentSource
from sfsync.services.import_plan import ImportContext, plan_batch

ACCOUNT = AccountId("acc_1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
COLOR = (
    AttributeMapping("favorite_color_c", "Favorite_Color__c"),
    FieldInfo("Favorite_Color__c", FieldType.PICKLIST, updateable=True, custom=True),
)
AGE = (AttributeMapping("age_c", "Age__c"), FieldInfo("Age__c", FieldType.INT, custom=True))


def ctx(**settings: object) -> ImportContext:
    return ImportContext(AccountSettings(ACCOUNT, **settings), (COLOR, AGE))  # type: ignore[arg-type]


def contact(
    n: int, email: str | None = "a@example.com", minutes: int = 0, **fields: object
) -> Contact:
    return Contact(
        SalesforceId(f"003{n:015d}"),
        email,
        "Ada",
        "Lovelace",
        "Ada Lovelace",
        system_modstamp=T0 + timedelta(minutes=minutes),
        fields=fields,
    )


def ids():
    counter = count(1)
    return lambda: f"cand_{next(counter)}"


def test_new_contact_creates_a_linked_candidate_with_typed_attributes():
    plan = plan_batch([contact(1, Favorite_Color__c="Blue", Age__c="42")], [], ctx(), ids(), T0)
    (created,) = plan.upserts.values()
    assert created.salesforce_id == "003000000000000001"
    assert created.attributes == {"favorite_color_c": "Blue", "age_c": 42}
    assert plan.counts["created"] == 1 and plan.counts["seen"] == 1


def test_contacts_without_or_with_bad_email_are_skipped_by_reason():
    page = [contact(1, None), contact(2, "   "), contact(3, "not an email")]
    plan = plan_batch(page, [], ctx(), ids(), T0)
    assert plan.upserts == {}
    assert plan.skipped == {"no_email": 2, "invalid_email": 1}


def test_filter_on_skips_untagged_contacts():
    page = [
        contact(1, "a@example.com", gq_import__c=True),
        contact(2, "b@example.com", gq_import__c=False),
    ]
    plan = plan_batch(page, [], ctx(only_import_tagged=True), ids(), T0)
    assert [c.email for c in plan.upserts.values()] == ["a@example.com"]
    assert plan.skipped == {"not_tagged": 1}


def test_rereading_an_unchanged_contact_writes_nothing():
    first = plan_batch([contact(1, Favorite_Color__c="Red")], [], ctx(), ids(), T0)
    stored = list(first.upserts.values())
    again = plan_batch([contact(1, Favorite_Color__c="Red")], stored, ctx(), ids(), T0)
    assert again.upserts == {}
    assert again.counts["unchanged"] == 1


def test_a_newer_modstamp_alone_is_kept_but_not_counted_as_an_update():
    first = plan_batch([contact(1, Favorite_Color__c="Red")], [], ctx(), ids(), T0)
    stored = list(first.upserts.values())
    again = plan_batch([contact(1, minutes=5, Favorite_Color__c="Red")], stored, ctx(), ids(), T0)
    (kept,) = again.upserts.values()
    assert kept.source_modstamp == T0 + timedelta(minutes=5)
    assert again.counts["unchanged"] == 1 and again.counts["updated"] == 0


def test_a_changed_value_updates_and_keeps_attributes_from_elsewhere():
    stored = Candidate(
        "cand_9",
        ACCOUNT,
        "a@example.com",
        "Ada",
        "Lovelace",
        "Ada Lovelace",
        SalesforceId("003000000000000001"),
        T0,
        {"favorite_color_c": "Red", "nps_score": 9},
    )
    page = [contact(1, minutes=1, Favorite_Color__c="Green")]
    plan = plan_batch(page, [stored], ctx(), ids(), T0)
    assert plan.upserts["cand_9"].attributes == {"favorite_color_c": "Green", "nps_score": 9}
    assert plan.counts["updated"] == 1


def test_signed_up_candidate_with_same_email_is_linked_not_duplicated():
    signed_up = Candidate("cand_7", ACCOUNT, "ADA@Example.com")
    plan = plan_batch([contact(1, "ada@example.com")], [signed_up], ctx(), ids(), T0)
    assert list(plan.upserts) == ["cand_7"]
    assert plan.upserts["cand_7"].salesforce_id == "003000000000000001"
    assert plan.counts["linked"] == 1 and plan.counts["created"] == 0


def test_two_contacts_with_one_email_in_a_page_give_one_candidate_and_a_conflict():
    page = [contact(1, "a@example.com", minutes=1), contact(2, "A@EXAMPLE.COM", minutes=2)]
    plan = plan_batch(page, [], ctx(), ids(), T0)
    (created,) = plan.upserts.values()
    assert created.salesforce_id == "003000000000000002"  # newest wins
    assert plan.skipped == {"duplicate_email": 1}
    assert len(plan.conflicts) == 1


def linked(n: int = 1, minutes: int = 0) -> Candidate:
    return Candidate(
        "cand_1",
        ACCOUNT,
        "a@example.com",
        salesforce_id=SalesforceId(f"003{n:015d}"),
        source_modstamp=T0 + timedelta(minutes=minutes),
    )


def test_a_linked_contact_moving_to_a_signed_up_email_is_skipped_not_merged():
    signed_up = Candidate("cand_7", ACCOUNT, "b@example.com")
    page = [contact(1, "B@example.com", minutes=5)]
    plan = plan_batch(page, [linked(1), signed_up], ctx(), ids(), T0)
    assert plan.upserts == {}
    assert plan.skipped == {"duplicate_email": 1}


def test_a_duplicate_in_the_page_never_drops_the_update_of_the_emails_own_contact():
    # Contact 2 (linked to cand_2) renames; newer Contact 1 (linked to cand_1) moves to
    # the same email: Contact 1 is EMAIL_TAKEN, Contact 2's update is applied.
    own = attrs.evolve(linked(2), id="cand_2", email="b@example.com")
    renamed = attrs.evolve(contact(2, "b@example.com", minutes=5), first_name="Bea")
    page = [renamed, contact(1, "B@example.com", minutes=6)]
    plan = plan_batch(page, [linked(1), own], ctx(), ids(), T0)
    assert list(plan.upserts) == ["cand_2"] and plan.upserts["cand_2"].first_name == "Bea"
    assert plan.skipped == {"duplicate_email": 1}


def test_newest_policy_relinks_the_candidate_to_the_newer_contact():
    plan = plan_batch([contact(2, minutes=10)], [linked(1)], ctx(), ids(), T0)
    assert plan.upserts["cand_1"].salesforce_id == "003000000000000002"
    assert plan.conflicts[0].outcome == "relinked"


def test_oldest_policy_keeps_the_first_link():
    policy = ctx(duplicate_policy=DuplicatePolicy.OLDEST)
    plan = plan_batch([contact(2, minutes=10)], [linked(1)], policy, ids(), T0)
    assert plan.upserts == {}
    assert plan.skipped == {"duplicate_email": 1}


def test_review_policy_flags_the_candidate():
    policy = ctx(duplicate_policy=DuplicatePolicy.REVIEW)
    plan = plan_batch([contact(2, minutes=10)], [linked(1)], policy, ids(), T0)
    assert plan.upserts["cand_1"].needs_review
    assert plan.upserts["cand_1"].salesforce_id == "003000000000000001"


def test_deleted_contact_removes_the_candidate_when_the_account_says_delete():
    gone = attrs.evolve(contact(1), is_deleted=True)
    delete = ctx(deletion_behaviour=DeletionBehaviour.DELETE)
    plan = plan_batch([gone], [linked(1)], delete, ids(), T0)
    assert plan.deletes == ["cand_1"] and plan.upserts == {}
    assert plan.counts["deleted"] == 1


def test_flagged_contact_unsubscribes_the_candidate_when_the_account_says_unsubscribe():
    flagged = contact(1, is_deleted__c=True)
    plan = plan_batch(
        [flagged], [linked(1)], ctx(deletion_behaviour=DeletionBehaviour.UNSUBSCRIBE), ids(), T0
    )
    assert plan.upserts["cand_1"].unsubscribed
    assert plan.counts["unsubscribed"] == 1
    assert plan.consent == [ConsentChange("cand_1", True, ConsentSource.SALESFORCE, T0)]


def test_keep_behaviour_leaves_a_deleted_contacts_candidate_alone():
    plan = plan_batch([attrs.evolve(contact(1), is_deleted=True)], [linked(1)], ctx(), ids(), T0)
    assert plan.upserts == {} and plan.deletes == []
    assert plan.skipped == {"deleted_kept": 1}


def test_flagged_contact_never_imported_creates_nothing():
    plan = plan_batch(
        [contact(1, is_deleted__c="true")],
        [],
        ctx(deletion_behaviour=DeletionBehaviour.DELETE),
        ids(),
        T0,
    )
    assert plan.upserts == {} and plan.deletes == []
    assert plan.skipped == {"flagged_deleted_never_imported": 1}


def test_a_value_that_cannot_be_coerced_is_a_record_error_and_the_rest_imports():
    plan = plan_batch([contact(1, Favorite_Color__c="Red", Age__c="forty")], [], ctx(), ids(), T0)
    (created,) = plan.upserts.values()
    assert created.attributes == {"favorite_color_c": "Red"}
    (error,) = plan.errors
    assert error.salesforce_id == "003000000000000001" and "forty" not in error.message


def opting(**settings: object) -> ImportContext:
    """A run that reads the opt-out (the describe has it as a checkbox)."""
    return attrs.evolve(ctx(**settings), opt_out_field="HasOptedOutOfEmail")


def test_a_ticked_opt_out_unsubscribes_a_linked_candidate_once():
    page = [contact(1, minutes=1, HasOptedOutOfEmail=True)]
    plan = plan_batch(page, [linked(1)], opting(), ids(), T0)
    assert plan.upserts["cand_1"].unsubscribed and plan.counts["unsubscribed"] == 1
    assert plan.consent == [ConsentChange("cand_1", True, ConsentSource.SALESFORCE, T0)]
    full = attrs.evolve(opting(), reapply=True)  # applied again, opt-out and all
    again = plan_batch(page, [plan.upserts["cand_1"]], full, ids(), T0)
    assert again.consent == [] and again.counts["unsubscribed"] == 0


def test_an_opt_out_is_applied_only_when_the_run_reads_it():
    page = [contact(1, minutes=1, HasOptedOutOfEmail=True)]
    plan = plan_batch(page, [linked(1)], ctx(), ids(), T0)
    assert not plan.upserts["cand_1"].unsubscribed and plan.consent == []


def test_a_cleared_opt_out_leaves_an_unsubscribed_candidate_unsubscribed():
    unsubscribed = attrs.evolve(linked(1), unsubscribed=True)
    page = [contact(1, minutes=1, HasOptedOutOfEmail=False, Favorite_Color__c="Red")]
    plan = plan_batch(page, [unsubscribed], opting(), ids(), T0)
    assert plan.upserts["cand_1"].unsubscribed and plan.consent == []
    assert plan.counts["unsubscribed"] == 0 and plan.counts["updated"] == 1
