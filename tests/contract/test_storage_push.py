"""Push storage: acknowledged values, consent changes, per-record push failures; one contract,
two stores (the in-memory fake and Postgres)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId, AccountSettings, Candidate, SalesforceId
from sfsync.domain.ports import PushAck, PushFailure, UnitOfWork
from sfsync.domain.push.consent import ConsentChange, ConsentSource

UowFactory = Callable[[], UnitOfWork]
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADA, BOB, CY = "cand_ada", "cand_bob", "cand_cy"
C_ADA, C_BOB, C_CY = SalesforceId("003ADA"), SalesforceId("003BOB"), SalesforceId("003CY")


def ids(account: AccountId) -> dict[str, str]:
    """Candidate ids are global: each test's account gets its own."""
    return {name: f"{name}_{account}" for name in (ADA, BOB, CY)}


@pytest.fixture
def people(new_uow: UowFactory, account: AccountId) -> dict[str, str]:
    """Three candidates of `account`, linked to Contacts."""
    named = ids(account)
    contacts = {ADA: C_ADA, BOB: C_BOB, CY: C_CY}
    with new_uow() as uow:
        for short, candidate_id in named.items():
            uow.candidates.add(
                Candidate(
                    candidate_id,
                    account,
                    f"{short}@example.com",
                    salesforce_id=contacts[short],
                )
            )
        uow.commit()
    return named


def other_account(new_uow: UowFactory, new_account_id: Callable[[], AccountId]) -> AccountId:
    other = new_account_id()
    with new_uow() as uow:
        uow.accounts.save_settings(AccountSettings(other))
        uow.commit()
    return other


