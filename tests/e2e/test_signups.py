"""candidate.signed_up through RabbitMQ and a real worker: Contacts flagged in the emulator."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import poll, send_raw

pytestmark = pytest.mark.integration


def signup(harness, email: str, candidate_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "candidate.signed_up",
        "version": 1,
        "id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "account_id": harness.account,
        "candidate_id": candidate_id or f"cand_{uuid.uuid4().hex[:10]}",
        "email": email,
        "study_id": "study_789",
    }


def publish(harness, *messages: dict[str, Any]) -> None:
    """As the sign-up service does: plain JSON, persistent, confirmed, raw pika."""
    send_raw(
        harness.container.settings.amqp_url,
        harness.queue,
        *(json.dumps(m).encode() for m in messages),
    )


def outcomes(harness) -> dict[str, tuple[str, str | None, list[str]]]:
    with harness.container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT message_id, outcome, reason, contact_ids FROM signups WHERE account_id = %s",
            (harness.account,),
        ).fetchall()
    return {r[0]: (r[1], r[2], list(r[3])) for r in rows}


def settled(harness, count: int, timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        rows = outcomes(harness)
        finished = len(rows) == count and all(o != "pending" for o, _, _ in rows.values())
        return rows if finished else None

    return poll(done, timeout, "every sign-up settled")


def flagged(harness, contact_id: str) -> bool:
    return harness.emu.admin.get_contact(contact_id)["gq_import__c"] is True


def linked(harness, candidate_id: str) -> str | None:
    with harness.container.pool.connection() as conn:
        row = conn.execute(
            "SELECT salesforce_id FROM candidates WHERE account_id = %s AND id = %s",
            (harness.account, candidate_id),
        ).fetchone()
    return None if row is None else row[0]


def test_signups_flag_their_contacts_and_link_their_candidates(harness):
    admin = harness.emu.admin
    ada = admin.create_contact(Email="Ada@Example.com", LastName="Lovelace")
    done = admin.create_contact(Email="grace@example.com", LastName="Hopper", gq_import__c=True)
    twin_a = admin.create_contact(Email="twin@example.com", LastName="A")
    twin_b = admin.create_contact(Email="TWIN@example.com", LastName="B")
    hostile = admin.create_contact(Email="o'b\\x'OR'1'!='@exämple.com", LastName="H")
    bystander = admin.create_contact(Email="x@example.com", LastName="X")
    messages = {
        "new": signup(harness, "ada@example.com", "cand_ada"),
        "already": signup(harness, "grace@example.com"),
        "none": signup(harness, "nobody@example.com"),
        "twins": signup(harness, "twin@example.com", "cand_twin"),
        "hostile": signup(harness, "o'b\\x'OR'1'!='@exämple.com", "cand_h"),
        "injection": signup(harness, "x' OR Email != '"),
    }
    publish(harness, *messages.values())
    rows = settled(harness, len(messages))
    result = {name: rows[m["id"]] for name, m in messages.items()}
    assert result["new"] == ("flagged", None, [ada])
    assert result["already"] == ("already_flagged", None, [done])
    assert result["none"] == ("no_contact", None, [])
    assert result["twins"][0] == "flagged" and set(result["twins"][2]) == {twin_a, twin_b}
    assert result["hostile"] == ("flagged", None, [hostile])
    assert result["injection"] == ("no_contact", None, [])
    assert all(flagged(harness, i) for i in (ada, done, twin_a, twin_b, hostile))
    assert not flagged(harness, bystander)
    assert linked(harness, "cand_ada") == ada
    assert linked(harness, "cand_h") == hostile
    assert linked(harness, "cand_twin") in (twin_a, twin_b)  # the newest (default policy)
    # The next import brings the flagged Contacts' data to the linked candidates.
    harness.configure(only_import_tagged=True)
    event = harness.sync()
    assert event["status"] == "succeeded"
    emails = {row[0]: row[1] for row in harness.candidates()}
    assert emails["Ada@Example.com"] == ada
    assert bystander not in emails.values()


def test_vendor_mode_records_a_skip_without_calling_salesforce(harness):
    harness.configure(direct_api=False)
    harness.emu.admin.create_contact(Email="ada@example.com", LastName="L")
    message = signup(harness, "ada@example.com")
    publish(harness, message)
    rows = settled(harness, 1)
    assert rows[message["id"]] == ("skipped", "vendor_mode", [])
    assert not [r for r in harness.emu.admin.requests() if "/services/data" in r["path"]]


def test_a_redelivered_signup_is_recorded_once(harness):
    cid = harness.emu.admin.create_contact(Email="ada@example.com", LastName="L")
    message = signup(harness, "ada@example.com")
    publish(harness, message, message)
    rows = settled(harness, 1)
    assert rows[message["id"]] == ("flagged", None, [cid])


def test_a_burst_of_a_thousand_signups_is_coalesced_into_few_calls(harness):
    admin = harness.emu.admin
    emails = [f"burst.{n:04d}@example.com" for n in range(1_000)]
    ids = {admin.create_contact(Email=e, LastName="B") for e in emails[::2]}
    admin.clear_requests()
    publish(harness, *(signup(harness, e) for e in emails))
    rows = settled(harness, 1_000, timeout=120)
    assert sum(o == "flagged" for o, _, _ in rows.values()) == 500
    assert sum(o == "no_contact" for o, _, _ in rows.values()) == 500
    calls = [r for r in admin.requests() if "/services/data" in r["path"]]
    assert len(calls) <= 25, len(calls)  # ~6 lookups, 3 updates, a describe a flush
    assert all(flagged(harness, i) for i in list(ids)[:50])
