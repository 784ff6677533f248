"""The scheduler's ticks on a fake clock: each slot published once, on time or late within
the grace period, and never again."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from sfsync.domain.errors import TransientFailure
from sfsync.domain.messages import Scope, Trigger
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import SalesforceConnection
from sfsync.services.scheduler import Scheduler, ScheduleSettings
from tests.fakes import (
    FixedClock,
    InMemoryScheduleSlots,
    InMemoryState,
    InMemoryUnitOfWork,
    RecordingRequests,
)

LA = ZoneInfo("America/Los_Angeles")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def pacific(*args: int) -> datetime:
    return datetime(*args, tzinfo=LA).astimezone(UTC)


class World:
    """One database's state, a fake clock and the requests sent; schedulers share them."""

    def __init__(self, now: datetime) -> None:
        self.state = InMemoryState()
        self.clock = FixedClock(now)
        self.requests = RecordingRequests()

    def account(self, name: str, connected: bool = True, **settings: object) -> AccountId:
        account_id = AccountId(name)
        with InMemoryUnitOfWork(self.state) as uow:
            uow.accounts.save_settings(
                AccountSettings(account_id, **{"push_enabled": True, **settings})
            )
            if connected:
                uow.connections.save(
                    SalesforceConnection(account_id, "https://x.my.salesforce.com", "", "t", None)
                )
            uow.commit()
        self.state.created[account_id] = LONG_AGO
        return account_id

    def disconnect(self, account_id: AccountId) -> None:
        with InMemoryUnitOfWork(self.state) as uow:
            uow.connections.delete(account_id)
            uow.commit()

    def scheduler(self, **settings: object) -> Scheduler:
        return Scheduler(
            InMemoryScheduleSlots(self.state),
            self.requests,
            self.clock,
            ScheduleSettings(**settings),  # type: ignore[arg-type]
        )

    def run(self, scheduler: Scheduler, until: datetime, every: timedelta) -> None:
        while self.clock.current < until:
            self.clock.current = min(self.clock.current + every, until)
            scheduler.tick()

    def sent(self) -> list[tuple[str, str, str]]:
        """(account, scope, Pacific time requested) of each request sent."""
        return [
            (r.account_id, r.scope.value, r.requested_at.astimezone(LA).strftime("%m-%d %H:%M"))
            for r in self.requests.sent
        ]


@pytest.mark.parametrize(
    ("start", "change"),
    [
        (pacific(2026, 3, 6, 12), "spring forward, 8 March"),
        (pacific(2026, 10, 30, 12), "fall back, 1 November"),
    ],
)
def test_ticking_across_a_daylight_saving_change_publishes_each_slot_once_on_time(start, change):
    """Default slots and slots inside the changing hour, ticked every 5 minutes for 4 days."""
    world = World(start)
    world.account("acc_default")
    world.account("acc_night", export_at=time(1, 30), import_at=time(2, 30))
    world.run(world.scheduler(), start + timedelta(days=4), timedelta(minutes=5))
    ids = [r.id for r in world.requests.sent]
    assert len(ids) == len(set(ids)) == 16, change
    assert all(r.trigger is Trigger.SCHEDULE for r in world.requests.sent)
    times = Counter((a, scope, t[6:]) for a, scope, t in world.sent())
    assert times[("acc_default", "export", "23:30")] == 4
    assert times[("acc_default", "import", "00:00")] == 4
    night = {k: n for k, n in times.items() if k[0] == "acc_night"}
    assert sum(night.values()) == 8
    if start.month == 3:  # 02:30 does not exist on the 8th: 03:30 PDT instead
        assert night[("acc_night", "import", "03:30")] == 1
        assert night[("acc_night", "import", "02:30")] == 3
    else:  # 01:30 happens twice on the 1st: the export goes at the first only
        assert night[("acc_night", "export", "01:30")] == 4


def test_an_account_in_its_own_time_zone_goes_at_its_own_local_times():
    world = World(pacific(2026, 6, 1, 12))
    world.account("acc_berlin", time_zone="Europe/Berlin", import_at=time(6), push_enabled=False)
    world.account("acc_pacific")
    world.run(world.scheduler(), pacific(2026, 6, 2, 12), timedelta(minutes=5))
    berlin = [r.requested_at.astimezone(ZoneInfo("Europe/Berlin")) for r in world.requests.sent]
    assert [(s[0], s[1]) for s in world.sent()] == [
        ("acc_berlin", "import"),  # 21:00 Pacific
        ("acc_pacific", "export"),
        ("acc_pacific", "import"),
    ]
    assert berlin[0].strftime("%H:%M") == "06:00"


