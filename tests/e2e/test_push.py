"""Push (scope export, and full) through RabbitMQ and a real worker, into the emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sfsync.domain.model import AttributeMapping, MappingDirection
from sfsync.services.accounts import add_attribute

pytestmark = pytest.mark.integration

EXPORT, TWO_WAY, IMPORT = MappingDirection.EXPORT, MappingDirection.TWO_WAY, MappingDirection.IMPORT

# attribute -> (Contact field, the candidate's stored value)
EVERY_TYPE: dict[str, tuple[str, Any]] = {
    "nickname_c": ("Nickname__c", 'Ada 🚀 "quoted"'),
    "age_c": ("Age__c", 41),
    "completion_c": ("Completion__c", 12.5),
    "donation_c": ("Donation__c", 1234.56),
    "newsletter_c": ("Newsletter__c", True),
    "signup_date_c": ("Signup_Date__c", "2024-02-29"),
    "last_seen_c": ("Last_Seen__c", "2024-03-01T23:30:00+00:00"),
    "favorite_color_c": ("Favorite_Color__c", "Purple"),
    "hobbies_c": ("Hobbies__c", ["Reading", "Chess"]),  # the picklist's order: canonical
    "notes_c": ("Notes__c", "line one\nline two"),
}


def mapped(harness, name: str, field: str, direction: MappingDirection) -> None:
    add_attribute(
        harness.container.uow(), harness.account, AttributeMapping(name, field, direction)
    )


def linked(harness, *emails: str, **fields) -> list[str]:
    """Contacts imported as candidates (then the push may write to them)."""
    ids = [harness.emu.admin.create_contact(Email=e, LastName="Doe", **fields) for e in emails]
    assert harness.sync()["status"] == "succeeded"
    return ids


def set_attributes(harness, email: str, **values: Any) -> None:
    """Another service changes a candidate (the trigger times the change)."""
    with harness.container.pool.connection() as conn:
        conn.execute(
            "UPDATE candidates SET attributes = attributes || %s::jsonb"
            " WHERE account_id = %s AND email_key = %s",
            (json.dumps(values), harness.account, email),
        )


def set_unsubscribed(harness, email: str) -> None:
    with harness.container.pool.connection() as conn:
        conn.execute(
            "UPDATE candidates SET unsubscribed = true WHERE account_id = %s AND email_key = %s",
            (harness.account, email),
        )


def push(harness, **fields) -> dict[str, Any]:
    return harness.sync(scope="export", **fields)


def write_calls(harness) -> list[dict[str, Any]]:
    return [
        r
        for r in harness.emu.admin.requests()
        if r["method"] in ("PATCH", "POST", "PUT") and "/services/data/" in r["path"]
    ]


def attributes(harness, email: str) -> dict[str, Any]:
    return next(row[2] for row in harness.candidates() if row[0] == email)


def test_every_field_type_is_pushed_and_read_back_unchanged(harness):
    harness.configure(push_enabled=True)
    for name, (field, _) in EVERY_TYPE.items():
        mapped(harness, name, field, EXPORT)
    (contact_id,) = linked(harness, "ada@example.com")
    set_attributes(harness, "ada@example.com", **{n: v for n, (_, v) in EVERY_TYPE.items()})
    event = push(harness)
    assert (event["status"], event["counts"]["pushed"]) == ("succeeded", 1), event
    held = harness.emu.admin.get_contact(contact_id)
    assert held["Signup_Date__c"] == "2024-02-29"
    assert held["Hobbies__c"] == "Reading;Chess"
    for name, (field, _) in EVERY_TYPE.items():  # now read them back
        mapped(harness, name, field, IMPORT)
    before = attributes(harness, "ada@example.com")
    assert harness.sync(full_resync=True)["status"] == "succeeded"
    assert attributes(harness, "ada@example.com") == before


def test_refused_fields_and_misfits_are_named_and_the_rest_goes(harness):
    harness.configure(push_enabled=True)
    harness.emu.admin.set_field_security(read_only=["Nickname__c"])
    mapped(harness, "nickname_c", "Nickname__c", EXPORT)
    mapped(harness, "shoe_c", "Shoe_Size__c", EXPORT)
    mapped(harness, "favorite_color_c", "Favorite_Color__c", EXPORT)
    mapped(harness, "age_c", "Age__c", EXPORT)
    bad, good = linked(harness, "bad@example.com", "good@example.com")
    set_attributes(harness, "bad@example.com", favorite_color_c="Ultraviolet", age_c=30)
    set_attributes(harness, "good@example.com", favorite_color_c="Red", nickname_c="X")
    event = push(harness)
    errors = {(e["code"], e["message"], e["salesforce_id"]) for e in event["errors"]}
    assert errors == {
        ("field_not_updateable", "Nickname__c: not pushed (field_not_updateable)", None),
        ("field_missing", "Shoe_Size__c: not pushed (field_missing)", None),
        ("not_in_picklist", "Favorite_Color__c: the value does not fit the field", bad),
    }
    assert "Ultraviolet" not in json.dumps(event)
    assert event["status"] == "partial" and event["counts"]["pushed"] == 2
    assert harness.emu.admin.get_contact(bad)["Age__c"] == 30
    assert harness.emu.admin.get_contact(good)["Favorite_Color__c"] == "Red"


def test_a_candidate_not_from_salesforce_is_left_alone(harness):
    harness.configure(push_enabled=True)
    mapped(harness, "favorite_color_c", "Favorite_Color__c", EXPORT)
    with harness.container.pool.connection() as conn:
        conn.execute(
            "INSERT INTO candidates (id, account_id, email, email_key, attributes)"
            " VALUES ('cand_local', %s, 'local@example.com', 'local@example.com', %s)",
            (harness.account, json.dumps({"favorite_color_c": "Red"})),
        )
    harness.emu.admin.clear_requests()
    event = push(harness)
    assert event["status"] == "succeeded" and event["counts"]["pushed"] == 0
    assert write_calls(harness) == []
    assert harness.emu.admin.state()["contacts"] == 0


@pytest.mark.parametrize(
    ("settings", "code"),
    [({"push_enabled": False}, "push_disabled"), ({"direct_api": False}, "not_direct_mode")],
)
def test_a_push_the_account_may_not_make_ends_failed_with_its_reason(harness, settings, code):
    harness.configure(**settings)
    harness.emu.admin.clear_requests()
    event = push(harness)
    assert event["status"] == "failed" and [e["code"] for e in event["errors"]] == [code]
    assert [r for r in harness.emu.admin.requests() if "/services/data/" in r["path"]] == []


def test_an_unsubscribe_is_pushed_and_sticky(harness):
    harness.configure(push_enabled=True)
    (contact_id,) = linked(harness, "ada@example.com")
    set_unsubscribed(harness, "ada@example.com")
    assert push(harness)["counts"]["pushed"] == 1
    assert harness.emu.admin.get_contact(contact_id)["HasOptedOutOfEmail"] is True
    harness.emu.admin.update_contact(contact_id, HasOptedOutOfEmail=False)
    harness.sync()  # Salesforce's false never re-subscribes
    assert all(row[3] for row in harness.candidates())
    with harness.container.pool.connection() as conn:
        sources = conn.execute(
            "SELECT source, unsubscribed FROM consent_changes WHERE account_id = %s",
            (harness.account,),
        ).fetchall()
    assert sources == [("sfsync", True)]


def consent_rows(harness) -> list[tuple[str, bool]]:
    with harness.container.pool.connection() as conn:
        return conn.execute(
            "SELECT source, unsubscribed FROM consent_changes WHERE account_id = %s ORDER BY id",
            (harness.account,),
        ).fetchall()


def test_an_opt_out_in_salesforce_is_imported_sticky_and_never_pushed_back_as_false(harness):
    harness.configure(push_enabled=True)
    contact_id, _ = linked(harness, "ada@example.com", "bob@example.com")
    harness.emu.admin.update_contact(contact_id, HasOptedOutOfEmail=True)
    event = harness.sync()
    assert (event["counts"]["seen"], event["counts"]["unsubscribed"]) == (1, 1), event
    assert [row[3] for row in harness.candidates()] == [True, False]
    assert consent_rows(harness) == [("salesforce", True)]
    harness.emu.admin.update_contact(contact_id, HasOptedOutOfEmail=False)
    assert harness.sync()["counts"]["unsubscribed"] == 0  # a false re-subscribes no one
    assert [row[3] for row in harness.candidates()] == [True, False]
    assert consent_rows(harness)[0] == ("salesforce", True)
    assert push(harness)["status"] == "succeeded"
    assert harness.emu.admin.get_contact(contact_id)["HasOptedOutOfEmail"] is True


def test_a_two_way_conflict_is_counted_and_the_later_side_wins(harness):
    harness.configure(push_enabled=True)
    mapped(harness, "nickname_c", "Nickname__c", TWO_WAY)
    (contact_id,) = linked(harness, "ada@example.com", Nickname__c="Ada")
    assert push(harness)["counts"]["pushed"] == 0  # both hold "Ada"
    set_attributes(harness, "ada@example.com", nickname_c="Candidate's")
    harness.emu.admin.update_contact(contact_id, Nickname__c="Salesforce's")  # later
    event = push(harness)
    assert event["counts"]["push_conflicts"] == 1 and event["counts"]["pushed"] == 0
    assert attributes(harness, "ada@example.com")["nickname_c"] == "Salesforce's"


def test_record_failures_are_kept_reported_and_retried_next_run(harness):
    harness.configure(push_enabled=True)
    mapped(harness, "favorite_color_c", "Favorite_Color__c", EXPORT)
    locked, other = linked(harness, "locked@example.com", "other@example.com")
    for email in ("locked@example.com", "other@example.com"):
        set_attributes(harness, email, favorite_color_c="Green")
    harness.emu.admin.add_fault(lock=True, count=-1, record_ids=[locked])  # until cleared
    event = push(harness)
    harness.emu.admin.clear_faults()
    assert event["status"] == "partial"
    assert (event["counts"]["pushed"], event["counts"]["push_failed"]) == (1, 1)
    assert [(e["code"], e["salesforce_id"]) for e in event["errors"]] == [
        ("UNABLE_TO_LOCK_ROW", locked)
    ]
    with harness.container.pool.connection() as conn:
        (kept,) = conn.execute(
            "SELECT error_code, retryable FROM push_failures WHERE account_id = %s",
            (harness.account,),
        ).fetchall()
    assert kept == ("UNABLE_TO_LOCK_ROW", True)
    again = push(harness)
    assert (again["status"], again["counts"]["pushed"]) == ("succeeded", 1)
    assert harness.emu.admin.get_contact(locked)["Favorite_Color__c"] == "Green"


def test_a_lock_is_retried_on_its_own_in_the_same_run(harness):
    harness.configure(push_enabled=True)
    mapped(harness, "favorite_color_c", "Favorite_Color__c", EXPORT)
    locked, _ = linked(harness, "locked@example.com", "other@example.com")
    for email in ("locked@example.com", "other@example.com"):
        set_attributes(harness, email, favorite_color_c="Green")
    harness.emu.admin.add_fault(lock=True, count=5, record_ids=[locked])  # the adapter's 5
    harness.emu.admin.clear_requests()
    event = push(harness)
    # the page's call and the adapter's 4 retries, then the record on its own
    assert len(write_calls(harness)) == 6
    assert (event["status"], event["counts"]["pushed"]) == ("succeeded", 2)
    assert harness.emu.admin.get_contact(locked)["Favorite_Color__c"] == "Green"


def test_a_second_push_with_nothing_changed_makes_no_write_call(harness):
    harness.configure(push_enabled=True)
    mapped(harness, "favorite_color_c", "Favorite_Color__c", EXPORT)
    linked(harness, "a@example.com", "b@example.com")
    set_attributes(harness, "a@example.com", favorite_color_c="Blue")
    assert push(harness)["counts"]["pushed"] == 1
    harness.emu.admin.clear_requests()
    event = push(harness)
    assert event["counts"]["pushed"] == 0 and write_calls(harness) == []


def test_faults_mid_push_end_with_every_change_delivered_once(harness):
    harness.configure(push_enabled=True)
    mapped(harness, "favorite_color_c", "Favorite_Color__c", EXPORT)
    emails = [f"p{i}@example.com" for i in range(5)]
    ids = linked(harness, *emails)
    for email in emails:
        set_attributes(harness, email, favorite_color_c="Orange")
    harness.emu.admin.add_fault(status=503, count=2, path="/composite")
    harness.emu.admin.expire_tokens()
    harness.emu.admin.clear_requests()
    event = push(harness)
    assert (event["status"], event["counts"]["pushed"]) == ("succeeded", 5)
    assert all(harness.emu.admin.get_contact(i)["Favorite_Color__c"] == "Orange" for i in ids)
    applied = [r for r in write_calls(harness) if r["status"] == 200]
    assert len(applied) == 1  # one Collections call went through, once
    assert push(harness)["counts"]["pushed"] == 0


def test_full_imports_then_pushes_in_one_run(harness):
    harness.configure(push_enabled=True)
    mapped(harness, "favorite_color_c", "Favorite_Color__c", EXPORT)
    (contact_id,) = linked(harness, "ada@example.com")
    set_attributes(harness, "ada@example.com", favorite_color_c="Yellow")
    harness.emu.admin.create_contact(Email="new@example.com", LastName="New")
    event = harness.sync(scope="full")
    assert event["scope"] == "full" and event["status"] == "succeeded"
    assert (event["counts"]["created"], event["counts"]["pushed"]) == (1, 1)
    assert harness.emu.admin.get_contact(contact_id)["Favorite_Color__c"] == "Yellow"


def test_changed_at_is_kept_by_the_database(harness):
    linked(harness, "ada@example.com")
    before = datetime.now(UTC) - timedelta(seconds=5)
    set_attributes(harness, "ada@example.com", x=1)
    with harness.container.pool.connection() as conn:
        (changed,) = conn.execute(
            "SELECT attributes_changed_at FROM candidates WHERE account_id = %s",
            (harness.account,),
        ).fetchone()
    assert datetime.fromisoformat(changed["x"]) >= before
