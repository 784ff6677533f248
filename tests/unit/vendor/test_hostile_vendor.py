"""A hostile or broken vendor: every bad answer is a specific failure or a counted skip, never
a crash, a loop, or a value in a message or a log line."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import structlog

from sfsync.domain.errors import PermanentFailure, TransientFailure
from sfsync.domain.model import FieldType
from sfsync.domain.ports import ContactQuery
from tests.unit.vendor.scripted_vendor import FakeVendor, contacts, remote_field, row

GOOD = "003000000000001AAA"
SECRET = "Zebulon.Quartermaine@hidden.example"
HUGE = "Q" * 10_000_000
CLASSES = {
    "next": None,
    "results": [
        {"remote_key_name": "Department", "field_type": "string"},
        {"remote_key_name": "Hobbies__c", "field_type": "list"},
        {"remote_key_name": "Shape__c", "field_type": "object"},
    ],
}


def vendor_answering(*answers: httpx.Response) -> FakeVendor:
    return FakeVendor(
        {
            "/contacts": list(answers),
            "/contacts/remote-field-classes": httpx.Response(200, json=CLASSES),
        }
    )


def page(*results: Any, next: Any = None) -> httpx.Response:
    return httpx.Response(200, json={"next": next, "previous": None, "results": list(results)})


def read(vendor: FakeVendor, *fields: str) -> list[str]:
    reader = contacts(vendor)
    return [c.id for b in reader.read_contacts(ContactQuery(fields)).batches for c in b]


def skips(vendor: FakeVendor, *fields: str) -> tuple[list[str], dict[str, int]]:
    reader = contacts(vendor)
    with structlog.testing.capture_logs() as logs:
        got = [c.id for b in reader.read_contacts(ContactQuery(fields)).batches for c in b]
    assert SECRET not in repr(logs) and HUGE[:100] not in repr(logs)
    return got, dict(reader.skipped)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"remote_id": "x' OR Id != '"}, "invalid_remote_id"),
        ({"remote_id": "0" * 10_240}, "invalid_remote_id"),
        ({"remote_id": "003000000000001AA"}, "invalid_remote_id"),  # 17 characters
        ({"remote_id": 3000000000000001}, "invalid_remote_id"),
        ({"remote_id": "003000000000001AAA\n"}, "invalid_remote_id"),
        ({"remote_id": ""}, "no_remote_id"),
        ({"email_addresses": SECRET}, "malformed_row"),
        ({"email_addresses": 7}, "malformed_row"),
        ({"email_addresses": [{"email_address": 42}]}, "malformed_row"),
        ({"remote_was_deleted": "false"}, "malformed_row"),
        ({"remote_was_deleted": 1}, "malformed_row"),
        ({"modified_at": "yesterday at noon"}, "malformed_row"),
        ({"modified_at": 1767323045}, "malformed_row"),
        ({"modified_at": "9999-12-31T23:59:59-14:00"}, "malformed_row"),
        ({"modified_at": "2026-01-02T03:04:05" + "0" * 100 + "Z"}, "malformed_row"),
        ({"first_name": {"given": SECRET}}, "malformed_row"),
        ({"last_name": ["Quartermaine"]}, "malformed_row"),
        ({"first_name": HUGE}, "value_too_long"),
        ({"email_addresses": [{"email_address": HUGE + "@x.example"}]}, "value_too_long"),
        ({"first_name": "Zebu\x00lon"}, "invalid_characters"),
        ({"last_name": "Quarter\x1bmaine"}, "invalid_characters"),
        ({"email_addresses": [{"email_address": "zq\x00@hidden.example"}]}, "invalid_characters"),
    ],
)
def test_a_bad_row_is_skipped_and_counted_by_reason(bad: dict[str, Any], reason: str) -> None:
    fields = {"remote_id": GOOD, **bad}
    vendor = vendor_answering(page(row(**fields), row("003000000000002BBB")))
    assert skips(vendor) == (["003000000000002BBB"], {reason: 1})


@pytest.mark.parametrize(
    ("remote_fields", "reason"),
    [
        ([remote_field("Department", HUGE)], "value_too_long"),
        ([remote_field("Department", "Sales\x00")], "invalid_characters"),
        ([remote_field("Hobbies__c", ["Chess", "G\x00o"], "list")], "invalid_characters"),
        ([remote_field("Shape__c", {"k\x00": 1}, "object")], "invalid_characters"),
        ([remote_field("Shape__c", [[[[[[[[["deep"]]]]]]]]], "object")], "malformed_row"),
        ({"Department": "Sales"}, "malformed_row"),
    ],
)
def test_a_bad_field_value_asked_for_skips_its_row(remote_fields: Any, reason: str) -> None:
    bad = row(GOOD, remote_fields=remote_fields)
    fine = row("003000000000002BBB", remote_fields=[remote_field("Department", "Sales")])
    asked = ("Department", "Hobbies__c", "Shape__c")
    assert skips(vendor_answering(page(bad, fine)), *asked) == (
        ["003000000000002BBB"],
        {reason: 1},
    )


def test_a_bad_value_in_a_field_not_asked_for_is_not_read() -> None:
    extra = [remote_field("Department", HUGE + "\x00")]
    assert skips(vendor_answering(page(row(GOOD, remote_fields=extra)))) == ([GOOD], {})


def test_malformed_remote_field_items_are_ignored() -> None:
    items = [
        "Department",
        None,
        {"remote_field_class": "Department", "value": "x"},
        {"remote_field_class": {"remote_key_name": 5}, "value": "x"},
        {"value": "x"},
        remote_field("Department", "Sales"),
    ]
    reader = contacts(vendor_answering(page(row(GOOD, remote_fields=items))))
    [[contact]] = reader.read_contacts(ContactQuery(("Department",))).batches
    assert contact.fields == {"Department": "Sales"} and not reader.skipped


def test_results_that_are_not_objects_are_counted() -> None:
    vendor = vendor_answering(page(None, 7, SECRET, [row(GOOD)], row("003000000000002BBB")))
    assert skips(vendor) == (["003000000000002BBB"], {"malformed_row": 4})


@pytest.mark.parametrize("stamp", ["2026-01-02T03:04:05", "2026-01-02T05:04:05+02:00"])
def test_modified_at_is_read_in_utc(stamp: str) -> None:
    reader = contacts(vendor_answering(page(row(GOOD, stamp))))
    [[contact]] = reader.read_contacts(ContactQuery(())).batches
    assert contact.system_modstamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert contact.system_modstamp.tzinfo is UTC


def failure(vendor: FakeVendor) -> PermanentFailure | TransientFailure:
    with pytest.raises((PermanentFailure, TransientFailure)) as err:
        read(vendor)
    text = str(err.value)
    assert SECRET not in text and "Quartermaine" not in text and len(text) < 300
    return err.value


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=f"<html>{SECRET}</html>".encode()),
        httpx.Response(200, content=b'{"results": [{"remote_id": '),
        httpx.Response(200, json=[row(GOOD)]),
        httpx.Response(200, json=SECRET),
    ],
)
def test_an_answer_that_is_no_json_object_is_transient(answer: httpx.Response) -> None:
    err = failure(vendor_answering(answer))
    assert isinstance(err, TransientFailure) and err.code == "vendor_bad_response"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"next": None, "results": {"0": row(GOOD)}}),
        httpx.Response(200, json={"next": None}),
        page(*[row(GOOD)] * 101),  # the page size asked for is 100
        page(row(GOOD), next=7),
        page(row(GOOD), next=["c"]),
        page(row(GOOD), next="c" * 5000),
    ],
)
def test_a_page_of_another_shape_is_a_permanent_failure(answer: httpx.Response) -> None:
    err = failure(vendor_answering(answer))
    assert isinstance(err, PermanentFailure) and err.code == "vendor_bad_page"


@pytest.mark.parametrize("cycle", [["same"], ["a", "b", "c"]])
def test_a_cursor_that_comes_back_stops_the_read(cycle: list[str]) -> None:
    def looping(request: httpx.Request) -> httpx.Response:
        at = request.url.params.get("cursor")
        nxt = cycle[(cycle.index(at) + 1) % len(cycle)] if at else cycle[0]
        return page(row(GOOD), next=nxt)

    vendor = FakeVendor({"/contacts": looping, "/contacts/remote-field-classes": page()})
    err = failure(vendor)
    assert isinstance(err, PermanentFailure) and err.code == "vendor_cursor_loop"
    assert len([p for p in vendor.paths() if p == "/contacts"]) == len(cycle) + 1


def test_find_by_email_ignores_rows_without_a_salesforce_id() -> None:
    listed = [{"email_address": SECRET}]
    rows = [
        row("x' OR Id != '", email_addresses=listed),
        row(GOOD, email_addresses=listed),
        row("003000000000002BBB", email_addresses=SECRET),
        "not a row",
    ]
    assert contacts(vendor_answering(page(*rows))).find_contact_ids_by_email(SECRET) == [GOOD]


def test_a_garbled_sync_status_counts_as_never_synced() -> None:
    model = {"model_name": "Contact", "last_sync_finished": "soon", "last_sync_start": 5}
    vendor = FakeVendor({"/sync-status": page("junk", model)})
    status = contacts(vendor).status()
    assert status.last_sync_finished is None and status.last_sync_started is None


def test_malformed_field_classes_are_left_out() -> None:
    classes = [
        "Department",
        {"remote_key_name": "x' OR 1=1", "field_type": "string"},
        {"remote_key_name": HUGE, "field_type": "string"},
        {"remote_key_name": "Salutation", "field_type": "string", "field_choices": 7},
        {"remote_key_name": "Hobbies__c", "field_type": "list", "item_schema": {"item_choices": 3}},
        {"remote_key_name": "Tier__c", "field_type": "string", "field_choices": [{"value": 1}]},
    ]
    vendor = FakeVendor({"/contacts/remote-field-classes": page(*classes)})
    schema = contacts(vendor).describe_contact()
    extra = {
        n: (f.type, f.picklist_values) for n, f in schema.fields.items() if "_" in n or n[0] == "S"
    }
    assert extra == {
        "Salutation": (FieldType.STRING, ()),
        "Hobbies__c": (FieldType.MULTIPICKLIST, ()),
        "Tier__c": (FieldType.PICKLIST, ()),
        "SystemModstamp": (FieldType.DATETIME, ()),
    }


def gzipped(body: dict[str, Any]) -> httpx.Response:
    data = gzip.compress(json.dumps(body).encode())
    return httpx.Response(200, content=data, headers={"Content-Encoding": "gzip"})


def test_a_body_over_the_limit_is_refused_decoded_size_counted() -> None:
    bomb = {"next": None, "results": [row(GOOD, first_name="Q" * 200_000)]}
    for answer in (httpx.Response(200, json=bomb), gzipped(bomb)):
        reader = contacts(vendor_answering(answer), max_body_bytes=100_000)
        with pytest.raises(PermanentFailure) as err:
            list(reader.read_contacts(ContactQuery(())).batches)
        assert err.value.code == "vendor_bad_page" and "Q" * 10 not in str(err.value)


def test_a_compressed_body_under_the_limit_is_read() -> None:
    vendor = vendor_answering(gzipped({"next": None, "results": [row(GOOD)]}))
    assert read(vendor) == [GOOD]
