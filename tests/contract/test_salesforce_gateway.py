"""The Salesforce-facing contract: one body of tests, run against every implementation.

Parameters: `fake` (tests/fake_salesforce.py), `fake_vendor` (tests/fake_vendor.py),
`emulator` (HttpxSalesforce over real HTTP against the local emulator), `vendor` (the vendor
adapter over real HTTPS against the vendor emulator) and `real` (HttpxSalesforce against a
real org, only when SF_LOGIN_URL, SF_CLIENT_ID, SF_USERNAME and SF_JWT_KEY_FILE are set).
Every source passes the ContactReader tests; the tests of a capability (OrgChanges,
ContactWriter, ContactCache, filtering on a field) skip when the source's `capabilities()`
does not offer it, never by the adapter's name. Each parameter comes with a seeder that
arranges Contacts in the org (and, for a vendor, lets the vendor sync them); reads are
scoped to the seeded ids so a real org's other data never matters. A new adapter is proven
by adding one parameter to `ORGS`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import attrs
import httpx
import pytest

from sfsync.adapters.salesforce.auth import JwtBearerAuth, OAuthApp, RefreshTokenAuth, Tokens
from sfsync.adapters.salesforce.gateway import HttpxSalesforce, SalesforceSettings
from sfsync.adapters.salesforce.hosts import SalesforceHosts
from sfsync.domain.errors import InvalidFieldName, QuotaExhausted
from sfsync.domain.model import Contact, SalesforceId, SyncCursor
from sfsync.domain.ports import (
    ContactCache,
    ContactQuery,
    ContactReader,
    ContactUpdate,
    ContactWriter,
    OrgChanges,
)
from sfsync_emulator.harness import Emulator
from sfsync_emulator.ids import CONTACT, make_id
from tests.fake_salesforce import FakeSalesforce
from tests.fake_vendor import FakeVendor
from tests.integration.test_vendor_adapter import open_reader

REAL_ORG_VARS = ("SF_LOGIN_URL", "SF_CLIENT_ID", "SF_USERNAME", "SF_JWT_KEY_FILE")


class Seeder(Protocol):
    """Arranges Contacts in one implementation's org."""

    def contact(
        self, email: str, first_name: str | None = None, last_name: str = "Doe", **fields: Any
    ) -> SalesforceId: ...

    def delete(self, contact_id: SalesforceId) -> None: ...

    def edit(self, contact_id: SalesforceId, **fields: Any) -> None:
        """Change a Contact in the org (a vendor shows it after its next sync)."""
        ...

    def vendor_sync(self) -> None:
        """Let a vendor copy what changed in the org (nothing for the org itself)."""
        ...

    def missing_id(self) -> SalesforceId: ...

    def exhaust_quota(self) -> None: ...


@attrs.frozen
class Org:
    gateway: ContactReader
    seed: Seeder


def changes(org: Org) -> OrgChanges:
    offered = org.gateway.capabilities().changes
    if offered is None:
        pytest.skip("the source has no change log of the org (OrgChanges)")
    return offered


def writer(org: Org) -> ContactWriter:
    offered = org.gateway.capabilities().writer
    if offered is None:
        pytest.skip("the source cannot write to Contacts (ContactWriter)")
    return offered


def cache(org: Org) -> ContactCache:
    offered = org.gateway.capabilities().cache
    if offered is None:
        pytest.skip("the source is the org itself, not a copy (ContactCache)")
    return offered


# --- fake ---------------------------------------------------------------------------------


@attrs.frozen
class FakeSeeder:
    fake: FakeSalesforce

    def contact(
        self, email: str, first_name: str | None = None, last_name: str = "Doe", **fields: Any
    ) -> SalesforceId:
        return self.fake.add_contact(email, first_name, last_name, **fields)

    def delete(self, contact_id: SalesforceId) -> None:
        self.fake.delete_contact(contact_id)

    def edit(self, contact_id: SalesforceId, **fields: Any) -> None:
        self.fake.records[contact_id].update(fields, SystemModstamp=self.fake._tick())

    def vendor_sync(self) -> None:
        pass

    def missing_id(self) -> SalesforceId:
        return SalesforceId("003000000000000AAA")

    def exhaust_quota(self) -> None:
        self.fake.exhaust_quota()


@contextlib.contextmanager
def fake_org(request: pytest.FixtureRequest) -> Iterator[Org]:
    fake = FakeSalesforce()
    yield Org(fake, FakeSeeder(fake))


