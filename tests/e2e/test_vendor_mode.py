"""Vendor mode end to end: a real worker on RabbitMQ and Postgres, reading the vendor emulator.

The vendor emulator's process also serves the Salesforce API of the same org, so one
account can switch between the modes and keep its candidates.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.domain.model import VENDOR_MODEL, AccountId, AccountSettings
from sfsync.domain.ports import VendorLink
from sfsync.entrypoints.bootstrap import Container, build, events_exchange, oauth_app
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.services.accounts import save_settings
from sfsync_emulator.harness import Emulator
from tests.e2e.conftest import Harness, poll, worker_process_config
from tests.e2e.test_import import FIELD_VALUES
from tests.e2e.test_no_personal_data import WorkerProcess
from tests.e2e.test_signups import publish, settled, signup

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def vendor_worker(
    migrated_database_url: str,
    amqp_url: str,
    queue_prefix: str,
    vendor_emulator: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Container]:
    """`sfsync worker` as a process of its own (one in-process worker per test session:
    Dramatiq's actors are the process's), whose Salesforce and vendor are both the vendor
    emulator, with quick retries; the container here is for the store and the queue."""
    access = vendor_emulator.vendor
    assert access is not None
    settings, _ = worker_process_config(
        migrated_database_url, amqp_url, f"{queue_prefix}vnd", vendor_emulator
    )
    settings = attrs.evolve(
        settings,
        vendor_base_url=access.base_url,
        vendor_api_key=access.api_key,
        vendor_ca_bundle=vendor_emulator.ca_path,
    )
    log = tmp_path_factory.mktemp("vendor-worker") / "worker.log"
    process = WorkerProcess(
        settings,
        log,
        "info",
        SFSYNC_VENDOR_BASE_URL=access.base_url,
        SFSYNC_VENDOR_API_KEY=access.api_key,
        SFSYNC_VENDOR_CA_BUNDLE=vendor_emulator.ca_path or "",
        SFSYNC_MAX_RETRIES="1",
        SFSYNC_MIN_BACKOFF_MS="100",
        SFSYNC_MAX_BACKOFF_MS="300",
    )
    container = build(settings, pool_size=2)
    try:
        poll(lambda: "worker.started" in process.text(), 60, "vendor worker start")
        yield container
    finally:
        process.stop()
        container.close()


@attrs.define
class Vendor(Harness):
    def link(self) -> None:
        access = self.emu.vendor
        assert access is not None
        with self.container.uow() as uow:
            uow.vendor_links.save(VendorLink(self.account, access.account_token))
            uow.commit()

    def configure(self, **settings: Any) -> None:
        save_settings(self.container.uow(), AccountSettings(self.account, **settings))

    def run_row(self, run_id: str) -> tuple[Any, ...]:
        with self.container.pool.connection() as conn:
            return conn.execute(
                "SELECT mode, fields_read, source FROM sync_runs WHERE id = %s", (run_id,)
            ).fetchone()

    def ids(self) -> dict[str, str]:
        """salesforce_id -> candidate id."""
        with self.container.pool.connection() as conn:
            rows = conn.execute(
                "SELECT salesforce_id, id FROM candidates WHERE account_id = %s", (self.account,)
            ).fetchall()
        return dict(rows)

    def seed(self, n: int, **fields: Any) -> list[str]:
        made = [
            self.emu.admin.create_contact(Email=f"v{i}@example.com", LastName=f"V{i}", **fields)
            for i in range(n)
        ]
        self.emu.admin.vendor_sync()
        return made

    def vendor_calls(self) -> list[dict[str, Any]]:
        return [r for r in self.emu.admin.requests() if "/api/crm/v1/" in r["path"]]


@pytest.fixture
def vendor(vendor_worker: Container, vendor_emulator: Emulator) -> Iterator[Vendor]:
    vendor_emulator.admin.reset(contacts=0)
    vendor_emulator.admin.clear_requests()
    vendor_emulator.admin.clear_faults()
    account = AccountId(f"acc_{secrets.token_hex(4)}")
    save_settings(vendor_worker.uow(), AccountSettings(account, direct_api=False))
    exchange = events_exchange(vendor_worker.settings)
    with EventListener(vendor_worker.settings.amqp_url, "sync.completed", exchange) as listener:
        harness = Vendor(vendor_worker, vendor_emulator, account, listener)
        harness.link()
        yield harness


def test_full_then_incremental_through_the_vendor_cache(vendor: Vendor) -> None:
    first_ids = vendor.seed(20)
    first = vendor.sync()
    assert first["status"] == "succeeded", first["errors"]
    assert first["counts"]["created"] == 20
    assert first["source"]["via"] == "vendor" and first["source"]["calls"] >= 3
    assert first["source"]["last_sync_finished"]
    mode, fields_read, _ = vendor.run_row(first["run_id"])
    assert mode == "full" and fields_read == [VENDOR_MODEL]
    assert set(vendor.ids()) == set(first_ids)  # one identity: the Salesforce Id
    assert not [r for r in vendor.emu.admin.requests() if "/services/data/" in r["path"]]

    vendor.emu.admin.update_contact(first_ids[0], FirstName="Edited")
    vendor.emu.admin.create_contact(Email="late@example.com", LastName="Late")
    unseen = vendor.sync()  # the vendor has not synced: nothing new to see
    assert unseen["counts"]["created"] == unseen["counts"]["updated"] == 0
    assert vendor.run_row(unseen["run_id"])[0] == "incremental"

    vendor.emu.admin.vendor_sync()
    vendor.emu.admin.clear_requests()
    seen = vendor.sync()
    assert (seen["counts"]["created"], seen["counts"]["updated"]) == (1, 1)
    listed = [r for r in vendor.vendor_calls() if r["path"].endswith("/contacts")]
    assert listed and all("modified_after=" in r["query"] for r in listed)
    assert len(vendor.ids()) == 21


def test_the_import_filter_is_applied_after_the_read(vendor: Vendor) -> None:
    vendor.configure(direct_api=False, only_import_tagged=True)
    tagged = vendor.emu.admin.create_contact(Email="t@example.com", LastName="T", gq_import__c=True)
    vendor.seed(3)
    event = vendor.sync()
    assert list(vendor.ids()) == [tagged]
    assert event["counts"]["skipped"] == {"not_tagged": 3}
    assert event["source"]["filter"] == "after_read"


@pytest.mark.parametrize(
    ("behaviour", "left", "unsubscribed"),
    [("delete", 0, None), ("unsubscribe", 1, True), ("keep", 1, False)],
)
def test_a_delete_applies_its_behaviour_once_the_vendor_has_synced_it(
    vendor: Vendor, behaviour: str, left: int, unsubscribed: bool | None
) -> None:
    vendor.configure(direct_api=False, deletion_behaviour=behaviour)
    (gone,) = vendor.seed(1)
    vendor.sync()
    vendor.emu.admin.vendor_config(delete_every=2)  # slow delete detection
    vendor.emu.admin.delete_contact(gone)
    vendor.emu.admin.vendor_sync()  # the 2nd sync: deletes are not looked at
    vendor.sync()
    assert len(vendor.candidates()) == 1 and vendor.candidates()[0][3] is False
    vendor.emu.admin.vendor_sync()  # the 3rd: still not (every 2nd, counting the first)
    vendor.emu.admin.vendor_sync()
    vendor.sync()
    rows = vendor.candidates()
    assert len(rows) == left
    if rows:
        assert rows[0][3] is unsubscribed


def test_the_deletion_checkbox_works_through_the_vendor(vendor: Vendor) -> None:
    vendor.configure(direct_api=False, deletion_behaviour="delete")
    (marked,) = vendor.seed(1)
    vendor.sync()
    vendor.emu.admin.update_contact(marked, is_deleted__c=True)
    vendor.emu.admin.vendor_sync()
    event = vendor.sync()
    assert vendor.candidates() == [] and event["counts"]["deleted"] == 1


def test_mapped_attributes_of_every_type_equal_direct_modes(vendor: Vendor) -> None:
    for field, (name, _, _) in FIELD_VALUES.items():
        vendor.map(name, field)
    values = {field: wire for field, (_, wire, _) in FIELD_VALUES.items()}
    vendor.emu.admin.create_contact(Email="typed@example.com", LastName="Typed", **values)
    vendor.emu.admin.vendor_sync()
    event = vendor.sync()
    assert event["status"] == "succeeded", event["errors"]
    (row,) = vendor.candidates()
    assert row[2] == {name: stored for _, (name, _, stored) in FIELD_VALUES.items()}


def test_a_429_storm_is_waited_out_and_reported(vendor: Vendor) -> None:
    vendor.seed(250)
    vendor.emu.admin.vendor_config(rate_per_minute=3, window_seconds=1)
    started = time.monotonic()
    event = vendor.sync(timeout=180)
    assert event["status"] == "succeeded", event["errors"]
    assert event["counts"]["created"] == 250
    assert event["source"]["rate_limit_wait_seconds"] > 0
    throttled = [r for r in vendor.vendor_calls() if r.get("status") == 429]
    assert throttled, "the emulator never answered 429"
    assert time.monotonic() - started < 120


def test_push_and_the_sign_up_flag_are_refused_with_their_reasons(vendor: Vendor) -> None:
    # Written to the store directly: `save_settings` refuses push in vendor mode up front.
    with vendor.container.uow() as uow:
        uow.accounts.save_settings(
            AccountSettings(vendor.account, direct_api=False, push_enabled=True)
        )
        uow.commit()
    (contact,) = vendor.seed(1)
    vendor.sync()
    pushed = vendor.sync(scope="export")
    assert pushed["status"] == "failed"
    assert pushed["errors"][0]["code"] == "not_direct_mode"
    message = signup(vendor, "v0@example.com")
    publish(vendor, message)
    outcome, reason, _ = settled(vendor, 1)[message["id"]]
    assert (outcome, reason) == ("skipped", "vendor_mode")
    assert vendor.emu.admin.get_contact(contact)["gq_import__c"] is False
    writes = [r for r in vendor.emu.admin.requests() if r["method"] in ("PATCH", "POST", "PUT")]
    assert not [r for r in writes if "/services/data/" in r["path"]]


def test_switching_to_direct_keeps_every_identity_then_reads_incrementally(vendor: Vendor) -> None:
    vendor.seed(30)
    vendor.sync()
    before = vendor.ids()
    vendor.configure(direct_api=True)
    app = oauth_app(vendor.container.settings, vendor.emu.base_url)
    with salesforce_http(vendor.container.settings.sf_ca_bundle) as client:
        connect_without_browser(vendor.container.uow(), client, app, vendor.account)
    direct = vendor.sync()
    assert direct["status"] == "succeeded", direct["errors"]
    assert vendor.run_row(direct["run_id"])[0] == "full"
    assert direct["source"]["via"] == "salesforce"
    assert direct["counts"]["created"] == 0
    assert vendor.ids() == before  # no duplicate, no new candidate id
    again = vendor.sync()
    assert vendor.run_row(again["run_id"])[0] == "incremental"


def test_an_unlinked_account_fails_not_connected(vendor: Vendor) -> None:
    with vendor.container.uow() as uow:
        uow.vendor_links.delete(vendor.account)
        uow.commit()
    event = vendor.sync()
    assert event["status"] == "failed" and event["errors"][0]["code"] == "not_connected"


def test_a_503_storm_past_the_adapters_retries_is_retried_and_ends_like_a_clean_run(
    vendor: Vendor,
) -> None:
    vendor.seed(250)  # three pages
    vendor.emu.admin.add_fault(status=503, count=4, path="/api/crm/v1/contacts")
    event = vendor.sync(timeout=120)
    assert event["status"] == "succeeded", event["errors"]
    assert [r["status"] for r in vendor.vendor_calls()].count(503) == 4
    assert event["counts"]["created"] == 250 and len(vendor.ids()) == 250


def test_a_vendor_that_stays_down_ends_the_run_failed_and_says_why(vendor: Vendor) -> None:
    vendor.seed(3)
    vendor.emu.admin.add_fault(status=503, count=-1, path="/api/crm/v1/contacts")
    event = vendor.sync(timeout=120)
    vendor.emu.admin.clear_faults()
    assert event["status"] == "failed"
    assert event["errors"][-1]["code"] == "vendor_unavailable"
    assert vendor.candidates() == []


def test_a_row_postgres_cannot_store_is_skipped_and_the_rest_imported(vendor: Vendor) -> None:
    """The vendor copies what Salesforce's own API would never send (a NUL, a control
    character): those rows are left out; the run and every other row go on."""
    good = vendor.seed(3)
    vendor.emu.admin.create_contact(Email="nul@example.com", LastName="Nul\x00Byte")
    vendor.emu.admin.create_contact(Email="esc@example.com", FirstName="\x1b[31m", LastName="E")
    vendor.emu.admin.vendor_sync()
    event = vendor.sync()
    assert event["status"] == "succeeded", event["errors"]
    assert event["counts"]["created"] == 3
    assert event["counts"]["skipped"] == {"source_invalid_characters": 2}
    assert sorted(vendor.ids()) == sorted(good)