def test_a_scheduler_down_at_the_slots_publishes_them_once_when_back_within_grace():
    world = World(pacific(2026, 1, 15, 23))
    world.account("acc_1")
    world.scheduler().tick()
    assert world.sent() == []
    world.clock.current = pacific(2026, 1, 16, 3)  # down from 23:00 until 03:00
    back = world.scheduler()
    back.tick()
    assert world.sent() == [("acc_1", "export", "01-16 03:00"), ("acc_1", "import", "01-16 03:00")]
    world.run(back, pacific(2026, 1, 16, 12), timedelta(minutes=1))
    world.scheduler().tick()  # another restart: still recorded
    assert len(world.sent()) == 2


def test_slots_older_than_the_grace_period_are_recorded_missed_never_a_backlog():
    world = World(pacific(2026, 1, 15, 23))
    world.account("acc_1")
    world.scheduler().tick()
    world.clock.current = pacific(2026, 1, 17, 2)  # down for 27 hours
    tick = world.scheduler(grace=timedelta(hours=2, minutes=15)).tick()
    assert world.sent() == [("acc_1", "import", "01-17 02:00")]  # only the one within grace
    assert tick.missed == 2  # the day before the grace period: the 16th's import and export
    statuses = Counter(status for _, status, _ in world.state.schedule_slots.values())
    assert statuses["published"] == 1
    world.run(world.scheduler(), pacific(2026, 1, 17, 12), timedelta(minutes=10))
    assert len(world.sent()) == 1


def test_an_account_connected_while_running_is_scheduled_and_a_disconnected_one_no_more():
    world = World(pacific(2026, 1, 15, 12))
    world.account("acc_1")
    scheduler = world.scheduler()
    scheduler.tick()
    world.clock.current = pacific(2026, 1, 16, 0, 10)
    added = world.account("acc_2")
    world.state.created[added] = world.clock.current  # connected after tonight's slots
    world.disconnect(AccountId("acc_1"))
    world.run(scheduler, pacific(2026, 1, 17, 1), timedelta(minutes=5))
    assert world.sent() == [("acc_2", "export", "01-16 23:30"), ("acc_2", "import", "01-17 00:00")]


def test_a_stop_between_batches_leaves_the_rest_due_and_nothing_is_published_twice():
    world = World(pacific(2026, 1, 15, 23, 59))
    for n in range(5):
        world.account(f"acc_{n}", push_enabled=False)
    first = world.scheduler(batch=2)
    first.tick()
    world.clock.current = pacific(2026, 1, 16, 0, 1)
    asked = []
    tick = first.tick(lambda: asked.append(1) or len(asked) > 1)  # stop after one batch
    assert tick.stopped and len(tick.published) == 2
    world.scheduler(batch=2).tick()  # a restarted scheduler
    accounts = [r.account_id for r in world.requests.sent]
    assert sorted(accounts) == [f"acc_{n}" for n in range(5)]


def test_a_publish_that_fails_leaves_its_slots_due_for_the_next_tick():
    world = World(pacific(2026, 1, 16, 0, 1))
    world.account("acc_1", push_enabled=False)
    scheduler = world.scheduler()
    world.requests.fail_next = True
    with pytest.raises(TransientFailure):
        scheduler.tick()
    assert "published" not in {status for _, status, _ in world.state.schedule_slots.values()}
    scheduler.tick()
    scheduler.tick()
    [request] = world.requests.sent
    assert request.scope is Scope.IMPORT


def test_an_account_with_an_unknown_time_zone_is_skipped_and_named():
    world = World(pacific(2026, 1, 16, 0, 1))
    world.account("acc_bad", time_zone="Mars/Olympus", push_enabled=False)
    world.account("acc_good", push_enabled=False)
    tick = world.scheduler().tick()
    assert tick.unschedulable == ("acc_bad",)
    assert [r.account_id for r in world.requests.sent] == ["acc_good"]


def test_slot_records_older_than_a_month_are_forgotten_once_a_day():
    world = World(pacific(2026, 1, 1, 12))
    world.account("acc_1", push_enabled=False)
    world.run(world.scheduler(), pacific(2026, 3, 1, 12), timedelta(hours=4))
    ats = sorted(at for _, _, at in world.state.schedule_slots.values())
    assert len(world.requests.sent) == 59  # one import a day, each once
    assert ats[0] >= pacific(2026, 1, 29)  # 31 days and the grace period, give or take a day