class SyncedAfterEachChange:
    """A seeder whose vendor syncs after each seeded change, so reads of its copy see it."""

    def contact(
        self, email: str, first_name: str | None = None, last_name: str = "Doe", **fields: Any
    ) -> SalesforceId:
        made: SalesforceId = super().contact(email, first_name, last_name, **fields)  # type: ignore[misc]
        self.vendor_sync()
        return made

    def delete(self, contact_id: SalesforceId) -> None:
        super().delete(contact_id)  # type: ignore[misc]
        self.vendor_sync()

    def vendor_sync(self) -> None: ...


@attrs.frozen
class FakeVendorSeeder(SyncedAfterEachChange, FakeSeeder):
    vendor: FakeVendor | None = None

    def vendor_sync(self) -> None:
        assert self.vendor is not None
        self.vendor.sync()


@contextlib.contextmanager
def fake_vendor_org(request: pytest.FixtureRequest) -> Iterator[Org]:
    vendor = FakeVendor()
    yield Org(vendor, FakeVendorSeeder(vendor.org, vendor))


# --- emulator: HttpxSalesforce over real HTTP ------------------------------------------


def emulator_app(emu: Emulator) -> OAuthApp:
    """The emulator's connected app; its origin is allowed as configuration would allow it."""
    hosts = SalesforceHosts.allowing([emu.base_url])
    return OAuthApp(emu.base_url, emu.client_id, emu.client_secret, emu.redirect_uri, hosts)


def emulator_gateway(emu: Emulator, **settings: Any) -> HttpxSalesforce:
    """HttpxSalesforce on a refresh-token connection to the emulator (shared with integration)."""
    minted = emu.admin.mint_token(refresh=True)
    app = emulator_app(emu)
    auth = RefreshTokenAuth(
        app,
        Tokens(minted["access_token"], minted["instance_url"], minted["refresh_token"]),
        **settings.pop("auth", {}),
    )
    http = httpx.Client(verify=emu.ssl_context(), timeout=settings.pop("timeout", 30.0))
    return HttpxSalesforce(auth, SalesforceSettings(**settings), http=http)


@attrs.frozen
class EmulatorSeeder:
    emu: Emulator

    def contact(
        self, email: str, first_name: str | None = None, last_name: str = "Doe", **fields: Any
    ) -> SalesforceId:
        return SalesforceId(
            self.emu.admin.create_contact(
                Email=email, FirstName=first_name, LastName=last_name, **fields
            )
        )

    def delete(self, contact_id: SalesforceId) -> None:
        self.emu.admin.delete_contact(contact_id)

    def edit(self, contact_id: SalesforceId, **fields: Any) -> None:
        self.emu.admin.update_contact(contact_id, **fields)

    def vendor_sync(self) -> None:
        pass

    def missing_id(self) -> SalesforceId:
        return SalesforceId(make_id(CONTACT, 900_000_000))

    def exhaust_quota(self) -> None:
        self.emu.admin.set_quota(used=self.emu.admin.state()["api_max"])


@contextlib.contextmanager
def emulator_org(request: pytest.FixtureRequest) -> Iterator[Org]:
    emu: Emulator = request.getfixturevalue("sf_emulator")
    emu.admin.reset(contacts=0)
    sf = emulator_gateway(emu)
    try:
        yield Org(sf, EmulatorSeeder(emu))
    finally:
        sf.close()


# --- vendor: VendorContacts over real HTTPS against the vendor emulator ------------------


@attrs.frozen
class VendorEmulatorSeeder(SyncedAfterEachChange, EmulatorSeeder):
    """Seeds the org behind the vendor emulator; the vendor syncs each change."""

    def vendor_sync(self) -> None:
        self.emu.admin.vendor_sync()


@contextlib.contextmanager
def vendor_org(request: pytest.FixtureRequest) -> Iterator[Org]:
    emu: Emulator = request.getfixturevalue("vendor_org")
    reader = open_reader(emu)
    try:
        yield Org(reader, VendorEmulatorSeeder(emu))
    finally:
        reader.close()


# --- real org (JWT bearer), only when configured ---------------------------------------


