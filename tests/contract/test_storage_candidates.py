"""Candidate store contract: the same bodies run against the fake and Postgres."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest

from sfsync.domain.errors import CoercionError, Conflict, PermanentFailure, UnknownAccount
from sfsync.domain.model import AccountId, AccountSettings, Candidate, SalesforceId

MODSTAMP = datetime(2026, 11, 27, 18, 0, 0, 123000, tzinfo=UTC)


def a_candidate(account_id: AccountId, number: int = 1, **changes: Any) -> Candidate:
    candidate = Candidate(
        id=f"{account_id}_cand_{number}",
        account_id=account_id,
        email=f"ada{number}@example.com",
        first_name="Ada",
        last_name="Lovelace",
        name="Ada Lovelace",
        salesforce_id=SalesforceId(f"003000000000{number:03d}AAA"),
        source_modstamp=MODSTAMP,
        attributes={"favorite_color_c": "green", "age_c": 36, "tags_c": ["a", "b"]},
    )
    return attrs.evolve(candidate, **changes)


def add(new_uow, *candidates: Candidate) -> None:
    with new_uow() as uow:
        for candidate in candidates:
            uow.candidates.add(candidate)
        uow.commit()


class TestReadWrite:
    def test_added_candidate_reads_back_equal(self, new_uow, account):
        candidate = a_candidate(account)
        add(new_uow, candidate)
        with new_uow() as uow:
            assert uow.candidates.get(account, candidate.id) == candidate
            assert uow.candidates.count(account) == 1

    def test_unknown_candidate_is_none(self, new_uow, account):
        with new_uow() as uow:
            assert uow.candidates.get(account, "nobody") is None
            assert uow.candidates.get_by_email(account, "nobody@example.com") is None
            assert uow.candidates.get_by_salesforce_id(account, SalesforceId("003X")) is None

    def test_the_account_of_a_candidate_is_found_by_its_id_alone(
        self, new_uow, account, new_account_id
    ):
        other = new_account_id()
        with new_uow() as uow:
            uow.accounts.save_settings(AccountSettings(other))
            uow.commit()
        add(new_uow, a_candidate(account), a_candidate(other))
        with new_uow() as uow:
            assert uow.candidates.account_of(a_candidate(account).id) == account
            assert uow.candidates.account_of(a_candidate(other).id) == other
            assert uow.candidates.account_of("nobody") is None

    def test_email_lookup_ignores_case_and_spaces(self, new_uow, account):
        candidate = a_candidate(account, email="Ada.Lovelace@Example.com")
        add(new_uow, candidate)
        with new_uow() as uow:
            assert uow.candidates.get_by_email(account, " ada.lovelace@EXAMPLE.COM") == candidate

    def test_lookup_by_contact_id(self, new_uow, account):
        candidate = a_candidate(account)
        add(new_uow, candidate)
        with new_uow() as uow:
            found = uow.candidates.get_by_salesforce_id(account, candidate.salesforce_id)
            assert found == candidate

    def test_update_replaces_every_field(self, new_uow, account):
        candidate = a_candidate(account)
        add(new_uow, candidate)
        changed = attrs.evolve(
            candidate,
            email="new@example.com",
            first_name=None,
            salesforce_id=None,
            source_modstamp=None,
            attributes={},
            unsubscribed=True,
            needs_review=True,
        )
        with new_uow() as uow:
            uow.candidates.update(changed)
            uow.commit()
        with new_uow() as uow:
            assert uow.candidates.get(account, candidate.id) == changed
            assert uow.candidates.get_by_email(account, "ada1@example.com") is None

    def test_updating_a_missing_candidate_is_refused(self, new_uow, account):
        with new_uow() as uow, pytest.raises(PermanentFailure) as raised:
            uow.candidates.update(a_candidate(account))
        assert raised.value.code == "not_found"

    def test_dates_in_attributes_are_stored_as_iso_strings(self, new_uow, account):
        attributes = {"born_c": date(1815, 12, 10), "seen_c": MODSTAMP}
        add(new_uow, a_candidate(account, attributes=attributes))
        with new_uow() as uow:
            stored = uow.candidates.get(account, a_candidate(account).id)
        assert stored.attributes == {
            "born_c": "1815-12-10",
            "seen_c": "2026-11-27T18:00:00.123000+00:00",
        }

    def test_an_attribute_value_json_cannot_hold_is_refused(self, new_uow, account):
        with new_uow() as uow, pytest.raises(CoercionError):
            uow.candidates.add(a_candidate(account, attributes={"blob_c": b"\x00"}))

    def test_candidate_of_unregistered_account_is_refused(self, new_uow, new_account_id):
        with new_uow() as uow, pytest.raises(UnknownAccount):
            uow.candidates.add(a_candidate(new_account_id()))


class TestUniqueness:
    def test_same_email_twice_in_an_account_is_a_conflict(self, new_uow, account):
        add(new_uow, a_candidate(account, 1))
        twin = a_candidate(account, 2, email="ADA1@example.com")
        with new_uow() as uow, pytest.raises(Conflict):
            uow.candidates.add(twin)

    def test_same_contact_twice_in_an_account_is_a_conflict(self, new_uow, account):
        add(new_uow, a_candidate(account, 1))
        twin = a_candidate(account, 2, salesforce_id=a_candidate(account, 1).salesforce_id)
        with new_uow() as uow, pytest.raises(Conflict):
            uow.candidates.add(twin)

    def test_update_onto_another_candidates_email_is_a_conflict(self, new_uow, account):
        add(new_uow, a_candidate(account, 1), a_candidate(account, 2))
        with new_uow() as uow, pytest.raises(Conflict):
            uow.candidates.update(a_candidate(account, 2, email="ada1@example.com"))

    def test_many_candidates_may_have_no_contact(self, new_uow, account):
        add(new_uow, a_candidate(account, 1, salesforce_id=None))
        add(new_uow, a_candidate(account, 2, salesforce_id=None))
        with new_uow() as uow:
            assert uow.candidates.count(account) == 2

    def test_another_account_may_hold_the_same_email_and_contact(self, new_uow, new_account_id):
        first, second = new_account_id(), new_account_id()
        with new_uow() as uow:
            for account_id in (first, second):
                uow.accounts.save_settings(AccountSettings(account_id=account_id))
            uow.commit()
        theirs = attrs.evolve(a_candidate(first), id="other", account_id=second)
        add(new_uow, a_candidate(first), theirs)
        with new_uow() as uow:
            assert uow.candidates.get_by_email(second, "ada1@example.com") == theirs
            assert uow.candidates.get(second, a_candidate(first).id) is None
            assert uow.candidates.count(first) == 1

    def test_a_refused_write_leaves_the_unit_of_work_usable(self, new_uow, account):
        add(new_uow, a_candidate(account, 1))
        with new_uow() as uow:
            with pytest.raises(Conflict):
                uow.candidates.add(a_candidate(account, 2, email="ada1@example.com"))
            uow.candidates.add(a_candidate(account, 3))
            uow.commit()
        with new_uow() as uow:
            assert uow.candidates.count(account) == 2


class TestTransactions:
    def test_changes_without_commit_are_rolled_back(self, new_uow, account):
        with new_uow() as uow:
            uow.candidates.add(a_candidate(account))
        with new_uow() as uow:
            assert uow.candidates.count(account) == 0

    def test_rollback_discards_changes_since_commit(self, new_uow, account):
        with new_uow() as uow:
            uow.candidates.add(a_candidate(account, 1))
            uow.commit()
            uow.candidates.add(a_candidate(account, 2))
            uow.rollback()
            assert uow.candidates.count(account) == 1

    def test_uncommitted_changes_are_invisible_to_other_units_of_work(self, new_uow, account):
        with new_uow() as writer:
            writer.candidates.add(a_candidate(account))
            with new_uow() as reader:
                assert reader.candidates.count(account) == 0

    def test_a_unit_of_work_reopened_after_leaving_without_commit_starts_clean(
        self, new_uow, account
    ):
        uow = new_uow()
        with uow:
            uow.candidates.add(a_candidate(account))
        with uow:
            assert uow.candidates.count(account) == 0

    def test_using_a_store_outside_the_block_is_an_error(self, new_uow, account):
        uow = new_uow()
        with pytest.raises(RuntimeError):
            uow.candidates.count(account)


class TestDelete:
    def test_delete_removes_the_candidate_and_frees_its_email(self, new_uow, account):
        candidate = a_candidate(account)
        add(new_uow, candidate)
        with new_uow() as uow:
            assert uow.candidates.delete(account, candidate.id) is True
            uow.commit()
        with new_uow() as uow:
            assert uow.candidates.get(account, candidate.id) is None
            assert uow.candidates.get_by_email(account, candidate.email) is None
            assert uow.candidates.get_by_salesforce_id(account, candidate.salesforce_id) is None
            uow.candidates.add(attrs.evolve(candidate, id="again"))

    def test_deleting_a_missing_candidate_returns_false(self, new_uow, account):
        with new_uow() as uow:
            assert uow.candidates.delete(account, "nobody") is False

    def test_an_account_cannot_delete_another_accounts_candidate(
        self, new_uow, account, new_account_id
    ):
        candidate = a_candidate(account)
        add(new_uow, candidate)
        with new_uow() as uow:
            assert uow.candidates.delete(new_account_id(), candidate.id) is False
            assert uow.candidates.get(account, candidate.id) == candidate


class TestPushPages:
    def test_pages_hold_only_candidates_from_salesforce_in_id_order(self, new_uow, account):
        """Keyset pages by candidate id skip candidates with no Contact."""
        linked = [a_candidate(account, n) for n in (3, 1, 4, 2)]
        signup = a_candidate(account, 5, salesforce_id=None)
        add(new_uow, *linked, signup)
        with new_uow() as uow:
            first = uow.candidates.from_salesforce(account, None, 3)
            rest = uow.candidates.from_salesforce(account, first[-1].id, 3)
        ids = [c.id for c in first + rest]
        assert ids == sorted(c.id for c in linked)
        assert first[0] == min(linked, key=lambda c: c.id)

    def test_pages_never_show_another_accounts_candidates(self, new_uow, account, new_account_id):
        other = new_account_id()
        with new_uow() as uow:
            uow.accounts.save_settings(AccountSettings(account_id=other))
            uow.commit()
        add(new_uow, a_candidate(other, 1))
        with new_uow() as uow:
            assert uow.candidates.from_salesforce(account, None, 10) == []

    def test_a_new_candidates_values_have_no_change_time(self, new_uow, account):
        add(new_uow, a_candidate(account, 1))
        with new_uow() as uow:
            (read,) = uow.candidates.from_salesforce(account, None, 10)
        assert read.attributes_changed_at == {}

    def test_an_update_times_the_values_it_changes_and_keeps_the_others(self, new_uow, account):
        """Whoever writes: update() and apply_changes() alike."""
        candidate = a_candidate(account, 1)
        add(new_uow, candidate)
        before = datetime.now(UTC)
        changed = attrs.evolve(candidate, attributes={**candidate.attributes, "age_c": 37})
        with new_uow() as uow:
            uow.candidates.update(changed)
            uow.commit()
        with new_uow() as uow:
            (read,) = uow.candidates.from_salesforce(account, None, 10)
        assert set(read.attributes_changed_at) == {"age_c"}
        first = read.attributes_changed_at["age_c"]
        assert before - timedelta(seconds=5) <= first <= datetime.now(UTC)
        again = attrs.evolve(read, attributes={**read.attributes, "favorite_color_c": "red"})
        with new_uow() as uow:
            uow.candidates.apply_changes(account, [again], [])
            uow.commit()
        with new_uow() as uow:
            (read,) = uow.candidates.from_salesforce(account, None, 10)
        assert read.attributes_changed_at["age_c"] == first
        assert read.attributes_changed_at["favorite_color_c"] >= first