class TestPushState:
    def test_a_page_is_read_back_by_candidate(self, new_uow, account, people):
        ada = PushAck(people[ADA], C_ADA, {"Age__c": 36, "Likes__c": ["a", "b"]}, T0, T0)
        bob = PushAck(people[BOB], C_BOB, {"HasOptedOutOfEmail": True}, T0)
        with new_uow() as uow:
            uow.push_state.acknowledge(account, [ada, bob])
            uow.commit()
        with new_uow() as uow:
            found = uow.push_state.acknowledged(account, [people[ADA], people[BOB], people[CY]])
        assert found == {people[ADA]: ada, people[BOB]: bob}

    def test_nothing_acknowledged_reads_as_an_empty_page(self, new_uow, account, people):
        with new_uow() as uow:
            assert uow.push_state.acknowledged(account, [people[ADA]]) == {}
            assert uow.push_state.acknowledged(account, []) == {}

    def test_values_are_kept_in_their_stored_json_form(self, new_uow, account, people):
        day = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
        with new_uow() as uow:
            uow.push_state.acknowledge(
                account, [PushAck(people[ADA], C_ADA, {"Seen__c": day, "Born__c": day.date()}, T0)]
            )
            uow.commit()
        with new_uow() as uow:
            values = uow.push_state.acknowledged(account, [people[ADA]])[people[ADA]].values
        assert values == {"Seen__c": "2026-12-01T09:30:00+00:00", "Born__c": "2026-12-01"}

    def test_values_past_64_bits_and_any_text_are_kept(self, new_uow, account, people):
        odd = {"Big__c": 2**70, "Text__c": 'quote " back \\ é 🚀', "Gone__c": None}
        with new_uow() as uow:
            uow.push_state.acknowledge(account, [PushAck(people[ADA], C_ADA, odd, T0, T0)])
            uow.commit()
        with new_uow() as uow:
            found = uow.push_state.acknowledged(account, [people[ADA]])[people[ADA]]
        assert found == PushAck(people[ADA], C_ADA, odd, T0, T0)

    def test_a_later_ack_merges_fields_for_the_same_contact(self, new_uow, account, people):
        later = T0 + timedelta(hours=1)
        with new_uow() as uow:
            uow.push_state.acknowledge(
                account, [PushAck(people[ADA], C_ADA, {"Age__c": 36, "City__c": "Oslo"}, T0, T0)]
            )
            uow.push_state.acknowledge(
                account, [PushAck(people[ADA], C_ADA, {"Age__c": 37}, later)]
            )
            uow.commit()
        with new_uow() as uow:
            found = uow.push_state.acknowledged(account, [people[ADA]])[people[ADA]]
        assert found == PushAck(people[ADA], C_ADA, {"Age__c": 37, "City__c": "Oslo"}, later)

    def test_an_ack_for_another_contact_replaces_the_values(self, new_uow, account, people):
        moved = SalesforceId("003ADA2")
        with new_uow() as uow:
            uow.push_state.acknowledge(
                account, [PushAck(people[ADA], C_ADA, {"Age__c": 36, "City__c": "Oslo"}, T0)]
            )
            uow.push_state.acknowledge(account, [PushAck(people[ADA], moved, {"Age__c": 36}, T0)])
            uow.commit()
        with new_uow() as uow:
            found = uow.push_state.acknowledged(account, [people[ADA]])[people[ADA]]
        assert (found.contact_id, found.values) == (moved, {"Age__c": 36})

    def test_read_back_merges_into_the_same_contacts_ack_and_adds_missing_ones(
        self, new_uow, account, people
    ):
        pushed = PushAck(people[ADA], C_ADA, {"Age__c": 36}, T0)
        moved = PushAck(people[BOB], C_BOB, {"Age__c": 40}, T0)
        with new_uow() as uow:
            uow.push_state.acknowledge(account, [pushed, moved])
            uow.commit()
        later = T0 + timedelta(hours=1)
        opted_out = {"HasOptedOutOfEmail": True}
        with new_uow() as uow:
            uow.push_state.read_back(
                account,
                [
                    PushAck(people[ADA], C_ADA, opted_out, later),
                    PushAck(people[BOB], C_CY, opted_out, later),  # not the Contact acked
                    PushAck(people[CY], C_CY, opted_out, later),
                ],
            )
            uow.commit()
        with new_uow() as uow:
            found = uow.push_state.acknowledged(account, list(people.values()))
        assert found[people[ADA]].values == {"Age__c": 36, "HasOptedOutOfEmail": True}
        assert found[people[BOB]] == moved
        assert found[people[CY]].values == opted_out

    def test_settle_acknowledges_accepted_updates_and_drops_refused_ones(
        self, new_uow, account, people
    ):
        later = T0 + timedelta(hours=1)
        with new_uow() as uow:
            uow.push_state.acknowledge(
                account,
                [
                    PushAck(people[ADA], C_ADA, {"City__c": "Oslo"}, T0, sending={"Age__c": 37}),
                    PushAck(people[BOB], C_BOB, {"Age__c": 40}, T0, sending={"Age__c": 41}),
                    PushAck(people[CY], C_CY, {"Age__c": 50}, T0),  # nothing on its way
                ],
            )
            uow.commit()
        with new_uow() as uow:
            settled = uow.push_state.settle(account, [C_ADA, C_CY], [C_BOB], later)
            uow.commit()
        assert settled == {C_ADA: people[ADA], C_BOB: people[BOB]}
        with new_uow() as uow:
            found = uow.push_state.acknowledged(account, list(people.values()))
            again = uow.push_state.settle(account, [C_ADA], [C_BOB], later)
        assert found[people[ADA]] == PushAck(
            people[ADA], C_ADA, {"City__c": "Oslo", "Age__c": 37}, later
        )
        assert found[people[BOB]] == PushAck(people[BOB], C_BOB, {"Age__c": 40}, later)
        assert found[people[CY]] == PushAck(people[CY], C_CY, {"Age__c": 50}, T0)
        assert again == {}  # answered once: nothing on its way any more

    def test_settle_leaves_other_contacts_and_accounts_alone(
        self, new_uow, account, people, new_account_id
    ):
        moved = SalesforceId("003ADA2")
        with new_uow() as uow:
            uow.push_state.acknowledge(
                account, [PushAck(people[ADA], moved, {}, T0, sending={"Age__c": 37})]
            )  # planned for a Contact the candidate is no longer linked to
            uow.push_state.acknowledge(
                account, [PushAck(people[BOB], C_BOB, {}, T0, sending={"Age__c": 41})]
            )
            uow.commit()
        other = other_account(new_uow, new_account_id)
        with new_uow() as uow:
            assert uow.push_state.settle(account, [moved], [], T0) == {}
            assert uow.push_state.settle(other, [C_BOB], [], T0) == {}
            assert uow.push_state.settle(account, [], [], T0) == {}
            assert uow.push_state.settle(account, [C_BOB], [], T0) == {C_BOB: people[BOB]}

    def test_nothing_is_kept_without_commit(self, new_uow, account, people):
        with new_uow() as uow:
            uow.push_state.acknowledge(account, [PushAck(people[ADA], C_ADA, {"A__c": 1}, T0)])
        with new_uow() as uow:
            assert uow.push_state.acknowledged(account, [people[ADA]]) == {}

    def test_another_accounts_candidate_is_refused_and_not_read(
        self, new_uow, account, people, new_account_id
    ):
        other = other_account(new_uow, new_account_id)
        with new_uow() as uow, pytest.raises(PermanentFailure) as refused:
            uow.push_state.acknowledge(other, [PushAck(people[ADA], C_ADA, {"A__c": 1}, T0)])
        assert refused.value.code == "not_found"
        with new_uow() as uow:
            uow.push_state.acknowledge(account, [PushAck(people[ADA], C_ADA, {"A__c": 1}, T0)])
            uow.commit()
        with new_uow() as uow:
            assert uow.push_state.acknowledged(other, [people[ADA]]) == {}

    def test_an_unknown_candidate_refuses_the_whole_page(self, new_uow, account, people):
        page = [
            PushAck(people[ADA], C_ADA, {"A__c": 1}, T0),
            PushAck("cand_nobody", C_BOB, {"A__c": 1}, T0),
        ]
        with new_uow() as uow, pytest.raises(PermanentFailure) as refused:
            uow.push_state.acknowledge(account, page)
        assert refused.value.code == "not_found"
        with new_uow() as uow:
            assert uow.push_state.acknowledged(account, [people[ADA]]) == {}

    def test_a_page_naming_a_candidate_twice_is_refused(self, new_uow, account, people):
        ack = PushAck(people[ADA], C_ADA, {"A__c": 1}, T0)
        with new_uow() as uow, pytest.raises(PermanentFailure) as refused:
            uow.push_state.acknowledge(account, [ack, ack])
        assert refused.value.code == "invalid_data"


