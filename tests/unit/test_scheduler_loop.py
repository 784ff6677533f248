"""The scheduler's loop: it ticks until stopped, and a tick that fails costs only that tick."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from structlog.testing import capture_logs

from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import SalesforceConnection
from sfsync.entrypoints.scheduler import FastClock, run_scheduler
from sfsync.services.scheduler import Scheduler, Tick
from tests.fakes import (
    FixedClock,
    InMemoryScheduleSlots,
    InMemoryState,
    InMemoryUnitOfWork,
    RecordingRequests,
)

MIDNIGHT_PACIFIC = datetime(2026, 1, 16, 8, 0, 1, tzinfo=UTC)


def test_the_loop_ticks_until_stopped_and_outlives_a_failed_publish():
    state = InMemoryState()
    with InMemoryUnitOfWork(state) as uow:
        uow.accounts.save_settings(AccountSettings(AccountId("acc_1")))
        uow.connections.save(SalesforceConnection(AccountId("acc_1"), "https://x", "", "t", None))
        uow.accounts.save_settings(AccountSettings(AccountId("acc_mars"), time_zone="Mars/Base"))
        uow.connections.save(
            SalesforceConnection(AccountId("acc_mars"), "https://x", "", "t", None)
        )
        uow.commit()
    state.created[AccountId("acc_1")] = datetime(2020, 1, 1, tzinfo=UTC)
    requests = RecordingRequests(fail_next=True)
    scheduler = Scheduler(InMemoryScheduleSlots(state), requests, FixedClock(MIDNIGHT_PACIFIC))
    stop, ticks = threading.Event(), []

    def seen(tick: Tick) -> None:
        ticks.append(tick)
        if len(ticks) == 3:
            stop.set()

    thread = threading.Thread(target=run_scheduler, args=(scheduler, stop, 0.0, seen))
    with capture_logs() as logs:
        thread.start()
        thread.join(10)
    assert not thread.is_alive()
    assert len(ticks) == 3  # the first tick's publish failed: it is not among them
    assert [len(t.published) for t in ticks] == [1, 0, 0]
    assert [r.account_id for r in requests.sent] == ["acc_1"]
    assert [entry["event"] for entry in logs].count("scheduler.tick_failed") == 1
    warned = [entry for entry in logs if entry["event"] == "scheduler.unschedulable"]
    assert [entry["accounts"] for entry in warned] == [["acc_mars"]]  # once, not every tick


def test_a_fast_clock_runs_faster_than_the_wall_clock():
    clock = FastClock(MIDNIGHT_PACIFIC, speed=3600)
    threading.Event().wait(0.05)
    assert (clock.now() - MIDNIGHT_PACIFIC).total_seconds() >= 60 * 3
