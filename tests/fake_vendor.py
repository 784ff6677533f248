"""FakeVendor: a vendor's copy of a FakeSalesforce org, for service tests and the contract suite.

Like the vendor emulator it is a cache: an edit or delete in the org shows only after
`sync()`, which stamps `modified_at` (the vendor's time, never SystemModstamp) on what changed
and flags what was deleted. It cannot filter on a field and reads its whole model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sfsync.domain.model import Contact, ContactSchema, SalesforceId
from sfsync.domain.ports import (
    ApiUsage,
    CacheStatus,
    Capabilities,
    ContactQuery,
    ContactRead,
    SourceCalls,
)
from tests.fake_salesforce import FakeSalesforce, contact_of


class FakeVendor:
    """Arrange in `org`, then `sync()`; `resync_allowed` is the vendor plan's say."""

    def __init__(
        self,
        org: FakeSalesforce | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        page_size: int = 100,
    ) -> None:
        self.org = org or FakeSalesforce()
        self.now = now
        self.page_size = page_size
        self.cache: dict[str, dict[str, Any]] = {}
        self.stamps: dict[str, datetime] = {}  # modified_at by Contact Id
        self.calls = 0
        self.resync_allowed = True
        self.last_started: datetime | None = None
        self.last_finished: datetime | None = None
        self.sync()  # linking an account starts with a first sync

    def sync(self) -> int:
        """Copy what changed in the org since the last sync; returns how many rows moved."""
        started = self.now()
        moved = 0
        for contact_id, record in self.org.records.items():
            data = {k: v for k, v in record.items() if k != "SystemModstamp"}
            kept = self.cache.get(contact_id)
            if kept is None or {k: v for k, v in kept.items() if k != "SystemModstamp"} != data:
                self.cache[contact_id] = dict(record)
                self.stamps[contact_id] = started
                moved += 1
        self.last_started, self.last_finished = started, self.now()
        return moved

    # --- ContactReader -------------------------------------------------------------------

    def describe_contact(self) -> ContactSchema:
        self.calls += 1
        return self.org.schema

    def read_contacts(self, query: ContactQuery) -> ContactRead:
        names = [self.org._checked(f) for f in query.fields]  # noqa: SLF001 - same checks
        after = query.modified_after.modstamp if query.modified_after else None
        rows = sorted(
            (
                r
                for r in self.cache.values()
                if (query.include_deleted or not r["IsDeleted"])
                and (after is None or self.stamps[r["Id"]] > after)
                and (query.ids is None or r["Id"] in query.ids)
            ),
            key=lambda r: (self.stamps[r["Id"]], r["Id"]),
        )
        return ContactRead(
            None, self._pages([contact_of(r, names, self.stamps[r["Id"]]) for r in rows])
        )

    def get_contact(self, contact_id: SalesforceId, fields: Sequence[str]) -> Contact | None:
        query = ContactQuery(tuple(fields), ids=(contact_id,), include_deleted=True)
        return next((c for page in self.read_contacts(query).batches for c in page), None)

    def find_contact_ids_by_email(self, email: str) -> list[SalesforceId]:
        self.calls += 1
        wanted = email.lower()
        return [
            SalesforceId(r["Id"])
            for r in self.cache.values()
            if not r["IsDeleted"] and (r["Email"] or "").lower() == wanted
        ]

    def api_usage(self) -> ApiUsage | None:
        return None  # a vendor does not tell the org's API usage

    def call_stats(self) -> SourceCalls:
        return SourceCalls(self.calls)

    def capabilities(self) -> Capabilities:
        return Capabilities(cache=self, filters_on_fields=False, reads_named_fields=False)

    # --- ContactCache --------------------------------------------------------------------

    def status(self) -> CacheStatus:
        self.calls += 1
        return CacheStatus(self.last_finished, self.last_started)

    def resync(self) -> str | None:
        self.calls += 1
        if not self.resync_allowed:
            return "Force resync is not available on your plan."
        self.sync()
        return None

    # --- internals -----------------------------------------------------------------------

    def _pages(self, contacts: list[Contact]) -> Iterator[list[Contact]]:
        self.calls += 1
        for start in range(0, len(contacts), self.page_size):
            if start:
                self.calls += 1
            yield contacts[start : start + self.page_size]