@attrs.define
class RealSeeder:
    """Creates Contacts through REST and deletes them (hard) when the test ends."""

    sf: HttpxSalesforce
    created: list[SalesforceId] = attrs.field(factory=list)

    def contact(
        self, email: str, first_name: str | None = None, last_name: str = "Doe", **fields: Any
    ) -> SalesforceId:
        body = {"Email": email, "FirstName": first_name, "LastName": last_name, **fields}
        cid = SalesforceId(self.sf.client.json("POST", "sobjects/Contact", json=body)["id"])
        self.created.append(cid)
        return cid

    def delete(self, contact_id: SalesforceId) -> None:
        self.sf.client.request("DELETE", f"sobjects/Contact/{contact_id}")

    def edit(self, contact_id: SalesforceId, **fields: Any) -> None:
        self.sf.client.request("PATCH", f"sobjects/Contact/{contact_id}", json=fields)

    def vendor_sync(self) -> None:
        pass

    def missing_id(self) -> SalesforceId:
        return SalesforceId("003000000000000AAA")

    def exhaust_quota(self) -> None:
        pytest.skip("a real org's quota is not ours to exhaust")

    def clean_up(self) -> None:
        for cid in self.created:
            with contextlib.suppress(Exception):
                self.sf.client.request("DELETE", f"sobjects/Contact/{cid}")


@contextlib.contextmanager
def real_org(request: pytest.FixtureRequest) -> Iterator[Org]:
    missing = [v for v in REAL_ORG_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"real org not configured: set {', '.join(missing)} (JWT bearer)")
    app = OAuthApp(os.environ["SF_LOGIN_URL"], os.environ["SF_CLIENT_ID"])
    auth = JwtBearerAuth(app, os.environ["SF_USERNAME"], os.environ["SF_JWT_KEY_FILE"])
    sf = HttpxSalesforce(auth)
    seeder = RealSeeder(sf)
    try:
        yield Org(sf, seeder)
    finally:
        seeder.clean_up()
        sf.close()


ORGS: dict[str, Callable[[pytest.FixtureRequest], contextlib.AbstractContextManager[Org]]] = {
    "fake": fake_org,
    "fake_vendor": fake_vendor_org,
    "emulator": emulator_org,
    "vendor": vendor_org,
    "real": real_org,
}


@pytest.fixture(name="org", params=list(ORGS))
def _org(request: pytest.FixtureRequest) -> Iterator[Org]:
    with ORGS[request.param](request) as org:
        yield org


def unique_email(tag: str = "p") -> str:
    return f"{tag}.{uuid.uuid4().hex[:10]}@example.com"


def read_all(sf: ContactReader, query: ContactQuery) -> list[Contact]:
    read = sf.read_contacts(query)
    contacts = [c for batch in read.batches for c in batch]
    assert read.expected in (None, len(contacts))
    return contacts


def test_describe_lists_the_base_fields_and_the_sync_flag(org: Org) -> None:
    schema = org.gateway.describe_contact()
    for name in (
        "Id",
        "Email",
        "FirstName",
        "LastName",
        "Name",
        "IsDeleted",
        "SystemModstamp",
        "HasOptedOutOfEmail",
        "gq_import__c",
    ):
        assert schema.get(name) is not None, name


def test_read_returns_the_seeded_contacts_with_a_modstamp(org: Org) -> None:
    ids = [org.seed.contact(unique_email(), first_name=f"N{n}") for n in range(3)]
    contacts = read_all(org.gateway, ContactQuery((), ids=tuple(ids)))
    assert sorted(c.id for c in contacts) == sorted(ids)
    assert all(c.system_modstamp and c.system_modstamp.tzinfo for c in contacts)


def test_reads_of_the_change_log_come_ordered_by_modstamp_then_id(org: Org) -> None:
    changes(org)
    ids = [org.seed.contact(unique_email(), first_name=f"N{n}") for n in range(3)]
    contacts = read_all(org.gateway, ContactQuery((), ids=tuple(ids)))
    keys = [(c.system_modstamp, c.id) for c in contacts]
    assert keys == sorted(keys)


def test_base_fields_are_typed_and_extra_fields_kept(org: Org) -> None:
    email = unique_email("ada")
    cid = org.seed.contact(email, first_name="Ada", last_name="Lovelace", gq_import__c=True)
    (contact,) = read_all(org.gateway, ContactQuery(("gq_import__c",), ids=(cid,)))
    assert (contact.email, contact.first_name, contact.last_name) == (email, "Ada", "Lovelace")
    assert contact.is_deleted is False
    assert str(contact.fields["gq_import__c"]).lower() == "true"