def change(candidate_id: str, unsubscribed: bool, source: str, minutes: int) -> ConsentChange:
    return ConsentChange(
        candidate_id, unsubscribed, ConsentSource(source), T0 + timedelta(minutes=minutes)
    )


class TestConsent:
    def test_history_is_oldest_first_with_source_and_time(self, new_uow, account, people):
        ada = people[ADA]
        changes = [change(ada, False, "salesforce", 5), change(ada, True, "sfsync", 1)]
        with new_uow() as uow:
            uow.consent.append(account, changes)
            uow.consent.append(account, [change(people[BOB], True, "salesforce", 0)])
            uow.commit()
        with new_uow() as uow:
            assert uow.consent.history(account, ada) == changes[::-1]

    def test_changes_at_one_time_keep_the_order_appended(self, new_uow, account, people):
        ada = people[ADA]
        changes = [change(ada, True, "sfsync", 0), change(ada, False, "salesforce", 0)]
        with new_uow() as uow:
            uow.consent.append(account, changes[:1])
            uow.consent.append(account, changes[1:])
            uow.commit()
        with new_uow() as uow:
            assert uow.consent.history(account, ada) == changes

    def test_the_same_change_twice_is_kept_twice(self, new_uow, account, people):
        twice = [change(people[ADA], True, "sfsync", 0)] * 2
        with new_uow() as uow:
            uow.consent.append(account, twice)
            uow.commit()
        with new_uow() as uow:
            assert uow.consent.history(account, people[ADA]) == twice

    def test_a_candidate_without_changes_has_no_history(self, new_uow, account, people):
        with new_uow() as uow:
            assert uow.consent.history(account, people[ADA]) == []

    def test_another_accounts_candidate_is_refused_and_not_shown(
        self, new_uow, account, people, new_account_id
    ):
        other = other_account(new_uow, new_account_id)
        with new_uow() as uow, pytest.raises(PermanentFailure) as refused:
            uow.consent.append(other, [change(people[ADA], True, "sfsync", 0)])
        assert refused.value.code == "not_found"
        with new_uow() as uow:
            uow.consent.append(account, [change(people[ADA], True, "sfsync", 0)])
            uow.commit()
        with new_uow() as uow:
            assert uow.consent.history(other, people[ADA]) == []


def failure(candidate_id: str, contact: SalesforceId, code: str, **more) -> PushFailure:
    return PushFailure(candidate_id, contact, code, **more)


