"""Bulk page reads and writes: the same bodies against the fake and Postgres."""

from __future__ import annotations

import attrs
import pytest

from sfsync.domain.errors import Conflict, PermanentFailure
from sfsync.domain.model import AccountId
from tests.contract.test_storage_candidates import MODSTAMP, a_candidate, add


def apply(new_uow, account, upserts=(), deletes=(), creates=()):
    with new_uow() as uow:
        uow.candidates.apply_changes(account, list(upserts), list(deletes), creates=creates)
        uow.commit()


def test_find_for_contacts_matches_by_contact_id_or_email_key(new_uow, account):
    by_id, by_email, other = (a_candidate(account, n) for n in (1, 2, 3))
    add(new_uow, by_id, by_email, other)
    with new_uow() as uow:
        found = uow.candidates.find_for_contacts(
            account, [by_id.salesforce_id], [by_email.email_key]
        )
    assert sorted(c.id for c in found) == sorted([by_id.id, by_email.id])


def test_find_for_contacts_never_crosses_accounts(new_uow, account, new_account_id):
    from sfsync.domain.model import AccountSettings

    stranger = new_account_id()
    with new_uow() as uow:
        uow.accounts.save_settings(AccountSettings(account_id=stranger))
        uow.commit()
    add(new_uow, a_candidate(stranger, 1))
    with new_uow() as uow:
        assert (
            uow.candidates.find_for_contacts(account, ["003000000000001AAA"], ["ada1@example.com"])
            == []
        )


def test_apply_changes_inserts_updates_and_deletes_in_one_go(new_uow, account):
    keep, change, drop = (a_candidate(account, n) for n in (1, 2, 3))
    add(new_uow, keep, change, drop)
    changed = attrs.evolve(change, first_name="Augusta", attributes={"age_c": 37})
    new = a_candidate(account, 4)
    apply(new_uow, account, [changed, new, keep], [drop.id])
    with new_uow() as uow:
        assert uow.candidates.get(account, change.id) == changed
        assert uow.candidates.get(account, new.id) == new
        assert uow.candidates.get(account, drop.id) is None
        assert uow.candidates.count(account) == 3


def test_apply_changes_allows_swapping_emails_within_a_page(new_uow, account):
    one, two = a_candidate(account, 1), a_candidate(account, 2)
    add(new_uow, one, two)
    apply(
        new_uow, account, [attrs.evolve(one, email=two.email), attrs.evolve(two, email=one.email)]
    )
    with new_uow() as uow:
        assert uow.candidates.get(account, one.id).email == two.email


def test_apply_changes_refuses_a_duplicate_email_and_writes_nothing(new_uow, account):
    one, two = a_candidate(account, 1), a_candidate(account, 2)
    add(new_uow, one)
    with pytest.raises(Conflict):
        apply(new_uow, account, [attrs.evolve(two, email=one.email.upper())])
    with new_uow() as uow:
        assert uow.candidates.count(account) == 1


def test_apply_changes_refuses_a_candidate_of_another_account(new_uow, account):
    foreign = attrs.evolve(a_candidate(account, 1), account_id=AccountId("acc_someone_else"))
    with pytest.raises(PermanentFailure):
        apply(new_uow, account, [foreign])
    with pytest.raises(PermanentFailure):
        apply(new_uow, account, creates=[foreign])


def test_apply_changes_inserts_creates_with_the_page(new_uow, account):
    new = [a_candidate(account, n) for n in (1, 2)]
    apply(new_uow, account, creates=new)
    with new_uow() as uow:
        assert [uow.candidates.get(account, c.id) for c in new] == new


def test_a_create_that_exists_after_all_is_written_as_an_update(new_uow, account):
    stored = a_candidate(account, 1)
    add(new_uow, stored)  # another writer got there first
    again = attrs.evolve(stored, first_name="Augusta")
    apply(new_uow, account, creates=[again, a_candidate(account, 2)])
    with new_uow() as uow:
        assert uow.candidates.get(account, stored.id) == again
        assert uow.candidates.count(account) == 2


def test_a_create_may_take_an_email_an_update_of_the_same_page_frees(new_uow, account):
    moving = a_candidate(account, 1)
    add(new_uow, moving)
    moved = attrs.evolve(moving, email="elsewhere@example.com")
    taker = a_candidate(account, 2, email=moving.email)
    apply(new_uow, account, [moved], creates=[taker])
    with new_uow() as uow:
        assert uow.candidates.get_by_email(account, moving.email) == taker


