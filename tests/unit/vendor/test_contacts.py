"""VendorContacts through MockTransport: reads, paging, describe, status, resync, unlink."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import FieldType, SalesforceId, SyncCursor
from sfsync.domain.ports import ContactQuery
from tests.unit.vendor.scripted_vendor import FakeVendor, contacts, pages, remote_field, row


def field_class(name: str, field_type: str, **extra) -> dict:
    return {"remote_key_name": name, "field_type": field_type, "is_custom": False, **extra}


CLASSES = [
    field_class("Id", "string", field_format="uuid"),
    field_class("Email", "string", field_format="email", is_common_model_field=True),
    field_class("Phone", "string", field_format="phone"),
    field_class("Website__c", "string", field_format="url", is_custom=True),
    field_class("Department", "string"),
    field_class("Salutation", "string", field_choices=[{"value": "Mr.", "display_name": "Mr."}]),
    field_class("Shoe_Size__c", "number", is_custom=True, is_required=True),
    field_class("Fee__c", "number", field_format="currency", is_custom=True),
    field_class("Birthdate", "date"),
    field_class("Last_Seen__c", "datetime", is_custom=True),
    field_class("HasOptedOutOfEmail", "bool"),
    field_class(
        "Hobbies__c",
        "list",
        is_custom=True,
        item_schema={"item_type": "string", "item_choices": ["Chess", "Go"]},
    ),
    field_class("Shape__c", "object", is_custom=True),
    {"field_type": "string"},  # no remote_key_name: not a field we can name
]


def ids(batches) -> list[str]:
    return [c.id for batch in batches for c in batch]


def vendor_with(rows: list[dict], size: int = 2) -> FakeVendor:
    return FakeVendor(
        {"/contacts": pages(rows, size), "/contacts/remote-field-classes": pages(CLASSES, 5)}
    )


def contact_calls(vendor: FakeVendor) -> list[httpx.Request]:
    return [r for r in vendor.requests if r.url.path.endswith("/contacts")]


def test_describe_maps_every_page_of_field_classes_once() -> None:
    vendor = vendor_with([])
    reader = contacts(vendor)
    schema = reader.describe_contact()
    assert reader.describe_contact() is schema
    assert vendor.paths() == ["/contacts/remote-field-classes"] * 3  # 14 classes, 5 a page
    kinds = {name: info.type for name, info in schema.fields.items()}
    assert kinds == {
        "Id": FieldType.ID,
        "Email": FieldType.EMAIL,
        "FirstName": FieldType.STRING,
        "LastName": FieldType.STRING,
        "Name": FieldType.STRING,
        "IsDeleted": FieldType.BOOLEAN,
        "SystemModstamp": FieldType.DATETIME,
        "Phone": FieldType.PHONE,
        "Website__c": FieldType.URL,
        "Department": FieldType.STRING,
        "Salutation": FieldType.PICKLIST,
        "Shoe_Size__c": FieldType.DOUBLE,
        "Fee__c": FieldType.CURRENCY,
        "Birthdate": FieldType.DATE,
        "Last_Seen__c": FieldType.DATETIME,
        "HasOptedOutOfEmail": FieldType.BOOLEAN,
        "Hobbies__c": FieldType.MULTIPICKLIST,
        "Shape__c": FieldType.ANYTYPE,
    }
    assert schema.fields["Salutation"].picklist_values == ("Mr.",)
    assert schema.fields["Hobbies__c"].picklist_values == ("Chess", "Go")
    assert schema.fields["Shoe_Size__c"].custom and not schema.fields["Shoe_Size__c"].nillable
    assert not schema.fields["Department"].custom and not schema.fields["Department"].updateable


def test_a_read_follows_every_cursor_with_the_page_size() -> None:
    rows = [row(f"003{i:015d}") for i in range(5)]
    vendor = vendor_with(rows)
    read = contacts(vendor, page_size=2).read_contacts(ContactQuery(()))
    assert read.expected is None
    batches = list(read.batches)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert ids(batches) == [r["remote_id"] for r in rows]
    calls = contact_calls(vendor)
    assert [r.url.params.get("cursor") for r in calls] == [None, "2", "4"]
    for call in calls:
        assert call.url.params["page_size"] == "2"
        assert "include_deleted_data" not in call.url.params
        assert "include_remote_fields" not in call.url.params  # base fields only
        assert "modified_after" not in call.url.params


def test_deleted_rows_and_remote_fields_are_asked_for_only_when_needed() -> None:
    vendor = vendor_with(
        [row("00300000000000A", remote_fields=[remote_field("Department", "R&D")])]
    )
    reader = contacts(vendor)
    query = ContactQuery(("Email", "Department"), include_deleted=True)
    [contact] = [c for b in reader.read_contacts(query).batches for c in b]
    assert contact.fields == {"Department": "R&D"}
    [call] = contact_calls(vendor)
    assert call.url.params["include_deleted_data"] == "true"
    assert call.url.params["include_remote_fields"] == "true"


def test_modified_after_is_the_cursor_time_in_utc_and_its_id_is_ignored() -> None:
    vendor = vendor_with([])
    stamp = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
    query = ContactQuery(
        (),
        modified_after=SyncCursor(stamp, SalesforceId("003000000000000009")),
        recheck=(stamp, stamp),
        flag_field="gq_import__c",
    )
    list(contacts(vendor).read_contacts(query).batches)
    [call] = contact_calls(vendor)
    assert call.url.params["modified_after"] == "2026-01-02T03:04:05.678Z"
    assert set(call.url.params) == {"page_size", "modified_after"}


def test_a_row_stamped_again_while_paged_is_kept_once_as_first_seen() -> None:
    first = row("00300000000000A", "2026-01-01T00:00:00.000Z", first_name="Before")
    again = row("00300000000000A", "2026-01-01T00:00:09.000Z", first_name="After")
    vendor = vendor_with([first, row("00300000000000B"), again, row("00300000000000C")])
    batches = list(contacts(vendor).read_contacts(ContactQuery(())).batches)
    assert ids(batches) == ["00300000000000A", "00300000000000B", "00300000000000C"]
    assert batches[0][0].first_name == "Before"


def test_rows_without_a_remote_id_are_skipped_and_counted() -> None:
    vendor = vendor_with([row("00300000000000A"), row(None), row(""), row("00300000000000B")])
    reader = contacts(vendor)
    assert ids(reader.read_contacts(ContactQuery(())).batches) == [
        "00300000000000A",
        "00300000000000B",
    ]
    assert reader.skipped == {"no_remote_id": 2}


def test_a_read_by_ids_looks_each_up_by_remote_id() -> None:
    def by_remote_id(request: httpx.Request) -> httpx.Response:
        rid = request.url.params["remote_id"]
        results = [row(rid)] if rid != "00300000MISSING" else []
        return httpx.Response(200, json={"next": None, "previous": None, "results": results})

    vendor = FakeVendor(
        {"/contacts": by_remote_id, "/contacts/remote-field-classes": pages(CLASSES, 50)}
    )
    wanted = tuple(
        SalesforceId(i) for i in ("00300000000000A", "00300000MISSING", "00300000000000B")
    )
    query = ContactQuery((), ids=wanted)
    assert ids(contacts(vendor).read_contacts(query).batches) == [
        "00300000000000A",
        "00300000000000B",
    ]
    assert [r.url.params["remote_id"] for r in contact_calls(vendor)] == [
        "00300000000000A",
        "00300000MISSING",
        "00300000000000B",
    ]


def test_get_contact_includes_a_deleted_one() -> None:
    vendor = vendor_with([row("00300000000000A", remote_was_deleted=True)])
    contact = contacts(vendor).get_contact(SalesforceId("00300000000000A"), ())
    assert contact is not None and contact.is_deleted
    [call] = contact_calls(vendor)
    assert call.url.params["remote_id"] == "00300000000000A"
    assert call.url.params["include_deleted_data"] == "true"


def test_find_by_email_filters_and_keeps_exact_matches_only() -> None:
    rows = [
        row("00300000000000A", email_addresses=[{"email_address": "Pat@Example.org"}]),
        row("00300000000000B", email_addresses=[{"email_address": "other@example.org"}]),
    ]
    vendor = vendor_with(rows)
    found = contacts(vendor).find_contact_ids_by_email("pat@example.org")
    assert found == ["00300000000000A"]
    [call] = contact_calls(vendor)
    assert call.url.params["email_addresses"] == "pat@example.org"


def test_status_reads_the_contact_model() -> None:
    models: list[dict[str, str]] = [
        {"model_name": "Account", "model_id": "crm.Account", "status": "SYNCING"},
        {
            "model_name": "Contact",
            "model_id": "crm.Contact",
            "last_sync_start": "2026-01-02T03:00:00.000Z",
            "last_sync_finished": "2026-01-02T03:05:00.000Z",
            "status": "DONE",
        },
    ]
    body = {"next": None, "previous": None, "results": models}
    vendor = FakeVendor({"/sync-status": httpx.Response(200, json=body)})
    status = contacts(vendor).status()
    assert status.last_sync_started == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    assert status.last_sync_finished == datetime(2026, 1, 2, 3, 5, tzinfo=UTC)
    assert status.syncing is False
    models[1]["status"] = "SYNCING"
    assert contacts(FakeVendor({"/sync-status": httpx.Response(200, json=body)})).status().syncing


def test_resync_is_none_when_asked_and_a_reason_when_refused() -> None:
    vendor = FakeVendor({"/sync-status/resync": httpx.Response(200, json=[])})
    assert contacts(vendor).resync() is None
    assert vendor.requests[0].method == "POST"
    refused = httpx.Response(403, json={"detail": "Force resync is not available on your plan."})
    reason = contacts(FakeVendor({"/sync-status/resync": refused})).resync()
    assert reason is not None and "plan" in reason


def test_a_resync_with_a_dead_link_still_fails() -> None:
    dead = httpx.Response(401, json={"detail": "Invalid account token."})
    with pytest.raises(PermanentFailure) as err:
        contacts(FakeVendor({"/sync-status/resync": dead})).resync()
    assert err.value.code == "vendor_link_invalid"


def test_unlink_posts_delete_account() -> None:
    vendor = FakeVendor({"/delete-account": httpx.Response(200)})
    contacts(vendor).unlink()
    assert [(r.method, r.url.path) for r in vendor.requests] == [
        ("POST", "/api/crm/v1/delete-account")
    ]


def test_capabilities_offer_only_the_cache() -> None:
    reader = contacts(FakeVendor())
    caps = reader.capabilities()
    assert caps.cache is reader and caps.changes is None and caps.writer is None
    assert not caps.filters_on_fields and not caps.reads_named_fields
    assert reader.api_usage() is None
