"""The daily slots: one export and one import per local date, whatever daylight saving does."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfsync.domain.model import AccountId
from sfsync.domain.schedule import (
    AccountSchedule,
    InvalidSchedule,
    SlotKind,
    due_slots,
    jitter,
    next_slot,
    slots_between,
    time_zone,
)

LA = ZoneInfo("America/Los_Angeles")
ACC = AccountId("acc_1")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(slot_at: datetime, zone: ZoneInfo = LA) -> str:
    return slot_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


class TestPacificDefaults:
    def test_export_at_2330_and_import_at_midnight_pacific_in_winter_and_summer(self):
        """23:30 and 00:00 wall clock, whichever offset Pacific time has that day."""
        winter = slots_between(AccountSchedule(ACC), utc(2026, 1, 15, 12), utc(2026, 1, 16, 12))
        summer = slots_between(AccountSchedule(ACC), utc(2026, 7, 15, 12), utc(2026, 7, 16, 12))
        assert [(s.kind, local(s.at)) for s in winter] == [
            (SlotKind.EXPORT, "2026-01-15 23:30 PST"),
            (SlotKind.IMPORT, "2026-01-16 00:00 PST"),
        ]
        assert [s.at for s in summer] == [utc(2026, 7, 16, 6, 30), utc(2026, 7, 16, 7)]

    @pytest.mark.parametrize(
        ("start", "days_hours"),
        [
            (date(2026, 3, 7), [23, 24, 24]),  # spring forward on Sunday 8 March
            (date(2026, 10, 31), [25, 24, 24]),  # fall back on Sunday 1 November
        ],
    )
    def test_across_each_change_every_local_date_has_one_of_each(self, start, days_hours):
        """The day of the change is 23 or 25 hours long; no slot doubles or drops."""
        begin = datetime.combine(start, time(12), tzinfo=LA)
        slots = slots_between(AccountSchedule(ACC), begin, begin + timedelta(days=4))
        imports = [s for s in slots if s.kind is SlotKind.IMPORT]
        exports = [s for s in slots if s.kind is SlotKind.EXPORT]
        assert len(imports) == len(exports) == 4
        assert {local(s.at)[11:] for s in imports} == {"00:00 PST", "00:00 PDT"}
        assert {local(s.at)[11:16] for s in exports} == {"23:30"}
        gaps = [
            (b.at - a.at) / timedelta(hours=1) for a, b in zip(imports, imports[1:], strict=False)
        ]
        assert gaps == days_hours

    def test_a_year_of_slots_is_one_export_and_one_import_per_local_date(self):
        slots = slots_between(AccountSchedule(ACC), utc(2026, 1, 1, 12), utc(2027, 1, 1, 12))
        per_date = Counter((s.kind, s.local_date) for s in slots)
        assert set(per_date.values()) == {1}
        assert len(slots) == 2 * 365
        assert {s.at.astimezone(LA).time() for s in slots} == {time(23, 30), time(0, 0)}


class TestTimesInsideTheChangingHour:
    def test_a_time_skipped_by_spring_forward_falls_after_the_gap_once(self):
        schedule = AccountSchedule(ACC, import_at=time(2, 30), exports=False)
        slots = slots_between(schedule, utc(2026, 3, 7, 12), utc(2026, 3, 9, 8))
        assert [local(s.at) for s in slots] == ["2026-03-08 03:30 PDT"]
        assert slots[0].local_date == date(2026, 3, 8)

    def test_a_time_repeated_by_fall_back_is_its_first_occurrence_once(self):
        schedule = AccountSchedule(ACC, import_at=time(1, 30), exports=False)
        slots = slots_between(schedule, utc(2026, 10, 31, 12), utc(2026, 11, 2, 8))
        assert [local(s.at) for s in slots] == ["2026-11-01 01:30 PDT"]
        assert slots[0].at == utc(2026, 11, 1, 8, 30)

    @given(
        zone=st.sampled_from(
            ["America/Los_Angeles", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
        ),
        at=st.times(),
        start=st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 1), timezones=st.just(UTC)),
        hours=st.integers(1, 24 * 40),
    )
    def test_any_zone_and_time_has_one_slot_per_local_date(self, zone, at, start, hours):
        """Tiling a stretch of time in two pieces finds the same slots, each date once."""
        schedule = AccountSchedule(ACC, time_zone=zone, import_at=at, exports=False)
        middle, end = start + timedelta(hours=hours / 2), start + timedelta(hours=hours)
        whole = slots_between(schedule, start, end)
        assert whole == slots_between(schedule, start, middle) + slots_between(
            schedule, middle, end
        )
        dates = [s.local_date for s in whole]
        assert dates == sorted(set(dates))
        assert all(b - a == timedelta(days=1) for a, b in zip(dates, dates[1:], strict=False))


class TestPerAccountTimeZone:
    def test_an_account_in_berlin_gets_its_own_local_times(self):
        schedule = AccountSchedule(
            ACC, time_zone="Europe/Berlin", export_at=time(21), import_at=time(6, 15)
        )
        slots = slots_between(schedule, utc(2026, 6, 1), utc(2026, 6, 2))
        berlin = ZoneInfo("Europe/Berlin")
        assert [local(s.at, berlin) for s in slots] == [
            "2026-06-01 06:15 CEST",
            "2026-06-01 21:00 CEST",
        ]

    @pytest.mark.parametrize("name", ["Pacific/Nowhere", "", " UTC", "../etc/passwd", "a\\b"])
    def test_an_unknown_time_zone_is_refused_by_name(self, name):
        with pytest.raises(InvalidSchedule, match="unknown time zone") as err:
            time_zone(name)
        assert err.value.code == "invalid_schedule"

    def test_an_account_without_push_has_no_export(self):
        slots = slots_between(AccountSchedule(ACC, exports=False), utc(2026, 1, 1), utc(2026, 1, 3))
        assert {s.kind for s in slots} == {SlotKind.IMPORT}


class TestDue:
    def test_within_grace_published_older_missed_before_the_account_nothing(self):
        old = AccountSchedule(AccountId("acc_old"))
        new = AccountSchedule(AccountId("acc_new"), since=utc(2026, 1, 16, 8, 30))
        now = utc(2026, 1, 16, 10)  # 02:00 Pacific: midnight import 2 h ago
        due = due_slots([old, new], now, grace=timedelta(hours=6))
        assert [(s.account_id, s.kind) for s in due.publish] == [
            ("acc_old", SlotKind.EXPORT),
            ("acc_old", SlotKind.IMPORT),
        ]
        assert {s.account_id for s in due.missed} == {"acc_old"}  # the day before
        short = due_slots([old], now, grace=timedelta(hours=2, minutes=15))
        assert [s.kind for s in short.publish] == [SlotKind.IMPORT]

    def test_jitter_delays_each_account_by_its_own_fixed_amount(self):
        spread = timedelta(minutes=10)
        delays = {a: jitter(a, spread) for a in (f"acc_{n}" for n in range(200))}
        assert all(timedelta(0) <= d < spread for d in delays.values())
        assert len(set(delays.values())) > 150
        assert jitter("acc_1", spread) == delays["acc_1"]
        assert jitter("acc_1", timedelta(0)) == timedelta(0)
        midnight, delay = utc(2026, 1, 16, 8), jitter(ACC, spread)

        def imports_due(now: datetime) -> list[object]:
            due = due_slots([AccountSchedule(ACC)], now, grace=spread * 2, spread=spread)
            return [s for s in due.publish if s.kind is SlotKind.IMPORT]

        assert delay > timedelta(0)
        assert not imports_due(midnight + delay - timedelta(microseconds=1))
        assert imports_due(midnight + delay)

    def test_the_next_slot_of_several_accounts(self):
        berlin = AccountSchedule(AccountId("acc_b"), time_zone="Europe/Berlin")
        first = next_slot([AccountSchedule(ACC), berlin], utc(2026, 1, 16, 12))
        assert first is not None and first.account_id == "acc_b"
        assert local(first.at, ZoneInfo("Europe/Berlin")) == "2026-01-16 23:30 CET"
        assert next_slot([], utc(2026, 1, 16)) is None

    def test_request_ids_are_fixed_by_the_slot_and_a_salt_changes_them(self):
        [a] = slots_between(AccountSchedule(ACC, exports=False), utc(2026, 1, 1), utc(2026, 1, 2))
        [b] = slots_between(AccountSchedule(ACC, exports=False), utc(2026, 1, 1), utc(2026, 1, 2))
        assert a.request_id() == b.request_id()
        assert a.request_id("fast-1") != a.request_id()