def test_a_create_clashing_on_email_is_refused_and_the_page_writes_nothing(new_uow, account):
    holder = a_candidate(account, 1)
    add(new_uow, holder)
    clash = a_candidate(account, 2, email=holder.email.upper())
    with pytest.raises(Conflict):
        apply(new_uow, account, [attrs.evolve(holder, first_name="B")], creates=[clash])
    with new_uow() as uow:
        assert uow.candidates.get(account, holder.id) == holder
        assert uow.candidates.count(account) == 1


def test_run_is_found_by_its_request_id(new_uow, account):
    from datetime import UTC, datetime

    from sfsync.domain.ports import RunRecord

    run = RunRecord("run-1-" + account, account, "req-1", "import", "running", datetime.now(UTC))
    with new_uow() as uow:
        uow.runs.start(run)
        uow.commit()
    with new_uow() as uow:
        assert uow.runs.find_by_request(account, "req-1").id == run.id
        assert uow.runs.find_by_request(account, "req-2") is None


def test_sync_marks_round_trip_even_before_any_cursor(new_uow, account):
    from datetime import UTC, datetime

    from sfsync.domain.model import SalesforceId, SyncCursor, SyncMarks

    when = datetime(2026, 11, 27, 18, 5, tzinfo=UTC)
    marks = SyncMarks(when, when, when, ("Id", "Email"), full_started_at=when)
    with new_uow() as uow:
        assert uow.runs.marks(account) == SyncMarks()
        uow.runs.save_marks(account, marks)
        uow.commit()
    with new_uow() as uow:
        assert uow.runs.marks(account) == marks
        assert uow.runs.cursor(account) is None
        uow.runs.save_cursor(account, SyncCursor(when, SalesforceId("003000000000001AAA")))
        uow.commit()
    with new_uow() as uow:
        assert uow.runs.marks(account) == marks
        assert uow.runs.cursor(account) == SyncCursor(when, SalesforceId("003000000000001AAA"))


def test_reconcile_finds_gone_and_missed_contacts_then_forgets_the_run(new_uow, account):
    from datetime import timedelta

    same, newer, gone = (a_candidate(account, n) for n in (1, 2, 3))
    add(new_uow, same, newer, gone)
    with new_uow() as uow:
        uow.candidates.record_seen(account, "run-r", [(same.salesforce_id, same.source_modstamp)])
        uow.candidates.record_seen(
            account, "run-r", [(newer.salesforce_id, MODSTAMP + timedelta(seconds=1))]
        )
        uow.commit()
    with new_uow() as uow:
        assert uow.candidates.reconcile_seen(account, "run-r") == (
            [gone.salesforce_id],
            [newer.salesforce_id],
        )
        uow.commit()
    with new_uow() as uow:  # the run's list is gone: everything linked now looks gone
        gone_now, missed = uow.candidates.reconcile_seen(account, "run-r")
    assert len(gone_now) == 3 and missed == []


@pytest.mark.parametrize(
    "hostile",
    ["tab\there", "new\nline", "back\\slash", "\\N", "cr\rhere", "quote'\"", "Zoë 🙂", "a\\tb"],
)
def test_apply_changes_round_trips_hostile_text(new_uow, account, hostile):
    candidate = attrs.evolve(
        a_candidate(account, 1),
        first_name=hostile,
        name=f"{hostile} {hostile}",
        email=f"o'brien+{abs(hash(hostile))}@example.com",
        attributes={"notes_c": hostile, "tags_c": [hostile, "x"], "when_c": "2024-01-01"},
    )
    apply(new_uow, account, [candidate])
    with new_uow() as uow:
        assert uow.candidates.get(account, candidate.id) == candidate
        (found,) = uow.candidates.find_for_contacts(account, [], [candidate.email_key])
    assert found == candidate


def test_a_page_of_many_creates_round_trips(new_uow, account):
    """Enough new candidates to take several COPY writes, hostile text among them."""
    new = [
        attrs.evolve(a_candidate(account, n), first_name="tab\there", attributes={"n": "\\N"})
        if n % 97 == 0
        else a_candidate(account, n)
        for n in range(1, 1202)
    ]
    apply(new_uow, account, creates=new)
    with new_uow() as uow:
        assert uow.candidates.count(account) == len(new)
        assert [uow.candidates.get(account, c.id) for c in new[::97]] == new[::97]


def test_a_create_of_a_late_chunk_that_exists_is_written_as_an_update(new_uow, account):
    """A clash found after earlier rows were sent still leaves the page whole."""
    existing = a_candidate(account, 1200)
    add(new_uow, existing)
    changed = attrs.evolve(existing, first_name="Augusta")
    new = [a_candidate(account, n) for n in range(1, 1200)]
    apply(new_uow, account, creates=[*new, changed])
    with new_uow() as uow:
        assert uow.candidates.count(account) == 1200
        assert uow.candidates.get(account, existing.id) == changed
        assert uow.candidates.get(account, new[-1].id) == new[-1]