class TestPushFailures:
    def test_a_failure_is_kept_with_code_fields_message_and_times(self, new_uow, account, people):
        failed = failure(
            people[ADA],
            C_ADA,
            "STRING_TOO_LONG",
            fields=("City__c", "Notes__c"),
            message="City: data value too large: Oslo",
        )
        with new_uow() as uow:
            uow.push_failures.record(account, [failed], T0)
            uow.commit()
        with new_uow() as uow:
            kept = uow.push_failures.for_candidates(account, [people[ADA], people[BOB]])
        assert list(kept) == [people[ADA]]
        assert kept[people[ADA]] == PushFailure(
            people[ADA],
            C_ADA,
            "STRING_TOO_LONG",
            ("City__c", "Notes__c"),
            "City: data value too large: Oslo",
            retryable=True,
            attempts=1,
            first_seen=T0,
            last_seen=T0,
        )

    def test_a_failure_without_fields_or_message(self, new_uow, account, people):
        with new_uow() as uow:
            uow.push_failures.record(account, [failure(people[ADA], C_ADA, "UNKNOWN")], T0)
            uow.commit()
        with new_uow() as uow:
            kept = uow.push_failures.for_candidates(account, [people[ADA]])[people[ADA]]
        assert (kept.fields, kept.message) == ((), "")

    def test_failing_again_counts_an_attempt_and_keeps_first_seen(self, new_uow, account, people):
        later = T0 + timedelta(hours=2)
        with new_uow() as uow:
            uow.push_failures.record(
                account, [failure(people[ADA], C_ADA, "UNABLE_TO_LOCK_ROW")], T0
            )
            uow.commit()
        with new_uow() as uow:
            uow.push_failures.record(
                account,
                [failure(people[ADA], C_ADA, "ENTITY_IS_DELETED", retryable=False)],
                later,
            )
            uow.commit()
        with new_uow() as uow:
            kept = uow.push_failures.for_candidates(account, [people[ADA]])[people[ADA]]
        assert (kept.code, kept.attempts, kept.first_seen, kept.last_seen) == (
            "ENTITY_IS_DELETED",
            2,
            T0,
            later,
        )
        assert kept.retryable is False

    def test_failing_for_another_contact_starts_counting_again(self, new_uow, account, people):
        later = T0 + timedelta(hours=2)
        with new_uow() as uow:
            uow.push_failures.record(account, [failure(people[ADA], C_ADA, "X")], T0)
            uow.push_failures.record(account, [failure(people[ADA], C_BOB, "X")], later)
            uow.commit()
        with new_uow() as uow:
            kept = uow.push_failures.for_candidates(account, [people[ADA]])[people[ADA]]
        assert (kept.contact_id, kept.attempts, kept.first_seen) == (C_BOB, 1, later)

    def test_retryable_pages_in_candidate_order(self, new_uow, account, people):
        page = [
            failure(people[CY], C_CY, "UNABLE_TO_LOCK_ROW"),
            failure(people[ADA], C_ADA, "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
            failure(people[BOB], C_BOB, "ENTITY_IS_DELETED", retryable=False),
        ]
        with new_uow() as uow:
            uow.push_failures.record(account, page, T0)
            uow.commit()
        with new_uow() as uow:
            first = uow.push_failures.retryable(account, limit=1)
            rest = uow.push_failures.retryable(account, limit=10, after=first[-1].candidate_id)
        assert [f.candidate_id for f in first + rest] == [people[ADA], people[CY]]

    def test_give_up_keeps_the_failure_but_stops_retrying(self, new_uow, account, people):
        with new_uow() as uow:
            uow.push_failures.record(account, [failure(people[ADA], C_ADA, "X")], T0)
            uow.push_failures.give_up(account, [people[ADA]])
            uow.commit()
        with new_uow() as uow:
            assert uow.push_failures.retryable(account, limit=10) == []
            kept = uow.push_failures.for_candidates(account, [people[ADA]])
        assert kept[people[ADA]].retryable is False

    def test_clear_forgets_the_candidates_that_went_through(self, new_uow, account, people):
        page = [failure(people[ADA], C_ADA, "X"), failure(people[BOB], C_BOB, "X")]
        with new_uow() as uow:
            uow.push_failures.record(account, page, T0)
            uow.push_failures.clear(account, [people[ADA], people[CY]])
            uow.commit()
        with new_uow() as uow:
            kept = uow.push_failures.for_candidates(account, [people[ADA], people[BOB]])
        assert list(kept) == [people[BOB]]

    def test_other_accounts_neither_see_nor_touch_the_failures(
        self, new_uow, account, people, new_account_id
    ):
        other = other_account(new_uow, new_account_id)
        with new_uow() as uow:
            uow.push_failures.record(account, [failure(people[ADA], C_ADA, "X")], T0)
            uow.push_failures.clear(other, [people[ADA]])
            uow.push_failures.give_up(other, [people[ADA]])
            uow.commit()
        with new_uow() as uow:
            assert uow.push_failures.retryable(other, limit=10) == []
            assert uow.push_failures.for_candidates(other, [people[ADA]]) == {}
            assert [f.retryable for f in uow.push_failures.retryable(account, limit=10)] == [True]
            with pytest.raises(PermanentFailure) as refused:
                uow.push_failures.record(other, [failure(people[BOB], C_BOB, "X")], T0)
        assert refused.value.code == "not_found"

    def test_latest_are_the_last_seen_first_then_by_candidate(self, new_uow, account, people):
        later = T0 + timedelta(hours=1)
        with new_uow() as uow:
            uow.push_failures.record(account, [failure(people[CY], C_CY, "X")], T0)
            uow.push_failures.record(
                account,
                [
                    failure(people[BOB], C_BOB, "Y"),
                    failure(people[ADA], C_ADA, "Z", fields=("A__c",)),
                ],
                later,
            )
            uow.commit()
        with new_uow() as uow:
            latest = uow.push_failures.latest(account, limit=10)
            first = uow.push_failures.latest(account, limit=1)
        assert [(f.candidate_id, f.code, f.last_seen) for f in latest] == [
            (people[ADA], "Z", later),
            (people[BOB], "Y", later),
            (people[CY], "X", T0),
        ]
        assert latest[0] == PushFailure(
            people[ADA], C_ADA, "Z", ("A__c",), attempts=1, first_seen=later, last_seen=later
        )
        assert first == latest[:1]

    def test_latest_given_up_are_only_those_not_retried(self, new_uow, account, people):
        page = [failure(people[ADA], C_ADA, "X"), failure(people[BOB], C_BOB, "X")]
        with new_uow() as uow:
            uow.push_failures.record(account, page, T0)
            uow.push_failures.record(
                account, [failure(people[CY], C_CY, "ENTITY_IS_DELETED", retryable=False)], T0
            )
            uow.push_failures.give_up(account, [people[BOB]])
            uow.commit()
        with new_uow() as uow:
            given_up = uow.push_failures.latest(account, limit=10, given_up=True)
            every = uow.push_failures.latest(account, limit=10)
        assert [(f.candidate_id, f.retryable) for f in given_up] == [
            (people[BOB], False),
            (people[CY], False),
        ]
        assert [f.candidate_id for f in every] == [people[ADA], people[BOB], people[CY]]

    def test_latest_shows_no_other_accounts_failures(
        self, new_uow, account, people, new_account_id
    ):
        other = other_account(new_uow, new_account_id)
        with new_uow() as uow:
            uow.push_failures.record(account, [failure(people[ADA], C_ADA, "X")], T0)
            uow.commit()
        with new_uow() as uow:
            assert uow.push_failures.latest(other, limit=10) == []
            assert uow.push_failures.latest(other, limit=10, given_up=True) == []

    def test_a_page_naming_a_candidate_twice_is_refused(self, new_uow, account, people):
        twice = [failure(people[ADA], C_ADA, "X")] * 2
        with new_uow() as uow, pytest.raises(PermanentFailure) as refused:
            uow.push_failures.record(account, twice, T0)
        assert refused.value.code == "invalid_data"


def test_deleting_a_candidate_forgets_its_push_rows(new_uow, account, people):
    """What the push keeps about a candidate is personal data: it goes with the candidate."""
    ada, bob = people[ADA], people[BOB]
    with new_uow() as uow:
        for candidate_id, contact in ((ada, C_ADA), (bob, C_BOB)):
            uow.push_state.acknowledge(account, [PushAck(candidate_id, contact, {"A__c": 1}, T0)])
            uow.consent.append(account, [change(candidate_id, True, "sfsync", 0)])
            uow.push_failures.record(account, [failure(candidate_id, contact, "X")], T0)
        uow.candidates.delete(account, ada)
        uow.candidates.apply_changes(account, [], [bob])
        uow.commit()
    with new_uow() as uow:
        assert uow.push_state.acknowledged(account, [ada, bob]) == {}
        assert uow.push_failures.for_candidates(account, [ada, bob]) == {}
        assert uow.push_failures.retryable(account, limit=10) == []
        assert uow.consent.history(account, ada) == uow.consent.history(account, bob) == []
