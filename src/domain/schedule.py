"""The daily schedule: when an account's export and import slots fall, in its own time zone.

A slot is one (account, kind, local date): whatever daylight saving does to the local clock,
each local date has exactly one export and one import. A time that does not exist that day
(spring forward) falls as far after the gap as it was into it (02:30 -> 03:30); a time that
happens twice (fall back) is its first occurrence.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId

DEFAULT_TIME_ZONE = "America/Los_Angeles"
DEFAULT_EXPORT_AT = time(23, 30)
DEFAULT_IMPORT_AT = time(0, 0)
# Request ids of scheduled syncs: uuid5 in this namespace of the account, kind and instant.
_REQUEST_NAMESPACE = uuid.UUID("3f0b7a52-5c1e-4f4e-9d6a-2c8e9b1f7a10")


class InvalidSchedule(PermanentFailure):
    """A time zone or time of day sfsync cannot schedule by."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_schedule")


class SlotKind(enum.StrEnum):
    EXPORT = "export"
    IMPORT = "import"


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; InvalidSchedule naming it when there is none such."""
    try:
        if name and name.strip() == name and "\\" not in name:
            return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise InvalidSchedule(
        f"unknown time zone {name[:60]!r}: use an IANA name such as America/Los_Angeles,"
        " America/New_York or Europe/Berlin"
    )


@attrs.frozen
class AccountSchedule:
    """What the scheduler needs of one connected account."""

    account_id: AccountId
    time_zone: str = DEFAULT_TIME_ZONE
    export_at: time = DEFAULT_EXPORT_AT
    import_at: time = DEFAULT_IMPORT_AT
    exports: bool = True  # push enabled: only then is there an export to schedule
    since: datetime | None = None  # slots before this instant were never due (a new account)

    def at(self, kind: SlotKind) -> time:
        return self.export_at if kind is SlotKind.EXPORT else self.import_at

    @property
    def kinds(self) -> tuple[SlotKind, ...]:
        return (SlotKind.EXPORT, SlotKind.IMPORT) if self.exports else (SlotKind.IMPORT,)


@attrs.frozen
class Slot:
    account_id: AccountId
    kind: SlotKind
    local_date: date
    at: datetime  # the instant, in UTC

    @property
    def key(self) -> tuple[str, str, date]:
        return (self.account_id, self.kind.value, self.local_date)

    def request_id(self, salt: str = "") -> str:
        """The same slot always gives the same id, so a republish is the same request; a
        `salt` (a demo's fast clock) gives others, never a real slot's."""
        name = f"{salt}|{self.account_id}|{self.kind.value}|{self.at.isoformat()}"
        return str(uuid.uuid5(_REQUEST_NAMESPACE, name))


def slot_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local time `at` on `day` in `zone` (see the module docstring)."""
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone).astimezone(UTC)


def slots_between(schedule: AccountSchedule, start: datetime, end: datetime) -> list[Slot]:
    """The account's slots with start < instant <= end, in time order."""
    zone = time_zone(schedule.time_zone)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    found = []
    day = first
    while day <= last:
        for kind in schedule.kinds:
            at = slot_instant(day, schedule.at(kind), zone)
            if start < at <= end:
                found.append(Slot(schedule.account_id, kind, day, at))
        day += timedelta(days=1)
    return sorted(found, key=lambda slot: slot.at)


def jitter(account_id: str, spread: timedelta) -> timedelta:
    """A delay in [0, spread) that is always the same for one account (0 without spread)."""
    if spread <= timedelta(0):
        return timedelta(0)
    digest = hashlib.sha256(account_id.encode()).digest()
    micros = int(spread / timedelta(microseconds=1))
    return timedelta(microseconds=int.from_bytes(digest[:8], "big") % micros)


@attrs.frozen
class DueSlots:
    publish: list[Slot]  # due now, within the grace period
    missed: list[Slot]  # past the grace period: recorded, never published


def due_slots(
    schedules: Iterable[AccountSchedule],
    now: datetime,
    *,
    grace: timedelta,
    spread: timedelta = timedelta(0),
    lookback: timedelta = timedelta(days=1),
) -> DueSlots:
    """What is due at `now`: each slot whose instant (plus the account's jitter) has come
    and is at most `grace` ago is published; older ones back to `lookback` before the grace
    period are missed. Slots before an account's `since` are neither."""
    publish: list[Slot] = []
    missed: list[Slot] = []
    oldest = now - grace - lookback
    for schedule in schedules:
        delay = jitter(schedule.account_id, spread)
        start = oldest if schedule.since is None else max(oldest, schedule.since)
        for slot in slots_between(schedule, start, now):
            if slot.at <= now - grace:
                missed.append(slot)
            elif slot.at + delay <= now:
                publish.append(slot)
    publish.sort(key=lambda slot: slot.at)
    return DueSlots(publish, missed)


def next_slot(schedules: Iterable[AccountSchedule], after: datetime) -> Slot | None:
    """The first slot of any of `schedules` after `after` (None: no schedules)."""
    found = [
        slot
        for schedule in schedules
        for slot in slots_between(schedule, after, after + timedelta(days=2))
    ]
    return min(found, key=lambda slot: slot.at, default=None)
