"""Sync runs, cursors and processed-message claims: one contract, two stores."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sfsync.domain.errors import Conflict, PermanentFailure
from sfsync.domain.model import AccountSettings, SalesforceId, SyncCursor
from sfsync.domain.ports import RunRecord

STARTED = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
FINISHED = datetime(2026, 11, 27, 18, 5, 30, 250000, tzinfo=UTC)


def a_run(account_id, **changes) -> RunRecord:
    run = RunRecord(
        id=f"run_{secrets.token_hex(6)}",
        account_id=account_id,
        request_id=f"req_{secrets.token_hex(6)}",
        scope="import",
        status="running",
        started_at=STARTED,
    )
    return attrs.evolve(run, **changes)


def start(new_uow, run: RunRecord) -> None:
    with new_uow() as uow:
        uow.runs.start(run)
        uow.commit()


def finish(new_uow, run: RunRecord) -> RunRecord:
    """Finish `run` as `partial` with a full report; return what was saved."""
    finished = attrs.evolve(
        run,
        status="partial",
        finished_at=FINISHED,
        processed=3,
        expected=4,
        counts={"seen": 3, "created": 1, "skipped": {"no_email": 2}, "errors": 1},
        errors=({"code": "INVALID_EMAIL", "salesforce_id": "003A", "fields": ["Email"]},),
        fields_read=("Id", "Email"),
        mode="full",
        source={
            "via": "vendor",
            "calls": 12,
            "rate_limit_wait_seconds": 1.5,
            "resync": "requested",
        },
    )
    with new_uow() as uow:
        uow.runs.finish(finished)
        uow.commit()
    return finished


class TestRuns:
    def test_started_run_reads_back_equal(self, new_uow, account):
        run = a_run(account, expected=None)
        start(new_uow, run)
        with new_uow() as uow:
            assert uow.runs.get(run.id) == run

    def test_a_checkpoint_saves_what_a_page_changed_and_nothing_else(self, new_uow, account):
        run = a_run(account)
        start(new_uow, run)
        page = attrs.evolve(
            run,
            status="succeeded",  # not a checkpoint's to change
            finished_at=FINISHED,
            processed=200,
            expected=1000,
            counts={"seen": 200, "created": 190, "skipped": {"no_email": 10}, "errors": 1},
            errors=({"code": "coercion_error", "message": "age_c: bad", "salesforce_id": "003A"},),
            fields_read=("Id", "Email"),
            mode="full",
            position=SyncCursor(FINISHED, SalesforceId("003000000000200AAA")),
            source={"via": "salesforce", "calls": 3},
        )
        with new_uow() as uow:
            uow.runs.checkpoint(page)
            uow.commit()
        with new_uow() as uow:
            assert uow.runs.get(run.id) == attrs.evolve(page, status="running", finished_at=None)

    def test_mode_and_position_read_back_from_start_and_finish(self, new_uow, account):
        position = SyncCursor(STARTED, SalesforceId("003000000000001AAA"))
        run = a_run(account, mode="incremental", position=position)
        start(new_uow, run)
        with new_uow() as uow:
            assert uow.runs.get(run.id) == run
            uow.runs.finish(attrs.evolve(run, status="succeeded", position=None))
            uow.commit()
        with new_uow() as uow:
            assert uow.runs.get(run.id).position is None

    def test_finish_records_the_report(self, new_uow, account):
        run = a_run(account)
        start(new_uow, run)
        finished = finish(new_uow, run)
        with new_uow() as uow:
            assert uow.runs.get(run.id) == finished

    def test_unknown_run_is_none(self, new_uow):
        with new_uow() as uow:
            assert uow.runs.get("run_unknown") is None

    @pytest.mark.parametrize("change", ["checkpoint", "finish"])
    def test_changing_an_unknown_run_is_refused(self, new_uow, account, change):
        run = a_run(account)
        with new_uow() as uow, pytest.raises(PermanentFailure) as raised:
            getattr(uow.runs, change)(run)
        assert raised.value.code == "not_found"

    def test_the_same_request_twice_is_a_conflict(self, new_uow, account):
        run = a_run(account)
        start(new_uow, run)
        with new_uow() as uow, pytest.raises(Conflict):
            uow.runs.start(a_run(account, request_id=run.request_id))

    def test_runs_without_request_may_repeat(self, new_uow, account):
        start(new_uow, a_run(account, request_id=None))
        start(new_uow, a_run(account, request_id=None))

    def test_the_same_run_id_twice_is_a_conflict(self, new_uow, account):
        run = a_run(account)
        start(new_uow, run)
        with new_uow() as uow, pytest.raises(Conflict):
            uow.runs.start(a_run(account, id=run.id))


class TestRecent:
    def test_newest_start_first_up_to_the_limit(self, new_uow, account):
        runs = [a_run(account, started_at=STARTED + timedelta(hours=h)) for h in (1, 3, 0, 2)]
        for run in runs:
            start(new_uow, run)
        with new_uow() as uow:
            assert list(uow.runs.recent(account, 3)) == [runs[1], runs[3], runs[0]]
            assert list(uow.runs.recent(account, 10)) == [runs[1], runs[3], runs[0], runs[2]]

    def test_a_run_reads_back_as_get_gives_it(self, new_uow, account):
        run = a_run(account)
        start(new_uow, run)
        finished = finish(new_uow, run)
        with new_uow() as uow:
            assert list(uow.runs.recent(account, 5)) == [finished] == [uow.runs.get(run.id)]

    def test_runs_starting_together_are_ordered_by_id(self, new_uow, account):
        runs = [a_run(account, id=f"run_{account}_{n}") for n in (1, 3, 2)]
        for run in runs:
            start(new_uow, run)
        with new_uow() as uow:
            assert [r.id for r in uow.runs.recent(account, 3)] == [
                f"run_{account}_{n}" for n in (3, 2, 1)
            ]

    def test_other_accounts_runs_are_left_out(self, new_uow, account, new_account_id):
        other = new_account_id()
        with new_uow() as uow:
            uow.accounts.save_settings(AccountSettings(account_id=other))
            uow.commit()
        mine = a_run(account)
        start(new_uow, mine)
        start(new_uow, a_run(other, started_at=STARTED + timedelta(days=1)))
        with new_uow() as uow:
            assert list(uow.runs.recent(account, 5)) == [mine]

    def test_a_run_not_started_is_left_out(self, new_uow, account):
        started = a_run(account)
        start(new_uow, a_run(account, status="queued", started_at=None))
        start(new_uow, started)
        with new_uow() as uow:
            assert list(uow.runs.recent(account, 5)) == [started]

    def test_no_runs_and_a_zero_limit_give_nothing(self, new_uow, account):
        with new_uow() as uow:
            assert list(uow.runs.recent(account, 5)) == []
        start(new_uow, a_run(account))
        with new_uow() as uow:
            assert list(uow.runs.recent(account, 0)) == []


class TestCursor:
    def test_no_cursor_before_the_first_import(self, new_uow, account):
        with new_uow() as uow:
            assert uow.runs.cursor(account) is None

    def test_saved_cursor_replaces_the_previous_one(self, new_uow, account):
        later = SyncCursor(FINISHED, SalesforceId("003000000000002AAA"))
        with new_uow() as uow:
            uow.runs.save_cursor(account, SyncCursor(STARTED, SalesforceId("003000000000001AAA")))
            uow.runs.save_cursor(account, later)
            uow.commit()
        with new_uow() as uow:
            assert uow.runs.cursor(account) == later

    def test_cursors_belong_to_one_account(self, new_uow, account, new_account_id):
        with new_uow() as uow:
            uow.runs.save_cursor(account, SyncCursor(STARTED, SalesforceId("003A")))
            uow.commit()
        with new_uow() as uow:
            assert uow.runs.cursor(new_account_id()) is None


class TestProcessedMessages:
    def test_a_message_is_claimed_once(self, new_uow):
        message_id = f"msg_{secrets.token_hex(6)}"
        with new_uow() as uow:
            assert uow.messages.claim(message_id) is True
            assert uow.messages.claim(message_id) is False
            uow.commit()
        with new_uow() as uow:
            assert uow.messages.claim(message_id) is False

    def test_a_rolled_back_claim_can_be_made_again(self, new_uow):
        message_id = f"msg_{secrets.token_hex(6)}"
        with new_uow() as uow:
            assert uow.messages.claim(message_id) is True
        with new_uow() as uow:
            assert uow.messages.claim(message_id) is True
