"""Slots recorded in this process only: for a scheduler on a fast clock (a demo), whose
made-up times must never take, or be taken for, a real slot in the shared store."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from sfsync.domain.schedule import AccountSchedule, Slot


class LocalScheduleSlots:
    def __init__(self, accounts: Callable[[], list[AccountSchedule]]) -> None:
        self._accounts = accounts
        self._recorded: set[tuple[str, str, object]] = set()

    def scheduled_accounts(self) -> list[AccountSchedule]:
        return self._accounts()

    @contextmanager
    def claim(self, slots: Sequence[Slot]) -> Iterator[list[Slot]]:
        new = [slot for slot in slots if slot.key not in self._recorded]
        yield new
        self._recorded.update(slot.key for slot in new)

    def record_missed(self, slots: Sequence[Slot]) -> int:
        new = {slot.key for slot in slots} - self._recorded
        self._recorded |= new
        return len(new)
