"""Import filter, candidate matching and duplicate-email resolution."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sfsync.domain.import_filter import (
    Conflict,
    DuplicateOutcome,
    ImportDecision,
    Match,
    MatchAction,
    SkipReason,
    dedupe_batch,
    is_plausible_email,
    link_candidate,
    match_existing,
    resolve_duplicate,
    should_import,
)
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    Candidate,
    Contact,
    DuplicatePolicy,
    SalesforceId,
)

ACCOUNT = AccountId("acc_1")
OLD = datetime(2024, 1, 1, tzinfo=UTC)
NEW = datetime(2024, 6, 1, tzinfo=UTC)


def contact(cid="003A", email="ada@example.com", modstamp=NEW, **fields) -> Contact:
    return Contact(SalesforceId(cid), email, system_modstamp=modstamp, fields=fields)


def candidate(sf_id="003A", email="ada@example.com", modstamp=OLD, **kw) -> Candidate:
    sid = SalesforceId(sf_id) if sf_id else None
    return Candidate("cand_1", ACCOUNT, email, salesforce_id=sid, source_modstamp=modstamp, **kw)


TAGGED_ONLY = AccountSettings(ACCOUNT, only_import_tagged=True)


class TestShouldImport:
    def test_contact_with_plausible_email_is_accepted(self):
        assert should_import(contact(), AccountSettings(ACCOUNT)) == ImportDecision(True, None)

    @pytest.mark.parametrize("email", [None, "", "   "])
    def test_contact_without_email_is_skipped(self, email):
        decision = should_import(contact(email=email), AccountSettings(ACCOUNT))
        assert decision == ImportDecision(False, SkipReason.NO_EMAIL)

    @pytest.mark.parametrize(
        "email",
        [
            "ada",
            "ada@",
            "@example.com",
            "ada lovelace@example.com",
            "ada@exa\x00mple.com",
            "ada@example",
            "a@b@example.com",
            "ada@example..com",
            "a" * 250 + "@x.com",
        ],
    )
    def test_implausible_email_is_skipped_as_invalid(self, email):
        decision = should_import(contact(email=email), AccountSettings(ACCOUNT))
        assert decision == ImportDecision(False, SkipReason.INVALID_EMAIL)

    def test_surrounding_whitespace_and_non_ascii_are_accepted(self):
        assert is_plausible_email("  zoë@exämple.de ")

    @pytest.mark.parametrize("flag", [True, "true", "TRUE", "1", 1, " True "])
    def test_tagged_contact_is_imported_when_only_tagged(self, flag):
        assert should_import(contact(gq_import__c=flag), TAGGED_ONLY).accepted

    @pytest.mark.parametrize("flag", [False, "false", "0", None, "", "yes", 2])
    def test_untagged_contact_is_skipped_when_only_tagged(self, flag):
        decision = should_import(contact(gq_import__c=flag), TAGGED_ONLY)
        assert decision == ImportDecision(False, SkipReason.NOT_TAGGED)

    def test_contact_without_the_flag_field_is_not_tagged(self):
        assert should_import(contact(), TAGGED_ONLY).reason is SkipReason.NOT_TAGGED

    def test_untagged_contact_without_email_counts_as_not_tagged(self):
        assert should_import(contact(email=None), TAGGED_ONLY).reason is SkipReason.NOT_TAGGED

    def test_flag_field_name_comes_from_settings(self):
        settings = AccountSettings(ACCOUNT, only_import_tagged=True, import_flag_field="Sync__c")
        assert should_import(contact(Sync__c="true"), settings).accepted
        assert not should_import(contact(gq_import__c=True), settings).accepted

    def test_flag_is_ignored_when_not_only_tagged(self):
        assert should_import(contact(gq_import__c=False), AccountSettings(ACCOUNT)).accepted

    def test_skip_reasons_have_stable_report_keys(self):
        assert {r.value for r in SkipReason} >= {
            "no_email",
            "invalid_email",
            "not_tagged",
            "flagged_deleted_never_imported",
            "duplicate_email",
        }


class TestMatchExisting:
    def test_no_candidate_means_create(self):
        assert match_existing(contact(), None, None).action is MatchAction.CREATE

    def test_candidate_linked_to_the_contact_is_updated(self):
        linked = candidate()
        assert match_existing(contact(), linked, linked) == Match(MatchAction.UPDATE, linked)

    def test_unlinked_candidate_with_the_email_is_linked_not_duplicated(self):
        signed_up = candidate(sf_id=None, email="ADA@example.com")
        assert match_existing(contact(), None, signed_up) == Match(MatchAction.LINK, signed_up)

    def test_candidate_linked_to_another_contact_is_a_conflict(self):
        other = candidate(sf_id="003B")
        assert match_existing(contact(), None, other).action is MatchAction.CONFLICT

    def test_email_changed_to_another_candidates_email_is_taken(self):
        linked = candidate(email="old@example.com")
        holder = Candidate("cand_2", ACCOUNT, "ada@example.com")
        match = match_existing(contact(), linked, holder)
        assert match == Match(MatchAction.EMAIL_TAKEN, linked)


class TestLinkCandidate:
    def test_linking_sets_the_contact_id_and_its_data(self):
        signed_up = candidate(sf_id=None, first_name="Ada", modstamp=None)
        sf = Contact(
            SalesforceId("003A"),
            " Ada@Example.com ",
            first_name=None,
            last_name="Lovelace",
            system_modstamp=NEW,
        )
        linked = link_candidate(signed_up, sf)
        assert (linked.salesforce_id, linked.source_modstamp) == ("003A", NEW)
        assert (linked.email, linked.first_name, linked.last_name) == (
            "Ada@Example.com",
            "Ada",
            "Lovelace",
        )

    def test_a_relink_takes_the_contacts_names_blanks_included(self):
        fatima = candidate(first_name="Fatima", last_name="Moreau", name="Fatima Moreau")
        other = Contact(
            SalesforceId("003B"), "ada@example.com", None, "Moreau", "Moreau", system_modstamp=NEW
        )
        moved = link_candidate(fatima, other)
        assert (moved.salesforce_id, moved.first_name, moved.last_name, moved.name) == (
            "003B",
            None,
            "Moreau",
            "Moreau",
        )

    def test_an_update_of_a_linked_candidate_takes_a_blanked_name(self):
        linked = candidate(first_name="Fatima", last_name="Moreau")
        same = Contact(SalesforceId("003A"), "ada@example.com", "", "Moreau", system_modstamp=NEW)
        assert link_candidate(linked, same).first_name == ""


class TestResolveDuplicate:
    def test_newest_relinks_the_candidate_to_the_newer_contact(self):
        res = resolve_duplicate(
            candidate(modstamp=OLD), contact("003B", modstamp=NEW), DuplicatePolicy.NEWEST
        )
        assert res.outcome is DuplicateOutcome.RELINKED
        assert res.candidate.salesforce_id == "003B"
        assert res.candidate.source_modstamp == NEW
        assert res.conflict == Conflict("cand_1", "003B", "003A", DuplicateOutcome.RELINKED)
        assert res.skip_reason is None

    def test_newest_skips_an_older_incoming_contact(self):
        res = resolve_duplicate(
            candidate(modstamp=NEW), contact("003B", modstamp=OLD), DuplicatePolicy.NEWEST
        )
        assert res.outcome is DuplicateOutcome.SKIPPED
        assert res.candidate == candidate(modstamp=NEW)
        assert res.skip_reason is SkipReason.DUPLICATE_EMAIL

    def test_newest_breaks_a_modstamp_tie_by_the_larger_id(self):
        larger = resolve_duplicate(
            candidate("003A", modstamp=NEW), contact("003B"), DuplicatePolicy.NEWEST
        )
        smaller = resolve_duplicate(
            candidate("003B", modstamp=NEW), contact("003A"), DuplicatePolicy.NEWEST
        )
        assert larger.candidate.salesforce_id == smaller.candidate.salesforce_id == "003B"

    def test_unknown_modstamp_counts_as_oldest(self):
        res = resolve_duplicate(
            candidate(modstamp=None), contact("003B", modstamp=OLD), DuplicatePolicy.NEWEST
        )
        assert res.outcome is DuplicateOutcome.RELINKED

    def test_oldest_keeps_the_first_linked_contact(self):
        res = resolve_duplicate(
            candidate(modstamp=OLD), contact("003B", modstamp=NEW), DuplicatePolicy.OLDEST
        )
        assert res.outcome is DuplicateOutcome.SKIPPED
        assert res.candidate.salesforce_id == "003A"
        assert res.conflict.other_contact_id == "003B"

    def test_review_flags_the_candidate_and_changes_nothing_else(self):
        existing = candidate()
        res = resolve_duplicate(existing, contact("003B"), DuplicatePolicy.REVIEW)
        assert res.candidate == candidate(needs_review=True)
        assert res.skip_reason is SkipReason.NEEDS_REVIEW
        assert res.conflict == Conflict("cand_1", "003A", "003B", DuplicateOutcome.NEEDS_REVIEW)

    def test_conflict_does_not_carry_the_email(self):
        res = resolve_duplicate(candidate(), contact("003B"), DuplicatePolicy.NEWEST)
        assert "example.com" not in repr(res.conflict)

    @pytest.mark.parametrize("sf_id", [None, "003B"])
    def test_candidate_not_linked_elsewhere_is_refused(self, sf_id):
        with pytest.raises(ValueError, match="linked to another Contact"):
            resolve_duplicate(candidate(sf_id=sf_id), contact("003B"), DuplicatePolicy.NEWEST)


class TestDedupeBatch:
    def test_two_contacts_with_one_email_give_one_winner(self):
        older = contact("003A", "ada@example.com", OLD)
        newer = contact("003B", "ADA@example.com ", NEW)
        winners, conflicts = dedupe_batch([older, newer], DuplicatePolicy.NEWEST)
        assert winners == [newer]
        assert conflicts == [Conflict(None, "003B", "003A", DuplicateOutcome.SKIPPED)]

    def test_oldest_keeps_the_first_seen(self):
        first, second = contact("003B", modstamp=NEW), contact("003A", modstamp=OLD)
        winners, _ = dedupe_batch([first, second], DuplicatePolicy.OLDEST)
        assert winners == [first]

    def test_review_keeps_the_first_and_reports_for_review(self):
        first, second = contact("003A"), contact("003B")
        winners, conflicts = dedupe_batch([first, second], DuplicatePolicy.REVIEW)
        assert winners == [first]
        assert conflicts[0].outcome is DuplicateOutcome.NEEDS_REVIEW

    @pytest.mark.parametrize("policy", list(DuplicatePolicy))
    def test_a_contact_already_linked_is_never_dropped(self, policy):
        old, linked, new = contact("003A", modstamp=OLD), contact("003B"), contact("003C")
        is_linked = lambda c: c.id == "003B"  # noqa: E731
        winners, conflicts = dedupe_batch([old, linked, new], policy, is_linked)
        kept, other = (new, old) if policy is DuplicatePolicy.NEWEST else (old, new)
        assert winners == [kept, linked]  # the new ones are deduped among themselves
        assert [(c.kept_contact_id, c.other_contact_id) for c in conflicts] == [(kept.id, other.id)]

    def test_a_linked_contact_seen_first_lets_the_next_new_one_through(self):
        linked, new = contact("003B"), contact("003A")
        winners, conflicts = dedupe_batch(
            [linked, new], DuplicatePolicy.OLDEST, lambda c: c is linked
        )
        assert (winners, conflicts) == ([linked, new], [])

    def test_distinct_emails_and_missing_emails_pass_through_in_order(self):
        batch = [
            contact("003A", None),
            contact("003B", "b@x.org"),
            contact("003C", ""),
            contact("003D", "d@x.org"),
        ]
        assert dedupe_batch(batch, DuplicatePolicy.NEWEST) == (batch, [])

    def test_batch_winner_matches_pairwise_resolution(self):
        a, b, c = (
            contact("003A", modstamp=OLD),
            contact("003C", modstamp=NEW),
            contact("003B", modstamp=NEW),
        )
        winners, conflicts = dedupe_batch([a, b, c], DuplicatePolicy.NEWEST)
        assert [w.id for w in winners] == ["003C"]
        assert len(conflicts) == 2