def test_cursor_returns_only_rows_strictly_after_it(org: Org) -> None:
    changes(org)
    ids = tuple(org.seed.contact(unique_email()) for _ in range(4))
    ordered = read_all(org.gateway, ContactQuery((), ids=ids))
    pivot = ordered[1]
    assert pivot.system_modstamp is not None
    cursor = SyncCursor(pivot.system_modstamp, pivot.id)
    after = read_all(org.gateway, ContactQuery((), ids=ids, modified_after=cursor))
    assert [c.id for c in after] == [c.id for c in ordered[2:]]


def test_deleted_contacts_appear_only_with_include_deleted(org: Org) -> None:
    keep, gone = org.seed.contact(unique_email()), org.seed.contact(unique_email())
    org.seed.delete(gone)
    visible = read_all(org.gateway, ContactQuery((), ids=(keep, gone)))
    assert [c.id for c in visible] == [keep]
    everything = read_all(org.gateway, ContactQuery((), ids=(keep, gone), include_deleted=True))
    assert {c.id: c.is_deleted for c in everything} == {keep: False, gone: True}


def test_get_deleted_lists_what_was_deleted_in_a_window(org: Org) -> None:
    log = changes(org)
    keep, gone = org.seed.contact(unique_email()), org.seed.contact(unique_email())
    before = datetime.now(UTC) - timedelta(minutes=2)
    org.seed.delete(gone)
    deleted = log.deleted_contacts(before, datetime.now(UTC) + timedelta(minutes=2))
    assert gone in deleted.ids and keep not in deleted.ids


def test_flag_field_keeps_only_flagged_contacts(org: Org) -> None:
    if not org.gateway.capabilities().filters_on_fields:
        pytest.skip("the source cannot filter on a field (the import filters after the read)")
    flagged = org.seed.contact(unique_email(), gq_import__c=True)
    plain = org.seed.contact(unique_email())
    query = ContactQuery((), ids=(flagged, plain), flag_field="gq_import__c")
    assert [c.id for c in read_all(org.gateway, query)] == [flagged]


def test_batches_never_exceed_two_thousand_rows(org: Org) -> None:
    ids = tuple(org.seed.contact(unique_email()) for _ in range(3))
    read = org.gateway.read_contacts(ContactQuery((), ids=ids))
    sizes = [len(b) for b in read.batches]
    assert sum(sizes) == 3 and all(0 < s <= 2000 for s in sizes)


def test_find_by_email_is_exact_and_survives_quotes(org: Org) -> None:
    email = f"o'brien.{uuid.uuid4().hex[:8]}@example.com"
    cid = org.seed.contact(email)
    org.seed.contact(unique_email())
    assert org.gateway.find_contact_ids_by_email(email) == [cid]
    assert org.gateway.find_contact_ids_by_email(f"x' OR Email != '{email}") == []


def test_find_by_emails_ignores_case_and_returns_every_match_with_its_flag(org: Org) -> None:
    ada, bob = unique_email("ada"), unique_email("bob")
    first = org.seed.contact(ada.upper(), gq_import__c=True)
    second = org.seed.contact(ada)
    third = org.seed.contact(bob)
    org.seed.contact(unique_email("other"))
    found = writer(org).find_contacts_by_email([ada, bob, unique_email("nobody")], ["gq_import__c"])
    assert sorted(c.id for c in found) == sorted([first, second, third])
    by_id = {c.id: c for c in found}
    assert by_id[first].email == ada.upper() and by_id[third].email == bob
    assert [str(by_id[i].fields["gq_import__c"]).lower() for i in (first, second)] == [
        "true",
        "false",
    ]
    assert all(c.system_modstamp and c.system_modstamp.tzinfo for c in found)


def test_find_by_emails_takes_hostile_strings_as_literals(org: Org) -> None:
    email = f"o'brien.{uuid.uuid4().hex[:8]}@example.com"
    cid = org.seed.contact(email)
    org.seed.contact(unique_email())
    hostile = [
        "x' OR Id != '",
        "x\\' OR Email != '",
        "%@example.com",
        "_@example.com",
        "a\nb@example.com",
        "x') OR (Email != 'y",
        email,
    ]
    assert [c.id for c in writer(org).find_contacts_by_email(hostile)] == [cid]
    assert writer(org).find_contacts_by_email([]) == []


