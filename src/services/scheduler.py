"""The daily scheduler: each tick, publish the slots that came due, each exactly once.

A slot is claimed (recorded in the shared store) in the same transaction that its request is
published in: the claim is kept only when the broker confirmed the publish, so with any
number of schedulers each slot goes out once, and a publish that failed stays due. A crash
between the confirm and the commit sends the slot again on the next tick with the same
request id, which the worker treats as the request it already ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

import attrs

from sfsync.domain.messages import (
    CONTRACT_VERSION,
    Scope,
    SyncRequested,
    Trigger,
    is_identifier,
)
from sfsync.domain.ports import Clock, ScheduleSlots, SyncRequests
from sfsync.domain.schedule import AccountSchedule, InvalidSchedule, Slot, due_slots, time_zone

KEEP_SLOTS = timedelta(days=30)  # slot records kept at least this long (beyond the grace)
LOOKBACK = timedelta(days=1)  # how far before the grace period missed slots are recorded


@attrs.frozen
class ScheduleSettings:
    grace: timedelta = timedelta(hours=6)  # a slot older than this is missed, not published
    spread: timedelta = timedelta(0)  # each account's slots are delayed by up to this
    batch: int = 1000  # slots claimed in one statement and published in one transaction


@attrs.frozen
class Tick:
    """What one tick did: slots published and recorded missed, accounts whose schedule
    cannot be read (an unknown time zone), and whether it stopped before the end."""

    published: tuple[Slot, ...] = ()
    missed: int = 0
    unschedulable: tuple[str, ...] = ()
    stopped: bool = False


def scheduled_request(slot: Slot, now: datetime, salt: str = "") -> SyncRequested:
    """The sync.requested of a slot: trigger `schedule`, its id derived from the slot."""
    return SyncRequested(
        type="sync.requested",
        version=CONTRACT_VERSION,
        id=slot.request_id(salt),
        requested_at=now,
        account_id=slot.account_id,
        scope=Scope(slot.kind.value),
        trigger=Trigger.SCHEDULE,
    )


@attrs.define
class Scheduler:
    """Ticks publish what is due. It remembers the slots it saw recorded, so a tick
    touches the store only for slots that are new to it."""

    slots: ScheduleSlots
    requests: SyncRequests
    clock: Clock
    settings: ScheduleSettings = ScheduleSettings()
    id_salt: str = ""  # a demo's fast clock: request ids of its own, never a real slot's
    _seen: dict[tuple[str, str, object], datetime] = attrs.field(factory=dict, init=False)
    _pruned_at: datetime | None = attrs.field(default=None, init=False)

    def tick(self, should_stop: Callable[[], bool] = lambda: False) -> Tick:
        """Publish every slot due now, a batch per transaction; `should_stop` is asked
        before each batch, so a stop never cuts a batch between its publish and its record."""
        now = self.clock.now()
        schedules, unschedulable = _readable(self.slots.scheduled_accounts())
        grace, spread = self.settings.grace, self.settings.spread
        due = due_slots(schedules, now, grace=grace, spread=spread, lookback=LOOKBACK)
        missed = [slot for slot in due.missed if slot.key not in self._seen]
        missed_count = self.slots.record_missed(missed) if missed else 0
        self._remember(missed)
        published: list[Slot] = []
        for batch in _batches([s for s in due.publish if s.key not in self._seen], self.settings):
            if should_stop():
                return Tick(tuple(published), missed_count, unschedulable, stopped=True)
            with self.slots.claim(batch) as claimed:
                requests = [scheduled_request(slot, now, self.id_salt) for slot in claimed]
                if requests:
                    self.requests.send(requests)
            published.extend(claimed)
            self._remember(batch)
        self._forget(now)
        return Tick(tuple(published), missed_count, unschedulable)

    def _remember(self, slots: Sequence[Slot]) -> None:
        for slot in slots:
            self._seen[slot.key] = slot.at

    def _forget(self, now: datetime) -> None:
        """Drop what no tick looks at any more: from memory every tick, from the store
        once a day (records of slots older than KEEP_SLOTS and the grace period)."""
        oldest = now - self.settings.grace - LOOKBACK
        self._seen = {key: at for key, at in self._seen.items() if at >= oldest}
        if self._pruned_at is None or now - self._pruned_at >= timedelta(days=1):
            self.slots.forget_before(oldest - KEEP_SLOTS)
            self._pruned_at = now


def _readable(
    schedules: Sequence[AccountSchedule],
) -> tuple[list[AccountSchedule], tuple[str, ...]]:
    """The schedules this machine can follow, and the ids of the others: a time zone it
    does not know, or an account id no message may carry."""
    readable: list[AccountSchedule] = []
    refused: list[str] = []
    for schedule in schedules:
        try:
            time_zone(schedule.time_zone)
        except InvalidSchedule:
            refused.append(schedule.account_id)
            continue
        if is_identifier(schedule.account_id):
            readable.append(schedule)
        else:
            refused.append("(an account id no message may carry)")
    return readable, tuple(refused)


def _batches(slots: Sequence[Slot], settings: ScheduleSettings) -> Iterator[list[Slot]]:
    """Earliest slots first; within a batch in key order, so two schedulers claiming the
    same slots wait on each other's rows in one order and never deadlock."""
    for start in range(0, len(slots), settings.batch):
        yield sorted(slots[start : start + settings.batch], key=lambda slot: slot.key)
