"""The emulated unified-CRM vendor's cache of the org's Contacts (docs/vendor-emulator.md).

The vendor never reads the store on a request: it serves its own copy, refreshed only by
`sync()` (its periodic sync), which stamps `modified_at` on Contacts whose values changed
and flags deletes, the latter only every `delete_every` syncs (slow delete detection).
"""

from __future__ import annotations

import secrets
import time
import uuid
from bisect import bisect_left, insort
from collections import deque
from typing import Any

from attrs import define, field

from sfsync_emulator.render import json_records
from sfsync_emulator.store import Store

# Values a touch changes without changing the data: they never make a Contact "modified".
SYSTEM_FIELDS = frozenset({"SystemModstamp", "LastModifiedDate", "LastModifiedById"})
NAMESPACE = uuid.UUID("6f1c3a52-1d4e-4c59-9a51-0b7d8a8f6e21")


def vendor_id(kind: str, key: str) -> str:
    """Stable uuid for a record or field class (the same across resets and runs)."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


@define
class VendorConfig:
    api_key: str = field(factory=lambda: secrets.token_urlsafe(24), repr=False)
    account_token: str = field(factory=lambda: secrets.token_urlsafe(24), repr=False)
    rate_per_minute: int = 100  # per account token; 0 lifts the limit
    window_seconds: float = 60.0  # the rate's window (tests shorten it)
    delete_every: int = 1  # deletes are seen on every Nth sync
    resync_allowed: bool = True  # the plan allows POST /sync-status/resync
    sync_interval_seconds: int = 86_400  # only for next_sync_start
    field_mappings: dict[str, str] = field(factory=dict)  # target name -> Salesforce field


@define
class Cached:
    id: str
    remote_id: str
    created_ms: int
    modified_ms: int
    values: dict[str, Any]  # the Contact's fields (API name -> JSON value) as last synced
    first_values: dict[str, Any]  # as first synced: what stale `remote_data` shows
    deleted: bool = False


@define
class Vendor:
    config: VendorConfig
    store: Store
    rows: dict[int, Cached] = field(factory=dict)
    order: list[tuple[int, int]] = field(factory=list)  # (modified_ms, index), sorted
    by_id: dict[str, int] = field(factory=dict)  # vendor id -> index
    syncs: int = 0
    last_start_ms: int | None = None
    last_finished_ms: int | None = None
    last_ms: int = 0
    linked: bool = True  # False after POST /delete-account
    calls: deque = field(factory=deque)  # request times in the current rate window

    def clock(self) -> int:
        self.last_ms = max(int(time.time() * 1000), self.last_ms + 1)
        return self.last_ms

    # --- the vendor's sync ---------------------------------------------------------
    def sync(self) -> dict[str, int]:
        """One emulated vendor sync; the first one copies every Contact."""
        store, start = self.store, self.clock()
        self.syncs += 1
        see_deletes = self.syncs % max(1, self.config.delete_every) == 0
        if self.syncs == 1:
            candidates = set(range(store.next_index)) - store.gone
        else:
            candidates = set(store.changes) | set(store.deleted) | store.gone
        removed = store.gone | set(store.deleted)
        live = sorted(candidates - removed)
        fields = [f for f in store.schema.fields.values() if f.type != "address"]
        counts = {"created": 0, "updated": 0, "deleted": 0}
        for i, rec in zip(live, json_records(store, fields, live, "66.0"), strict=True):
            rec.pop("attributes")
            row = self.rows.get(i)
            if row is None:
                self._add(i, rec, start)
                counts["created"] += 1
            elif row.deleted or _data(rec) != _data(row.values):
                row.deleted, row.values = False, rec
                self._stamp(i, row, start)
                counts["updated"] += 1
        for i in sorted(candidates & removed) if see_deletes else ():
            row = self.rows.get(i)
            if row is not None and not row.deleted:
                row.deleted = True
                self._stamp(i, row, start)
                counts["deleted"] += 1
        self.last_start_ms, self.last_finished_ms = start, self.clock()
        return counts

    def _add(self, i: int, values: dict[str, Any], now: int) -> None:
        rid = Store.id_of(i)
        row = self.rows[i] = Cached(vendor_id("contact", rid), rid, now, now, values, values)
        self.by_id[row.id] = i
        insort(self.order, (now, i))

    def _stamp(self, i: int, row: Cached, now: int) -> None:
        del self.order[bisect_left(self.order, (row.modified_ms, i))]
        row.modified_ms = now
        insort(self.order, (now, i))

    # --- rate limit ----------------------------------------------------------------
    def throttle(self) -> int | None:
        """Count one call; the seconds to wait when it is over the rate, else None."""
        rate = self.config.rate_per_minute
        if rate <= 0:
            return None
        now, window = time.monotonic(), self.config.window_seconds
        while self.calls and self.calls[0] <= now - window:
            self.calls.popleft()
        if len(self.calls) >= rate:
            return max(1, int(self.calls[0] + window - now + 0.999))
        self.calls.append(now)
        return None


def _data(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in SYSTEM_FIELDS}
