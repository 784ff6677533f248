"""Vendor mode with fakes: the cache, the cursor, freshness, filters, refusals, mode switches."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sfsync.domain.messages import Scope, SyncRequested, Trigger
from sfsync.domain.model import (
    VENDOR_MODEL,
    AccountId,
    AccountSettings,
    AttributeMapping,
    DeletionBehaviour,
)
from sfsync.domain.ports import SalesforceConnection, VendorLink
from sfsync.services.imports import ImportDeps, run_sync
from tests.fake_salesforce import FakeSalesforce
from tests.fake_vendor import FakeVendor
from tests.fakes import (
    FakeGateways,
    FixedClock,
    InMemoryLocks,
    InMemoryState,
    InMemoryUnitOfWork,
    RecordingMetrics,
    RecordingPublisher,
    RecordingRunLog,
)

ACCOUNT = AccountId("acc_v")
_ids = itertools.count(1)


@attrs.define
class World:
    org: FakeSalesforce
    vendor: FakeVendor
    state: InMemoryState
    deps: ImportDeps
    publisher: RecordingPublisher
    clock: FixedClock

    def settings(self, **changes: object) -> None:
        with self.deps.uow() as uow:
            current = uow.accounts.get_settings(ACCOUNT)
            assert current is not None
            uow.accounts.save_settings(attrs.evolve(current, **changes))
            uow.commit()

    def later(self, minutes: float = 60) -> None:
        self.clock.advance(minutes=minutes)

    def sync(self, **changes: object):
        self.later(1)
        request = SyncRequested(
            "sync.requested",
            1,
            f"req-{next(_ids)}",
            datetime.now(UTC),
            ACCOUNT,
            Scope.IMPORT,
            Trigger.MANUAL,
        )
        return run_sync(attrs.evolve(request, **changes), self.deps)

    def by_contact(self) -> dict[str, object]:
        return {c.salesforce_id: c for c in self.state.candidates.values()}

    def event(self) -> dict:
        return self.publisher.events[-1][1]


@pytest.fixture
def world() -> World:
    org = FakeSalesforce()
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    for n in range(5):
        org.add_contact(f"p{n}@example.com", f"P{n}", Favorite_Color__c="Red")
    vendor = FakeVendor(org, now=clock.now, page_size=2)
    state = InMemoryState()
    uow = lambda: InMemoryUnitOfWork(state)  # noqa: E731
    with uow() as tx:
        tx.accounts.save_settings(AccountSettings(ACCOUNT, direct_api=False))
        tx.accounts.save_mapping(ACCOUNT, AttributeMapping("favorite_color_c", "Favorite_Color__c"))
        tx.vendor_links.save(VendorLink(ACCOUNT, "linked-account-token"))
        tx.commit()
    publisher = RecordingPublisher()
    deps = ImportDeps(
        uow,
        FakeGateways(org, vendor=vendor),
        publisher,
        clock,
        InMemoryLocks(),
        RecordingRunLog(),
        RecordingMetrics(),
        write_page=2,
    )
    return World(org, vendor, state, deps, publisher, clock)


def test_a_first_vendor_import_creates_candidates_keyed_by_the_salesforce_id(world: World) -> None:
    run = world.sync()
    assert run.status == "succeeded" and run.mode == "full"
    assert set(world.by_contact()) == set(world.org.records)
    assert {c.attributes["favorite_color_c"] for c in world.state.candidates.values()} == {"Red"}
    assert run.fields_read == (VENDOR_MODEL,)
    assert run.source["via"] == "vendor" and run.source["calls"] >= 4
    assert "Favorite_Color__c" in run.source["fields"]
    assert world.deps.gateways.opened == 0  # never the Salesforce API  # type: ignore[attr-defined]


def test_an_edit_shows_only_after_the_vendor_syncs_and_is_read_incrementally(world: World) -> None:
    world.sync()
    target = next(iter(world.org.records))
    world.org.records[target]["Favorite_Color__c"] = "Blue"
    world.later()
    world.vendor.last_finished = world.clock.now()  # fresh: no resync asked
    run = world.sync()
    assert run.mode == "incremental" and run.counts["updated"] == 0
    assert world.by_contact()[target].attributes["favorite_color_c"] == "Red"

    world.later()
    world.vendor.sync()
    run = world.sync()
    assert run.mode == "incremental"
    assert run.processed == 1 and run.counts["updated"] == 1  # only what the vendor changed
    assert world.by_contact()[target].attributes["favorite_color_c"] == "Blue"


@pytest.mark.parametrize(
    ("behaviour", "kept", "unsubscribed"),
    [
        (DeletionBehaviour.DELETE, False, None),
        (DeletionBehaviour.UNSUBSCRIBE, True, True),
        (DeletionBehaviour.KEEP, True, False),
    ],
)
def test_a_delete_applies_the_behaviour_once_the_vendor_has_synced_it(
    world: World, behaviour: DeletionBehaviour, kept: bool, unsubscribed: bool | None
) -> None:
    world.settings(deletion_behaviour=behaviour)
    world.sync()
    gone = next(iter(world.org.records))
    world.org.delete_contact(gone)
    world.later()
    world.vendor.last_finished = world.clock.now()
    world.sync()
    assert gone in world.by_contact()  # the vendor has not seen it yet
    world.later()
    world.vendor.sync()
    world.sync()
    candidate = world.by_contact().get(gone)
    assert (candidate is not None) is kept
    if candidate is not None:
        assert candidate.unsubscribed is unsubscribed


def test_the_import_filter_is_applied_after_the_read_and_said_so(world: World) -> None:
    tagged = world.org.add_contact("tagged@example.com", gq_import__c=True)
    world.vendor.sync()
    world.settings(only_import_tagged=True)
    run = world.sync()
    assert set(world.by_contact()) == {tagged}
    assert run.counts["skipped"]["not_tagged"] == 5
    assert run.source["filter"] == "after_read"


def test_a_manual_import_of_a_stale_copy_asks_for_a_resync_first(world: World) -> None:
    world.sync()
    target = next(iter(world.org.records))
    world.org.records[target]["FirstName"] = "Renamed"
    world.later(120)  # older than the hour allowed
    run = world.sync()
    assert run.source["resync"] == "requested"
    assert world.by_contact()[target].first_name == "Renamed"  # the resync brought it
    assert world.event()["source"]["last_sync_finished"] == world.clock.now().isoformat().replace(
        "+00:00", "Z"
    )


def test_a_refused_resync_is_reported_not_an_error(world: World) -> None:
    world.sync()
    world.vendor.resync_allowed = False
    world.later(120)
    run = world.sync()
    assert run.status == "succeeded"
    assert run.source["resync"] == "refused: Force resync is not available on your plan."
    assert world.event()["source"]["resync"].startswith("refused")


def test_a_scheduled_import_never_asks_for_a_resync(world: World) -> None:
    world.sync()
    world.later(120)
    run = world.sync(trigger=Trigger.SCHEDULE)
    assert run.source["resync"] == "not_asked"


def test_push_is_refused_in_vendor_mode_with_its_reason(world: World) -> None:
    world.settings(push_enabled=True)
    run = world.sync(scope=Scope.EXPORT)
    assert run.status == "failed"
    assert run.errors[0]["code"] == "not_direct_mode"
    run = world.sync(scope=Scope.FULL)
    assert run.status == "partial" and run.errors[-1]["code"] == "not_direct_mode"
    assert world.org.updates == []


def test_an_account_without_a_vendor_link_fails_not_connected(world: World) -> None:
    with world.deps.uow() as uow:
        uow.vendor_links.delete(ACCOUNT)
        uow.commit()
    run = world.sync()
    assert run.status == "failed" and run.errors[0]["code"] == "not_connected"
    assert "--vendor" in run.errors[0]["message"]


def test_a_new_mapping_makes_the_next_vendor_run_full(world: World) -> None:
    world.sync()
    with world.deps.uow() as uow:
        uow.accounts.save_mapping(ACCOUNT, AttributeMapping("city", "MailingCity"))
        uow.commit()
    world.vendor.last_finished = world.clock.now() + timedelta(minutes=2)
    assert world.sync().mode == "full"


def test_switching_to_direct_keeps_identities_and_reads_everything_once(world: World) -> None:
    world.sync()
    before = {c.salesforce_id: c.id for c in world.state.candidates.values()}
    world.settings(direct_api=True)
    with world.deps.uow() as uow:
        uow.connections.save(SalesforceConnection(ACCOUNT, "https://x", "https://l", "t", "r"))
        uow.commit()
    world.clock.current = max(world.clock.now(), world.org._clock + timedelta(minutes=2))
    run = world.sync()
    assert run.mode == "full" and run.source["via"] == "salesforce"
    after = {c.salesforce_id: c.id for c in world.state.candidates.values()}
    assert after == before  # no duplicate, no new identity
    assert run.counts["created"] == 0
    world.later()
    assert world.sync().mode == "incremental"  # then on from Salesforce's own cursor

    world.settings(direct_api=False)  # and back: the vendor's first run reads everything
    world.vendor.last_finished = world.clock.now() + timedelta(minutes=2)
    back = world.sync()
    assert back.mode == "full" and back.counts["created"] == 0
