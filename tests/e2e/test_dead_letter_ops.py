"""Dead letters as ops meet them, with a real worker: an invalid message listed, shown
masked, corrected and replayed; a replay of what already succeeded changes nothing."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from sfsync.adapters.postgres.dead_letters import PsycopgDeadLetters
from tests.cli.test_cli import sfsync
from tests.e2e.conftest import body, poll

pytestmark = pytest.mark.integration


def ops(harness, *args: str) -> str:
    """Run `sfsync` as an operator would, against the worker's database and queue."""
    settings = harness.container.settings
    result = sfsync(
        *args,
        DATABASE_URL=settings.database_url,
        AMQP_URL=settings.amqp_url,
        SFSYNC_QUEUE_PREFIX=settings.queue_prefix,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def dead_letters(harness) -> list[dict[str, Any]]:
    listed = ops(harness, "dead-letters", "list", "--json", "--account", harness.account)
    return json.loads(listed)


def signup(harness, email: str, **changes: Any) -> dict[str, Any]:
    return {
        "type": "candidate.signed_up",
        "version": 1,
        "id": f"su-{uuid.uuid4()}",
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "account_id": harness.account,
        "candidate_id": f"cand_{secrets.token_hex(4)}",
        "email": email,
        "study_id": "study_789",
        **changes,
    }


def signups(harness) -> dict[str, str]:
    with harness.container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT message_id, outcome FROM signups WHERE account_id = %s", (harness.account,)
        ).fetchall()
    return dict(rows)


def writes(harness) -> list[dict[str, Any]]:
    """What Salesforce was asked to save or delete since the log was last cleared."""
    return [
        r
        for r in harness.emu.admin.requests()
        if r["written"] or r["method"] in ("PATCH", "PUT", "DELETE")
    ]


def test_an_invalid_message_is_listed_shown_masked_corrected_and_replayed(harness, tmp_path):
    contact = harness.emu.admin.create_contact(Email="ada.lovelace@example.com", LastName="L")
    broken = signup(harness, "ada.lovelace@example.com", occurred_at="last Tuesday")
    harness.publish_raw(body(broken))

    listed = poll(lambda: dead_letters(harness), what="the dead letter listed")
    assert [r["message_id"] for r in listed] == [broken["id"]], listed  # once: never retried
    row = listed[0]
    assert row["message_type"] == "candidate.signed_up", row
    assert row["reason_code"] == "invalid_message" and "occurred_at" in row["reason"], row
    assert row["replayed_at"] is None and "lovelace" not in json.dumps(listed)
    assert signups(harness) == {}  # refused at once: never recorded, never retried

    shown = json.loads(ops(harness, "dead-letters", "show", str(row["id"])))
    assert shown["masked"] is True and shown["body"]["email"] == "a***@e***.com"
    assert shown["body"]["occurred_at"] == "[masked]"  # free text, not a timestamp
    assert shown["body"]["id"] == broken["id"]
    unmasked = json.loads(ops(harness, "dead-letters", "show", str(row["id"]), "--unmask"))
    assert unmasked["body"] == broken

    fixed = {**unmasked["body"], "occurred_at": "2026-12-01T10:00:00Z"}
    path = tmp_path / "fixed.json"
    path.write_text(json.dumps(fixed))
    out = ops(harness, "dead-letters", "replay", str(row["id"]), "--body", str(path))
    assert out.strip() == (
        f"replayed dead letter {row['id']} with a corrected body (message {broken['id']})"
    )
    poll(lambda: signups(harness).get(broken["id"]) == "flagged", what="the sign-up flagged")
    assert harness.emu.admin.get_contact(contact)["gq_import__c"] is True
    after = next(r for r in dead_letters(harness) if r["id"] == row["id"])
    assert after["replayed_at"] is not None, after
    assert after["replay_note"].startswith(
        f"replaced by a corrected body: message {broken['id']}"
    ), after


def test_replaying_what_already_succeeded_changes_nothing(harness):
    """A sync.requested whose run succeeded and a sign-up already flagged, dead-lettered
    anyway (say, a duplicate delivery that ran out of retries), replayed by a filter."""
    harness.emu.admin.create_contact(Email="grace@example.com", LastName="Hopper")
    event = harness.sync()
    assert event["status"] == "succeeded"
    first = signup(harness, "grace@example.com")
    harness.publish_raw(body(first))
    poll(lambda: signups(harness).get(first["id"]) == "flagged", what="the sign-up flagged")
    again = signup(harness, "grace@example.com")  # another sign-up of that flagged Contact

    request = {
        "type": "sync.requested",
        "version": 1,
        "id": event["request_id"],
        "requested_at": "2026-12-01T10:00:00Z",
        "account_id": harness.account,
        "scope": "import",
    }
    store = PsycopgDeadLetters(harness.container.pool)
    for message in (request, first, again):
        entry = {"queue": "q", "actor": message["type"], "message_id": message["id"]}
        store.record({**entry, "reason": "TimeLimitExceeded", "body": message})
    harness.emu.admin.clear_requests()

    out = ops(harness, "dead-letters", "replay", "--account", harness.account)
    assert out.startswith("replayed 3 dead letter(s): ")
    replayed = harness.listener.next_for(request["id"], wait=60)  # told again, at least once
    assert replayed is not None and replayed["run_id"] == event["run_id"]
    assert replayed["status"] == "succeeded"
    poll(lambda: signups(harness).get(again["id"]) == "already_flagged", what="settled")
    assert signups(harness)[first["id"]] == "flagged"  # recorded once, as the first time
    with harness.container.pool.connection() as conn:
        runs = conn.execute(
            "SELECT count(*) FROM sync_runs WHERE account_id = %s", (harness.account,)
        ).fetchone()[0]
    assert runs == 1
    assert writes(harness) == []
    imports = [q for q in harness.soql_received() if "Email IN" not in q]
    assert imports == []  # no import read either: only the sign-up's lookup
