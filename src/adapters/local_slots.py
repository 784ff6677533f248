"""Slots recorded in this process only: for a scheduler on a fast clock (a demo), whose
made-up times must never take, or be taken for, a real slot in the shared store."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sfsync.domain.schedule import AccountSchedule, Slot


class LocalScheduleSlots:
    def __init__(self, accounts: Callable[[], list[AccountSchedule]]) -> None:
        self._accounts = accounts
        self._recorded: dict[tuple[str, str, object], datetime] = {}

    def scheduled_accounts(self) -> list[AccountSchedule]:
        return self._accounts()

    @contextmanager
    def claim(self, slots: Sequence[Slot]) -> Iterator[list[Slot]]:
        new = self._new(slots)
        yield new
        self._recorded.update((slot.key, slot.at) for slot in new)

    def record_missed(self, slots: Sequence[Slot]) -> int:
        with self.claim(slots) as new:
            return len(new)

    def forget_before(self, instant: datetime) -> int:
        old = {key for key, at in self._recorded.items() if at < instant}
        for key in old:
            del self._recorded[key]
        return len(old)

    def _new(self, slots: Sequence[Slot]) -> list[Slot]:
        """Slots not recorded yet, of accounts that are still scheduled."""
        known = {schedule.account_id for schedule in self._accounts()} if slots else set()
        return [s for s in slots if s.key not in self._recorded and s.account_id in known]
