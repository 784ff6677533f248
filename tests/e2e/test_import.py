"""Imports through RabbitMQ and a real worker, from the emulator into Postgres."""

from __future__ import annotations

import time

import pytest
import structlog

from tests.e2e.conftest import body

pytestmark = pytest.mark.integration


def seed(harness, n: int, **fields) -> list[str]:
    return [
        harness.emu.admin.create_contact(Email=f"person{i}@example.com", LastName=f"P{i}", **fields)
        for i in range(n)
    ]


def test_full_then_incremental_import(harness):
    seed(harness, 30)
    first = harness.sync()
    assert first["status"] == "succeeded"
    assert first["counts"]["created"] == 30
    assert len(harness.candidates()) == 30
    harness.emu.admin.create_contact(Email="late@example.com", LastName="Late")
    harness.emu.admin.clear_requests()
    second = harness.sync()
    assert second["counts"]["created"] == 1
    soql = harness.soql_received()
    assert soql and all("SystemModstamp >" in q or "SystemModstamp >=" in q for q in soql)


def test_incremental_run_with_nothing_changed_costs_few_calls(harness):
    seed(harness, 10)
    harness.sync()
    harness.emu.admin.clear_requests()
    event = harness.sync()
    assert event["counts"]["created"] == event["counts"]["updated"] == 0
    data_calls = [r for r in harness.emu.admin.requests() if "/services/data/" in r["path"]]
    assert len(data_calls) <= 3


def test_direct_mode_reads_only_base_sync_and_mapped_fields(harness):
    harness.map("favorite_color_c", "Favorite_Color__c")
    seed(harness, 3, Favorite_Color__c="Blue")
    harness.sync()
    (soql,) = harness.soql_received()
    selected = soql.split("FROM")[0].replace("SELECT", "").replace(" ", "").split(",")
    assert selected == [
        "Id",
        "Email",
        "FirstName",
        "LastName",
        "Name",
        "IsDeleted",
        "SystemModstamp",
        "gq_import__c",
        "is_deleted__c",
        "HasOptedOutOfEmail",
        "Favorite_Color__c",
    ]


def test_filter_on_imports_only_tagged_contacts(harness):
    harness.configure(only_import_tagged=True)
    harness.emu.admin.create_contact(Email="in@example.com", LastName="In", gq_import__c=True)
    harness.emu.admin.create_contact(Email="out@example.com", LastName="Out", gq_import__c=False)
    event = harness.sync()
    assert [row[0] for row in harness.candidates()] == ["in@example.com"]
    assert event["counts"]["created"] == 1


def test_filter_off_imports_everyone_with_an_email(harness):
    harness.emu.admin.create_contact(Email="in@example.com", LastName="In", gq_import__c=True)
    harness.emu.admin.create_contact(Email="out@example.com", LastName="Out", gq_import__c=False)
    harness.emu.admin.create_contact(LastName="NoEmail")
    event = harness.sync()
    assert len(harness.candidates()) == 2
    assert event["counts"]["skipped"] == {"no_email": 1}


@pytest.mark.parametrize("source", ["checkbox", "salesforce_delete", "hard_delete"])
@pytest.mark.parametrize("behaviour", ["keep", "delete", "unsubscribe"])
def test_deletion_behaviour(harness, behaviour, source):
    harness.configure(deletion_behaviour=behaviour)
    gone, stays = seed(harness, 2)
    harness.sync()
    if source == "checkbox":
        harness.emu.admin.update_contact(gone, is_deleted__c=True)
    else:
        # getDeleted counts whole minutes: a delete from this very minute shows up in a
        # later run, so the test backdates it by two minutes.
        harness.emu.admin.delete_contact(
            gone, hard=source == "hard_delete", deleted_ms=int((time.time() - 120) * 1000)
        )
    harness.sync()
    rows = {row[1]: row for row in harness.candidates()}
    assert stays in rows and not rows[stays][3]
    if behaviour == "delete":
        assert gone not in rows
    else:
        assert gone in rows
        assert rows[gone][3] is (behaviour == "unsubscribe")


def test_flagged_contact_never_imported_creates_nothing(harness):
    harness.configure(deletion_behaviour="delete")
    harness.emu.admin.create_contact(Email="x@example.com", LastName="X", is_deleted__c=True)
    event = harness.sync()
    assert harness.candidates() == []
    assert event["counts"]["skipped"] == {"flagged_deleted_never_imported": 1}


FIELD_VALUES = {
    "Favorite_Color__c": ("favorite_color_c", "Green", "Green"),
    "Hobbies__c": ("hobbies_c", "Chess;Running", ["Chess", "Running"]),
    "Age__c": ("age_c", 41, 41),
    "Score__c": ("score_c", 12.5, 12.5),
    "Donation__c": ("donation_c", 250.0, 250.0),
    "Completion__c": ("completion_c", 80.0, 80.0),
    "Signup_Date__c": ("signup_date_c", "2024-02-29", "2024-02-29"),
    "Last_Seen__c": ("last_seen_c", "2024-03-01T12:30:00.000+0000", "2024-03-01T12:30:00+00:00"),
    "Newsletter__c": ("newsletter_c", True, True),
    "Notes__c": ("notes_c", "line one\nline 'two'", "line one\nline 'two'"),
    "Alt_Email__c": ("alt_email_c", "alt@example.net", "alt@example.net"),
    "Work_Phone__c": ("work_phone_c", "+49 30 1234567", "+49 30 1234567"),
    "Website__c": ("website_c", "https://example.org/~a", "https://example.org/~a"),
    "Nickname__c": ("nickname_c", "Zoë", "Zoë"),
    "MailingCity": ("mailing_city", "München", "München"),
}


