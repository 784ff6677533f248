"""Contact rows: lazily derived seed rows plus an overlay of changes.

Order index: seed rows are already sorted by (SystemModstamp, Id) because both grow with
the row index; every changed or created row moves to `recent`, a sorted list of
(stamp, index), so a SystemModstamp range never scans 1M rows in Python.
"""

from __future__ import annotations

import heapq
import time
from bisect import bisect_left, insort
from collections.abc import Callable
from typing import Any

from sfsync_emulator.ids import CONTACT, make_id, number_of
from sfsync_emulator.schema import Schema
from sfsync_emulator.seed import USER_ID, Seed

Getter = Callable[[int], Any]


class Store:
    def __init__(
        self, n: int, seed: int, schema: Schema | None = None, epoch_ms: int | None = None
    ):
        self.schema = schema or Schema.default()
        self.seed = Seed.generate(n, seed, epoch_ms)
        self.n = n
        self.next_index = n
        self.changes: dict[int, dict[str, Any]] = {}
        self.moved = bytearray(n)  # seed rows that left the seed order
        self.moved_count = 0
        self.recent: list[tuple[int, int]] = []
        self.recent_stamp: dict[int, int] = {}
        self.deleted: dict[int, int] = {}  # recycle bin: index -> deletedDate
        self.deleted_log: dict[int, int] = {}  # soft and hard deletes, for getDeleted
        self.gone: set[int] = set()
        self.last_ms = self.seed.stamp(n - 1) if n else 0

    # --- reading -------------------------------------------------------------------
    def index_of(self, rid: str) -> int | None:
        i = number_of(rid, CONTACT)
        if i is None or i >= self.next_index or i in self.gone:
            return None
        return i

    @staticmethod
    def id_of(i: int) -> str:
        return make_id(CONTACT, i)

    def getter(self, name: str) -> Getter:
        if name == "Id":
            return self.id_of
        default = self.schema.fields[name].default
        derive = self.seed.derivers().get(name) or (lambda i: default)
        changes, n = self.changes, self.n

        def get(i: int) -> Any:
            row = changes.get(i)
            if row is not None and name in row:
                return row[name]
            return derive(i) if i < n else default

        return get

    def reader(self, names: list[str]) -> Callable[[int], list[Any]]:
        """Values of several fields for one row; unchanged seed rows take the fast path."""
        getters = [self.getter(name) for name in names]
        derived = self.seed.derivers()
        fast = [self.id_of if name == "Id" else derived.get(name) for name in names]
        if any(f is None for f in fast):
            return lambda i: [g(i) for g in getters]
        changes, n = self.changes, self.n

        def read(i: int) -> list[Any]:
            if i < n and i not in changes:
                return [f(i) for f in fast]
            return [g(i) for g in getters]

        return read

    def stamp(self, i: int) -> int:
        s = self.recent_stamp.get(i)
        return self.seed.stamp(i) if s is None else s

    def ordered(self, lo: int | None = None, hi: int | None = None) -> list[int]:
        """Live row indices with lo <= SystemModstamp < hi, in (SystemModstamp, Id) order."""
        a = 0 if lo is None else self.seed.first_index_at(lo)
        b = self.n if hi is None else self.seed.first_index_at(hi)
        moved = self.moved
        seeded = (
            list(range(a, b)) if not self.moved_count else [i for i in range(a, b) if not moved[i]]
        )
        x = 0 if lo is None else bisect_left(self.recent, (lo, -1))
        y = len(self.recent) if hi is None else bisect_left(self.recent, (hi, -1))
        recent = self.recent[x:y]
        if not recent:
            return seeded
        if not seeded or self.seed.stamp(seeded[-1]) < recent[0][0]:
            return seeded + [i for _, i in recent]
        stamp = self.seed.stamp
        merged = heapq.merge(((stamp(i), i) for i in seeded), recent)
        return [i for _, i in merged]

    def live_count(self) -> int:
        return self.next_index - len(self.gone) - len(self.deleted)

    # --- writing -------------------------------------------------------------------
    def clock(self) -> int:
        """'Now' in ms, strictly increasing across calls."""
        self.last_ms = max(int(time.time() * 1000), self.last_ms + 1)
        return self.last_ms

    def _place(self, i: int, stamp: int) -> None:
        old = self.recent_stamp.get(i)
        if old is not None:
            del self.recent[bisect_left(self.recent, (old, i))]
        elif i < self.n and not self.moved[i]:
            self.moved[i] = 1
            self.moved_count += 1
        key = (stamp, i)
        if not self.recent or key > self.recent[-1]:
            self.recent.append(key)
        else:
            insort(self.recent, key)
        self.recent_stamp[i] = stamp

    def write(self, i: int, values: dict[str, Any], stamp: int | None = None) -> int:
        """Apply already-validated values, bump SystemModstamp (or set it, for admins)."""
        if stamp is None:
            stamp = self.clock()
        else:
            self.last_ms = max(self.last_ms, stamp)
        row = self.changes.setdefault(i, {})
        row.update(values)
        if "FirstName" in values or "LastName" in values:
            get_first, get_last = self.getter("FirstName"), self.getter("LastName")
            row["Name"] = " ".join(p for p in (get_first(i), get_last(i)) if p)
        row["SystemModstamp"] = stamp
        row.setdefault("LastModifiedDate", stamp)
        if "LastModifiedDate" not in values:
            row["LastModifiedDate"] = stamp
        self._place(i, stamp)
        return stamp

    def create(self, values: dict[str, Any], stamp: int | None = None) -> int:
        i = self.next_index
        self.next_index += 1
        row = {name: f.default for name, f in self.schema.fields.items()}
        row.update(OwnerId=USER_ID, CreatedById=USER_ID, LastModifiedById=USER_ID)
        self.changes[i] = row
        stamp = self.write(i, values, stamp)
        row.setdefault("CreatedDate", stamp)
        if row["CreatedDate"] is None:
            row["CreatedDate"] = stamp
        return i

    def soft_delete(self, i: int) -> None:
        stamp = self.write(i, {"IsDeleted": True})
        self.deleted[i] = self.deleted_log[i] = stamp

    def undelete(self, i: int) -> None:
        self.write(i, {"IsDeleted": False})
        self.deleted.pop(i, None)
        self.deleted_log.pop(i, None)

    def hard_delete(self, i: int) -> None:
        old = self.recent_stamp.pop(i, None)
        if old is not None:
            del self.recent[bisect_left(self.recent, (old, i))]
        elif i < self.n and not self.moved[i]:
            self.moved[i] = 1
            self.moved_count += 1
        self.gone.add(i)
        self.deleted.pop(i, None)
        self.changes.pop(i, None)
        self.deleted_log[i] = self.clock()
