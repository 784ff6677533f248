"""VendorContacts against the vendor emulator over real HTTPS (its own CA trusted)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sfsync.adapters.vendor.client import VendorClient
from sfsync.adapters.vendor.contacts import VendorContacts
from sfsync.adapters.vendor.settings import VendorSettings
from sfsync.adapters.vendor.transport import vendor_http
from sfsync.domain.coercion import from_salesforce
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId, AccountSettings, Contact, SalesforceId, SyncCursor
from sfsync.domain.ports import ContactQuery, VendorLink
from sfsync.entrypoints.gateways import HttpxGatewayFactory
from sfsync.entrypoints.settings import Settings
from sfsync_emulator.harness import Emulator
from tests.fakes import RecordingMetrics

pytestmark = pytest.mark.emulator

TYPED = (
    "Favorite_Color__c",
    "Hobbies__c",
    "Age__c",
    "Score__c",
    "Donation__c",
    "Completion__c",
    "Signup_Date__c",
    "Last_Seen__c",
    "Newsletter__c",
    "Alt_Email__c",
    "Website__c",
    "HasOptedOutOfEmail",
    "Birthdate",
)


@pytest.fixture(name="emu")
def _emu(vendor_org: Emulator) -> Emulator:
    return vendor_org


@pytest.fixture(name="reader")
def _reader(emu: Emulator) -> Iterator[VendorContacts]:
    reader = open_reader(emu)
    yield reader
    reader.close()


def open_reader(emu: Emulator, **settings) -> VendorContacts:
    access = emu.vendor
    assert access is not None
    config = VendorSettings(access.base_url, access.api_key, **settings)
    http = vendor_http(emu.ca_path, timeout=config.timeout)
    return VendorContacts(VendorClient(config, access.account_token, http))


def read_all(reader: VendorContacts, query: ContactQuery) -> list[Contact]:
    return [c for batch in reader.read_contacts(query).batches for c in batch]


def latest(contacts: list[Contact]) -> SyncCursor:
    last = max(contacts, key=lambda c: (c.system_modstamp, c.id))
    assert last.system_modstamp is not None
    return SyncCursor(last.system_modstamp, last.id)


def test_every_seeded_contact_is_read_once_with_its_base_values(
    emu: Emulator, reader: VendorContacts
) -> None:
    contacts = read_all(reader, ContactQuery(()))
    assert len(contacts) == 300 and len({c.id for c in contacts}) == 300
    assert reader.call_stats().calls == 1 + 3  # the field classes, then 3 pages of 100
    for contact in contacts[::30]:
        org = emu.admin.get_contact(contact.id)
        assert (contact.first_name, contact.last_name) == (org["FirstName"], org["LastName"])
        assert contact.email == org["Email"] and contact.name == org["Name"]
        assert contact.is_deleted is False


def test_typed_fields_equal_what_the_org_holds_and_coerce(
    emu: Emulator, reader: VendorContacts
) -> None:
    schema = reader.describe_contact()
    contacts = read_all(reader, ContactQuery(TYPED))
    assert len(contacts) == 300
    for contact in contacts:
        org = emu.admin.get_contact(contact.id)
        assert contact.fields == {name: org[name] for name in TYPED}
        for name in TYPED:
            field = schema.get(name)
            assert field is not None
            from_salesforce(field, contact.fields[name])  # no CoercionError
    assert any(";" in (c.fields["Hobbies__c"] or "") for c in contacts)  # multi-select text
    assert schema.fields["Hobbies__c"].type == "multipicklist"
    assert schema.fields["Newsletter__c"].type == "boolean"
    assert schema.fields["Donation__c"].type == "currency"


def test_an_organisation_field_mapping_beats_the_remote_field(
    emu: Emulator, reader: VendorContacts
) -> None:
    emu.admin.vendor_config(field_mappings={"Nickname__c": "Department"})
    rid = read_all(reader, ContactQuery(()))[0].id
    emu.admin.update_contact(rid, Department="Mapped Dept", Nickname__c="Remote Nick")
    emu.admin.vendor_sync()
    contact = reader.get_contact(rid, ("Nickname__c", "Department"))
    assert contact is not None
    assert contact.fields == {"Nickname__c": "Mapped Dept", "Department": "Mapped Dept"}


def test_an_edit_shows_only_after_the_vendor_syncs_and_alone_after_the_cursor(
    emu: Emulator, reader: VendorContacts
) -> None:
    before = read_all(reader, ContactQuery(("Department",)))
    cursor = latest(before)
    first, second = before[10].id, before[200].id
    emu.admin.update_contact(first, FirstName="Renamed", Department="Research")
    emu.admin.update_contact(second, LastName="Changed")
    stale = reader.get_contact(first, ("Department",))
    assert stale is not None and stale.first_name == before[10].first_name
    assert read_all(reader, ContactQuery((), modified_after=cursor)) == []
    emu.admin.vendor_sync()
    changed = read_all(reader, ContactQuery(("Department",), modified_after=cursor))
    assert sorted(c.id for c in changed) == sorted([first, second])
    renamed = next(c for c in changed if c.id == first)
    assert renamed.first_name == "Renamed" and renamed.fields == {"Department": "Research"}
    assert renamed.system_modstamp is not None and renamed.system_modstamp > cursor.modstamp


def test_a_delete_shows_as_deleted_only_after_the_sync_and_only_when_asked(
    emu: Emulator, reader: VendorContacts
) -> None:
    rid = read_all(reader, ContactQuery(()))[3].id
    emu.admin.delete_contact(rid)
    with_deleted = ContactQuery((), include_deleted=True)
    still = next(c for c in read_all(reader, with_deleted) if c.id == rid)
    assert still.is_deleted is False
    emu.admin.vendor_sync()
    assert rid not in {c.id for c in read_all(reader, ContactQuery(()))}
    gone = [c for c in read_all(reader, with_deleted) if c.id == rid]
    assert len(gone) == 1 and gone[0].is_deleted
    found = reader.get_contact(SalesforceId(rid), ())
    assert found is not None and found.is_deleted


def test_the_vendor_rate_limit_is_waited_out_not_failed(emu: Emulator) -> None:
    emu.admin.vendor_config(rate_per_minute=3, window_seconds=1)
    reader = open_reader(emu, rate_per_minute=0, page_size=50)
    try:
        contacts = read_all(reader, ContactQuery(()))
    finally:
        reader.close()
    assert len(contacts) == 300
    stats = reader.call_stats()
    throttled = [r for r in emu.admin.requests() if r["status"] == 429]
    assert throttled and stats.calls == 7 + len(throttled)  # 1 describe + 6 pages
    assert stats.waited_seconds >= len(throttled)  # Retry-After is at least 1 s


def test_a_passing_5xx_is_retried(emu: Emulator) -> None:
    emu.admin.add_fault(status=503, count=2, path="/crm/v1/contacts", retry_after=0)
    reader = open_reader(emu, backoff_initial=0.01)
    try:
        assert len(read_all(reader, ContactQuery(()))) == 300
    finally:
        reader.close()
    statuses = [r["status"] for r in emu.admin.requests() if "/crm/v1/contacts" in r["path"]]
    assert statuses.count(503) == 2


def test_status_and_resync(emu: Emulator, reader: VendorContacts) -> None:
    status = reader.status()
    assert status.last_sync_finished is not None and status.last_sync_started is not None
    assert datetime.now(UTC) - status.last_sync_finished < timedelta(minutes=5)
    assert status.syncing is False
    assert reader.resync() is None
    after = reader.status()
    assert (
        after.last_sync_started is not None and after.last_sync_started > status.last_sync_started
    )
    emu.admin.vendor_config(resync_allowed=False)
    reason = reader.resync()
    assert reason is not None and "plan" in reason


def test_find_contact_ids_by_email(emu: Emulator, reader: VendorContacts) -> None:
    target = next(c for c in read_all(reader, ContactQuery(())) if c.email)
    assert target.email is not None
    assert reader.find_contact_ids_by_email(target.email.upper()) == [target.id]


def test_unlink_through_the_factory_ends_the_token(emu: Emulator) -> None:
    access = emu.vendor
    assert access is not None
    settings = Settings(
        vendor_base_url=access.base_url,
        vendor_api_key=access.api_key,
        vendor_ca_bundle=emu.ca_path,
    )
    metrics = RecordingMetrics()
    factory = HttpxGatewayFactory(settings, uow=None, metrics=metrics)  # type: ignore[arg-type]
    link = VendorLink(AccountId("acct-vendor"), access.account_token)
    account = AccountSettings(AccountId("acct-vendor"), direct_api=False)
    with factory.open_vendor(link, account) as reader:
        assert reader.status().last_sync_finished is not None
    factory.unlink_vendor(link)
    with factory.open_vendor(link, account) as reader:
        with pytest.raises(PermanentFailure) as err:
            read_all(reader, ContactQuery(()))
    assert err.value.code == "vendor_link_invalid"
    assert access.account_token not in str(err.value)
    assert metrics.counts["salesforce_calls", "POST vendor/delete-account"] == 1
    assert metrics.counts["salesforce_calls", "GET vendor/sync-status"] == 1