def test_attribute_values_of_every_field_type(harness):
    for field, (name, _, _) in FIELD_VALUES.items():
        harness.map(name, field)
    values = {field: wire for field, (_, wire, _) in FIELD_VALUES.items()}
    referrer = harness.emu.admin.create_contact(Email="ref@example.com", LastName="Ref")
    harness.map("referred_by_c", "Referred_By__c")
    harness.emu.admin.create_contact(
        Email="typed@example.com", LastName="Typed", Referred_By__c=referrer, **values
    )
    event = harness.sync()
    assert event["status"] == "succeeded", event["errors"]
    row = next(r for r in harness.candidates() if r[0] == "typed@example.com")
    expected = {name: stored for _, (name, _, stored) in FIELD_VALUES.items()}
    expected["referred_by_c"] = referrer
    assert row[2] == expected


def test_duplicate_emails_become_one_candidate_and_are_reported(harness):
    harness.emu.admin.create_contact(Email="twin@example.com", LastName="Old")
    newer = harness.emu.admin.create_contact(Email="TWIN@example.com", LastName="New")
    event = harness.sync()
    (row,) = harness.candidates()
    assert row[1] == newer
    assert event["counts"]["skipped"] == {"duplicate_email": 1}


def test_a_candidate_who_signed_up_first_is_linked(harness):
    from sfsync.domain.model import Candidate

    with harness.container.uow() as uow:
        uow.candidates.add(
            Candidate(
                "cand_signup_" + harness.account,
                harness.account,
                "ada@example.com",
                first_name="Ada",
            )
        )
        uow.commit()
    contact = harness.emu.admin.create_contact(Email="Ada@Example.com", LastName="Lovelace")
    event = harness.sync()
    (row,) = harness.candidates()
    assert row[1] == contact and event["counts"]["created"] == 0


def test_single_candidate_sync_reads_one_contact_by_id(harness):
    harness.map("favorite_color_c", "Favorite_Color__c")
    one, _ = seed(harness, 2, Favorite_Color__c="Red")
    harness.sync()
    harness.emu.admin.update_contact(one, Favorite_Color__c="Blue")
    with harness.container.uow() as uow:
        candidate = uow.candidates.get_by_salesforce_id(harness.account, one)
    harness.emu.admin.clear_requests()
    event = harness.sync(candidate_id=candidate.id, trigger="candidate_page")
    assert event["scope"] == "candidate" and event["counts"]["updated"] == 1
    (soql,) = harness.soql_received()
    assert f"Id IN ('{one}')" in soql


def test_the_same_request_twice_is_one_run(harness):
    seed(harness, 3)
    message = harness.request()
    first = harness.listener.next_for(message["id"], wait=60)
    harness.publish_raw(body(message))
    again = harness.listener.next_for(message["id"], wait=60)
    assert again["run_id"] == first["run_id"]
    with harness.container.pool.connection() as conn:
        runs = conn.execute(
            "SELECT count(*) FROM sync_runs WHERE request_id = %s", (message["id"],)
        ).fetchone()
    assert runs == (1,)


def test_bulk_read_for_a_large_import(harness):
    harness.emu.admin.reset(contacts=5000)
    event = harness.sync(timeout=180)
    assert event["status"] == "succeeded"
    assert event["counts"]["seen"] == 5000
    assert any("/jobs/query" in r["path"] for r in harness.emu.admin.requests())


def test_a_run_logs_its_start_each_committed_page_and_its_end_with_its_ids(harness):
    harness.emu.admin.reset(contacts=2500)  # REST pages of 2,000 and 500
    with structlog.testing.capture_logs() as logs:
        event = harness.sync(timeout=180)
    lines = [e for e in logs if e.get("account_id") == harness.account]
    assert [e["event"] for e in lines] == ["run.started", "run.page", "run.page", "run.finished"]
    ids = {(e["run_id"], e["request_id"]) for e in lines}
    assert ids == {(event["run_id"], event["request_id"])}
    started, *pages, finished = lines
    assert (started["scope"], started["resumed"]) == ("import", False)
    assert [(p["mode"], p["counts"]["seen"], p["totals"]["seen"]) for p in pages] == [
        ("full", 2000, 2000),
        ("full", 500, 2500),
    ]
    assert finished["status"] == event["status"] == "succeeded" and finished["error"] is None
    assert finished["totals"] == pages[-1]["totals"]
    assert finished["totals"]["created"] == event["counts"]["created"]


def test_full_resync_reconciles_contacts_gone_past_the_recycle_bin(harness):
    harness.configure(deletion_behaviour="delete")
    gone, stays = seed(harness, 2)
    harness.sync()
    # Purged three weeks ago: getDeleted no longer lists it, queryAll never will.
    harness.emu.admin.delete_contact(
        gone, hard=True, deleted_ms=int((time.time() - 21 * 86400) * 1000)
    )
    harness.emu.admin.clear_requests()
    event = harness.sync(full_resync=True)
    assert event["counts"]["reconcile_gone"] == 1 and event["counts"]["deleted"] == 1
    assert [row[1] for row in harness.candidates()] == [stays]
    stamps = [q for q in harness.soql_received() if q.startswith("SELECT Id, SystemModstamp FROM")]
    assert stamps == ["SELECT Id, SystemModstamp FROM Contact ORDER BY Id"]