def test_get_contact_returns_it_or_none(org: Org) -> None:
    cid = org.seed.contact(unique_email(), first_name="Grace")
    contact = org.gateway.get_contact(cid, ["gq_import__c"])
    assert contact is not None and contact.first_name == "Grace"
    assert org.gateway.get_contact(org.seed.missing_id(), ["gq_import__c"]) is None


@pytest.mark.parametrize("name", ["Name FROM User --", "Email, Id", "Id'"])
def test_malformed_field_names_are_refused(org: Org, name: str) -> None:
    with pytest.raises(InvalidFieldName):
        org.gateway.read_contacts(ContactQuery((name,), ids=(org.seed.missing_id(),)))


def test_unknown_and_compound_fields_are_refused(org: Org) -> None:
    with pytest.raises(InvalidFieldName):
        org.gateway.read_contacts(ContactQuery(("No_Such_Field__c",)))
    listed = org.gateway.describe_contact().get("MailingAddress") is not None
    with pytest.raises(InvalidFieldName, match="MailingCity" if listed else "MailingAddress"):
        org.gateway.read_contacts(ContactQuery(("MailingAddress",)))  # or unlisted (a vendor)


def test_updates_report_per_record_results(org: Org) -> None:
    cid = org.seed.contact(unique_email())
    results = writer(org).update_contacts(
        [
            ContactUpdate(cid, {"FirstName": "Updated", "gq_import__c": True}),
            ContactUpdate(org.seed.missing_id(), {"FirstName": "Nobody"}),
            ContactUpdate(cid, {"Name": "Read Only"}),
        ]
    )
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].error_code and results[2].fields == ("Name",)
    assert [r.contact_id for r in results] == [cid, org.seed.missing_id(), cid]
    (contact,) = read_all(org.gateway, ContactQuery(("gq_import__c",), ids=(cid,)))
    assert contact.first_name == "Updated"


def test_one_contact_named_twice_in_one_update_fails_both_times(org: Org) -> None:
    """Salesforce refuses a save that names one record twice: never last-wins."""
    twice, other = org.seed.contact(unique_email()), org.seed.contact(unique_email())
    results = writer(org).update_contacts(
        [
            ContactUpdate(twice, {"FirstName": "One"}),
            ContactUpdate(other, {"FirstName": "Saved"}),
            ContactUpdate(twice, {"FirstName": "Two"}),
        ]
    )
    assert [(r.ok, r.error_code) for r in results] == [
        (False, "DUPLICATE_VALUE"),
        (True, None),
        (False, "DUPLICATE_VALUE"),
    ]
    read = {c.id: c for c in read_all(org.gateway, ContactQuery((), ids=(twice, other)))}
    assert read[twice].first_name is None and read[other].first_name == "Saved"


def test_streamed_updates_answer_each_contact_once_with_the_values_sent(org: Org) -> None:
    ada, bob = org.seed.contact(unique_email()), org.seed.contact(unique_email())
    pages = [
        [ContactUpdate(ada, {"FirstName": "Ada", "gq_import__c": True})],
        [ContactUpdate(org.seed.missing_id(), {"FirstName": "Nobody"})],
        [ContactUpdate(bob, {"Name": "Read Only"})],
    ]
    fields = ["FirstName", "gq_import__c", "Name"]
    results = {r.contact_id: r for r in writer(org).update_contacts_streamed(fields, pages)}
    assert results[ada].ok and results[ada].values == {"FirstName": "Ada", "gq_import__c": True}
    missing = results[org.seed.missing_id()]
    assert not missing.ok and missing.error_code and missing.values == {"FirstName": "Nobody"}
    assert results[bob].fields == ("Name",) and not results[bob].ok
    (contact,) = read_all(org.gateway, ContactQuery(("gq_import__c",), ids=(ada,)))
    assert contact.first_name == "Ada" and contact.fields["gq_import__c"] in (True, "true")
    assert list(writer(org).update_contacts_streamed(fields, [[], []])) == []


def test_a_streamed_update_refuses_a_field_it_was_not_told_of(org: Org) -> None:
    cid = org.seed.contact(unique_email())
    with pytest.raises(ValueError):
        list(writer(org).update_contacts_streamed(["Title"], [[ContactUpdate(cid, {"X": 1})]]))


