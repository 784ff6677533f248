"""Malformed messages are dead-lettered at once with a reason; the worker keeps consuming."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.e2e.conftest import body

pytestmark = pytest.mark.integration


def dead_letter_reason(harness, wait_for, message_id=None, marker=None):
    def find():
        with harness.container.pool.connection() as conn:
            rows = conn.execute(
                "SELECT message_id, reason, body, raw FROM dead_letters ORDER BY id"
            ).fetchall()
        return [
            r
            for r in rows
            if (message_id and r[0] == message_id)
            or (marker and marker in json.dumps(r[2]))
            or (marker and r[3] and marker.encode() in r[3])
        ]

    return wait_for(find)[0][1]


def good(harness, **changes):
    message = {
        "type": "sync.requested",
        "version": 1,
        "id": f"bad-{harness.account}",
        "requested_at": "2026-11-27T18:00:00Z",
        "account_id": harness.account,
        "scope": "import",
        "candidate_id": None,
        "trigger": "manual",
        "full_resync": False,
    }
    return {**message, **changes}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"account_id": "acc_nobody_knows"}, "unknown_account"),
        ({"scope": "everything"}, "scope"),
        ({"version": 2}, "version"),
        ({"requested_at": None}, "requested_at"),
    ],
)
def test_invalid_request_is_dead_lettered_with_a_reason(harness, wait_for, change, reason):
    message = good(harness, **change)
    message["id"] = f"{message['id']}-{reason}"
    harness.publish_raw(body(message))
    assert reason in dead_letter_reason(harness, wait_for, message_id=message["id"])


def test_bad_json_is_dead_lettered_and_the_worker_keeps_consuming(harness, wait_for):
    marker = f"not json {harness.account}"
    harness.publish_raw(("{" + marker).encode())
    assert "not valid JSON" in dead_letter_reason(harness, wait_for, marker=marker)
    harness.emu.admin.create_contact(Email="after@example.com", LastName="After")
    assert harness.sync()["status"] == "succeeded"


def test_unknown_message_type_is_dead_lettered(harness, wait_for):
    message = good(harness, type="candidate.exploded")
    message["id"] += "-type"
    harness.publish_raw(body(message))
    assert "unknown message type" in dead_letter_reason(harness, wait_for, message_id=message["id"])


def test_dead_letters_are_never_retried(harness, wait_for):
    message = good(harness, account_id="acc_ghost")
    message["id"] += "-once"
    harness.publish_raw(body(message))
    dead_letter_reason(harness, wait_for, message_id=message["id"])
    with harness.container.pool.connection() as conn:
        count = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE message_id = %s", (message["id"],)
        ).fetchone()[0]
    assert count == 1


@pytest.mark.timeout(90)  # a hang detector, not a timing assertion
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"account_id": "a" * 10_000_000}, "bytes; the contract allows at most 1,048,576"),
        ({"id": "1" * 1_000_000}, "1 to 200 characters"),
    ],
    ids=["10MB-field", "1MB-id"],
)
def test_a_huge_message_never_holds_up_the_next_one(harness, wait_for, changes, reason):
    marker = f"huge-{harness.account}"
    data = body(good(harness, marker=marker, **changes))
    harness.publish_raw(data)
    harness.emu.admin.create_contact(Email="after@example.com", LastName="After")
    assert harness.sync()["status"] == "succeeded"

    def recorded():
        with harness.container.pool.connection() as conn:
            return conn.execute(
                "SELECT reason FROM dead_letters WHERE raw_sha256 = %s OR body->>'marker' = %s",
                (hashlib.sha256(data).hexdigest(), marker),
            ).fetchall()

    assert [r for (r,) in wait_for(recorded) if reason in r]
