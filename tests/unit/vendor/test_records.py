"""A vendor Contact as a domain Contact: ids, emails, names, deletes, typed field values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sfsync.adapters.vendor.records import RowRefused, contact_from_vendor, wire_value
from sfsync.domain.coercion import from_salesforce
from sfsync.domain.model import FieldInfo, FieldType
from tests.unit.vendor.scripted_vendor import remote_field, row

TYPES = {
    "Department": FieldType.STRING,
    "HasOptedOutOfEmail": FieldType.BOOLEAN,
    "Shoe_Size__c": FieldType.DOUBLE,
    "Hobbies__c": FieldType.MULTIPICKLIST,
    "Birthdate": FieldType.DATE,
}


def test_base_values_come_from_the_common_model() -> None:
    contact = contact_from_vendor(
        row("003000000000000001", "2026-03-04T05:06:07.890Z", first_name="Ada", last_name="Byron"),
        (),
        TYPES,
    )
    assert contact is not None
    assert contact.id == "003000000000000001"
    assert (contact.first_name, contact.last_name, contact.name) == ("Ada", "Byron", "Ada Byron")
    assert contact.email == "003000000000000001@example.org"
    assert contact.system_modstamp == datetime(2026, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
    assert contact.is_deleted is False and contact.fields == {}


def test_the_name_is_made_of_the_parts_there_are() -> None:
    only_last = contact_from_vendor(
        row("00300000000000A", first_name=None, last_name="Byron"), (), TYPES
    )
    neither = contact_from_vendor(row("00300000000000B", first_name="", last_name=None), (), TYPES)
    assert only_last is not None and only_last.name == "Byron"
    assert neither is not None and neither.name is None and neither.first_name is None


def test_the_email_is_the_first_non_empty_address() -> None:
    addresses = [
        {"email_address": "", "email_address_type": "WORK"},
        {"email_address": None},
        {"email_address": "second@example.org"},
        {"email_address": "third@example.org"},
    ]
    contact = contact_from_vendor(row("00300000000000A", email_addresses=addresses), (), TYPES)
    none = contact_from_vendor(row("00300000000000B", email_addresses=[]), (), TYPES)
    assert contact is not None and contact.email == "second@example.org"
    assert none is not None and none.email is None


def test_a_deleted_row_is_flagged() -> None:
    contact = contact_from_vendor(row("00300000000000A", remote_was_deleted=True), (), TYPES)
    assert contact is not None and contact.is_deleted


@pytest.mark.parametrize("remote_id", [None, ""])
def test_a_row_without_a_remote_id_is_not_a_contact(remote_id: str | None) -> None:
    with pytest.raises(RowRefused) as refused:
        contact_from_vendor(row(remote_id), (), TYPES)
    assert refused.value.reason == "no_remote_id"


def test_field_mappings_beat_remote_fields_and_remote_data_is_never_read() -> None:
    mappings = {
        "organization_defined_targets": {"Department": "From the organisation"},
        "linked_account_defined_targets": {"Department": "From the link", "Title": "Link only"},
    }
    remote = [
        remote_field("Department", "From remote fields"),
        remote_field("Title", "Remote title"),
        remote_field("Level__c", "Remote level"),
    ]
    stale = [{"path": "/sobjects/Contact", "data": {"Level__c": "Stale", "Fax": "Stale fax"}}]
    contact = contact_from_vendor(
        row("00300000000000A", field_mappings=mappings, remote_fields=remote, remote_data=stale),
        ("Department", "Title", "Level__c", "Fax"),
        TYPES,
    )
    assert contact is not None
    assert contact.fields == {
        "Department": "From the organisation",
        "Title": "Link only",
        "Level__c": "Remote level",
    }  # Fax: in remote_data only, so not read


def test_a_field_carried_empty_is_none_and_one_not_asked_is_left_out() -> None:
    remote = [remote_field("Department", None), remote_field("Title", "Dr")]
    contact = contact_from_vendor(
        row("00300000000000A", remote_fields=remote), ("Department",), TYPES
    )
    assert contact is not None and contact.fields == {"Department": None}


def test_values_take_the_rest_wire_form_of_their_type() -> None:
    remote = [
        remote_field("HasOptedOutOfEmail", "true", "bool"),
        remote_field("Shoe_Size__c", "42.5", "number"),
        remote_field("Hobbies__c", ["Chess", "Go"], "list"),
        remote_field("Birthdate", "1990-05-17", "date"),
    ]
    asked = ("HasOptedOutOfEmail", "Shoe_Size__c", "Hobbies__c", "Birthdate")
    contact = contact_from_vendor(row("00300000000000A", remote_fields=remote), asked, TYPES)
    assert contact is not None
    assert contact.fields == {
        "HasOptedOutOfEmail": True,
        "Shoe_Size__c": 42.5,
        "Hobbies__c": "Chess;Go",
        "Birthdate": "1990-05-17",
    }
    hobbies = FieldInfo("Hobbies__c", FieldType.MULTIPICKLIST)
    assert from_salesforce(hobbies, contact.fields["Hobbies__c"]) == ["Chess", "Go"]


def test_wire_values_already_in_form_pass_unchanged() -> None:
    assert wire_value(False, FieldType.BOOLEAN) is False
    assert wire_value(3, FieldType.DOUBLE) == 3
    assert wire_value("7", FieldType.INT) == 7 and isinstance(wire_value("7", FieldType.INT), int)
    assert wire_value("Chess;Go", FieldType.MULTIPICKLIST) == "Chess;Go"
    assert wire_value("not a number", FieldType.DOUBLE) == "not a number"  # coercion refuses
    assert wire_value("maybe", FieldType.BOOLEAN) == "maybe"
    assert wire_value(None, FieldType.BOOLEAN) is None