def test_restricted_picklist_and_read_only_values_are_refused_by_field(org: Org) -> None:
    cid = org.seed.contact(unique_email())
    results = writer(org).update_contacts(
        [ContactUpdate(cid, {"Favorite_Color__c": "Ultraviolet"})]
    ) + writer(org).update_contacts([ContactUpdate(cid, {"Name": "Read Only"})])
    assert [(r.error_code, r.fields) for r in results] == [
        ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ("Favorite_Color__c",)),
        ("INVALID_FIELD_FOR_INSERT_UPDATE", ("Name",)),
    ]


def test_an_update_moves_the_contacts_systemmodstamp(org: Org) -> None:
    cid = org.seed.contact(unique_email())
    (before,) = read_all(org.gateway, ContactQuery((), ids=(cid,)))
    (result,) = writer(org).update_contacts([ContactUpdate(cid, {"FirstName": "Moved"})])
    (after,) = read_all(org.gateway, ContactQuery((), ids=(cid,)))
    assert result.ok and before.system_modstamp and after.system_modstamp
    assert after.system_modstamp > before.system_modstamp


def test_api_usage_is_reported(org: Org) -> None:
    org.gateway.describe_contact()
    org.gateway.find_contact_ids_by_email(unique_email())
    usage = org.gateway.api_usage()
    if usage is None:
        pytest.skip("the source does not see the org's API usage")
    assert 0 < usage.used <= usage.limit


def test_calls_are_counted(org: Org) -> None:
    before = org.gateway.call_stats().calls
    org.gateway.find_contact_ids_by_email(unique_email())
    stats = org.gateway.call_stats()
    assert stats.calls > before and stats.waited_seconds >= 0


def test_exhausted_quota_stops_calls(org: Org) -> None:
    if org.gateway.api_usage() is None:
        pytest.skip("the source does not see the org's daily quota (a vendor rate-limits)")
    org.seed.exhaust_quota()
    with pytest.raises(QuotaExhausted):
        org.gateway.find_contact_ids_by_email(unique_email())


def test_stamps_list_live_contacts_with_their_modstamp_and_no_personal_data(org: Org) -> None:
    keep, gone = (
        org.seed.contact(unique_email(), first_name="Ada"),
        org.seed.contact(unique_email()),
    )
    org.seed.delete(gone)
    read = changes(org).contact_stamps()
    stamps = {c.id: c for batch in read.batches for c in batch}
    assert keep in stamps and gone not in stamps
    listed = stamps[keep]
    assert listed.system_modstamp is not None and listed.system_modstamp.tzinfo
    assert (listed.email, listed.first_name, listed.name) == (None, None, None)


# --- a vendor's copy ---------------------------------------------------------------------


def test_a_copy_shows_an_edit_only_after_its_sync_stamped_after_the_last(org: Org) -> None:
    copy = cache(org)
    cid = org.seed.contact(unique_email(), first_name="Before")
    (seen,) = read_all(org.gateway, ContactQuery((), ids=(cid,)))
    assert seen.system_modstamp is not None
    org.seed.edit(cid, FirstName="After")
    (stale,) = read_all(org.gateway, ContactQuery((), ids=(cid,)))
    assert stale.first_name == "Before"
    org.seed.vendor_sync()
    since = SyncCursor(seen.system_modstamp, SalesforceId(""))
    changed = read_all(org.gateway, ContactQuery((), modified_after=since))
    assert [(c.id, c.first_name) for c in changed] == [(cid, "After")]
    status = copy.status()
    assert status.last_sync_finished is not None and status.last_sync_finished.tzinfo


def test_a_copy_reads_its_whole_model_and_filters_on_nothing(org: Org) -> None:
    offered = org.gateway.capabilities()
    cache(org)
    assert not offered.reads_named_fields and not offered.filters_on_fields
    flagged = org.seed.contact(unique_email(), gq_import__c=True)
    plain = org.seed.contact(unique_email())
    query = ContactQuery(("gq_import__c",), ids=(flagged, plain), flag_field="gq_import__c")
    read = {c.id: c.fields["gq_import__c"] for c in read_all(org.gateway, query)}
    assert {k: str(v).lower() for k, v in read.items()} == {flagged: "true", plain: "false"}


def test_a_resync_is_asked_for_or_refused_with_a_reason(org: Org) -> None:
    answer = cache(org).resync()
    assert answer is None or (isinstance(answer, str) and answer)
