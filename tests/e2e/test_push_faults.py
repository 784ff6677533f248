"""Faults mid-push (issue 11) through RabbitMQ, a real worker, Postgres and the emulator:
quota running out after part of the push went, the Bulk ingest path under 503s, an expired
token and a locked row, and a 503 storm longer than every retry.

Each change must reach its Contact exactly once: the emulator's request log names the
records each write call saved, so the tests count the writes per Contact.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfsync.domain.model import AttributeMapping, MappingDirection
from sfsync.entrypoints.bootstrap import build
from sfsync.services.accounts import add_attribute
from sfsync_emulator.harness import Emulator
from tests.e2e.conftest import Harness, poll, worker_process_config
from tests.e2e.test_run_endings import Workers

pytestmark = pytest.mark.integration

COLLECTIONS = 300  # seeded Contacts: about 270 linked, two Collections calls (200 + the rest)
BULK = 2_500  # about 2,200 linked: above the adapter's 2,000, one Bulk ingest job
COLOR = "Orange"


def prepared(harness: Harness, contacts: int, **settings: Any) -> list[str]:
    """`contacts` seeded Contacts imported into a pushing account, each candidate then
    given a new colour: the Contact Ids a push must write, once each."""
    harness.emu.admin.reset(contacts=contacts)  # tokens survive a reset
    harness.configure(push_enabled=True, **settings)
    mapping = AttributeMapping("favorite_color_c", "Favorite_Color__c", MappingDirection.EXPORT)
    add_attribute(harness.container.uow(), harness.account, mapping)
    assert harness.sync()["status"] == "succeeded"
    with harness.container.pool.connection() as conn:
        rows = conn.execute(
            "UPDATE candidates SET attributes = attributes || %s::jsonb"
            " WHERE account_id = %s AND salesforce_id IS NOT NULL RETURNING salesforce_id",
            (json.dumps({"favorite_color_c": COLOR}), harness.account),
        ).fetchall()
    harness.emu.admin.clear_requests()
    return sorted(r[0] for r in rows)


def push(harness: Harness) -> dict[str, Any]:
    return harness.sync(scope="export")


def writes(harness: Harness) -> Counter[str]:
    """How many times each Contact was saved since the log was cleared."""
    return Counter(i for r in harness.emu.admin.requests() for i in r["written"])


def calls(harness: Harness, method: str, path: str) -> list[int]:
    """The statuses of the data API calls with `method` whose path ends with `path`."""
    return [
        r["status"]
        for r in harness.emu.admin.requests()
        if r["method"] == method and r["path"].endswith(path)
    ]


def run_status(harness: Harness, request_id: str) -> str:
    with harness.container.pool.connection() as conn:
        (status,) = conn.execute(
            "SELECT status FROM sync_runs WHERE request_id = %s", (request_id,)
        ).fetchone()
    return status


def colors(harness: Harness, ids: list[str]) -> set[str]:
    return {harness.emu.admin.get_contact(i)["Favorite_Color__c"] for i in ids}


@pytest.mark.parametrize(
    ("share", "used", "code", "sent"),
    [
        # the org's own limit: the describe and one Collections call, then HTTP 403
        (1.0, 998, "REQUEST_LIMIT_EXCEEDED", [200, 403]),
        # the account's share (half), crossed by the first Collections call: no second one
        (0.5, 499, "MAX_SHARE_REACHED", [200]),
    ],
)
def test_quota_running_out_mid_push_ends_quota_and_the_next_run_sends_only_the_rest(
    harness, share, used, code, sent
):
    ids = prepared(harness, COLLECTIONS, quota_share=share)
    assert 200 < len(ids) <= 400
    harness.emu.admin.set_quota(max=1000, used=used)
    stopped = push(harness)
    assert (stopped["status"], stopped["counts"]["pushed"]) == ("quota", 200), stopped
    assert [(e["code"], e["message"].split(":")[0]) for e in stopped["errors"]] == [("quota", code)]
    assert run_status(harness, stopped["request_id"]) == "quota"
    assert calls(harness, "PATCH", "/composite/sobjects") == sent
    harness.emu.admin.set_quota(max=100_000, used=0)  # the next day
    resumed = push(harness)
    assert (resumed["status"], resumed["counts"]["pushed"]) == ("succeeded", len(ids) - 200)
    assert writes(harness) == Counter(dict.fromkeys(ids, 1))
    assert colors(harness, ids) == {COLOR}


def test_a_bulk_push_through_503s_an_expired_token_and_a_lock_writes_each_contact_once(
    harness,
):
    ids = prepared(harness, BULK)
    assert len(ids) > 2_000
    locked = ids[len(ids) // 2]
    admin = harness.emu.admin
    admin.add_fault(status=503, count=1, method="POST", path="/jobs/ingest")
    admin.add_fault(latency_ms=1_000, count=1, method="PUT", path="/batches")  # expired here
    admin.add_fault(status=503, count=1, method="PUT", path="/batches")
    admin.add_fault(status=503, count=1, method="PATCH", path="/jobs/ingest/")  # the close
    admin.add_fault(lock=True, count=1, record_ids=[locked])  # the close that goes through
    admin.add_fault(status=503, count=1, method="GET", path="/jobs/ingest/")  # a poll
    admin.add_fault(status=503, count=1, path="/failedResults")  # the locked row
    message = harness.request(scope="export")
    poll(lambda: 200 in calls(harness, "POST", "/jobs/ingest"), what="the ingest job")
    admin.expire_tokens()  # while its upload waits
    event = harness.listener.next_for(message["id"], wait=60)
    assert event is not None
    assert (event["status"], event["counts"]["pushed"]) == ("succeeded", len(ids)), event
    assert calls(harness, "POST", "/jobs/ingest") == [503, 200]  # one job
    assert calls(harness, "PUT", "/batches") == [401, 503, 201]
    assert calls(harness, "PATCH", "/composite/sobjects") == [200]  # the locked one, alone
    assert writes(harness) == Counter(dict.fromkeys(ids, 1))
    assert colors(harness, [ids[0], locked, ids[-1]]) == {COLOR}
    admin.clear_requests()
    again = push(harness)
    assert again["counts"]["pushed"] == 0 and writes(harness) == Counter()


@pytest.fixture
def quick_retries(
    migrated_database_url: str,
    amqp_url: str,
    queue_prefix: str,
    sf_emulator: Emulator,
    tmp_path: Path,
) -> Iterator[Workers]:
    """An `sfsync worker` process of its own that retries a message once, quickly."""
    prefix = f"{queue_prefix}p{secrets.token_hex(2)}"
    settings, env = worker_process_config(
        migrated_database_url,
        amqp_url,
        prefix,
        sf_emulator,
        SFSYNC_WORKER_THREADS="1",
        SFSYNC_MAX_RETRIES="1",
        SFSYNC_MIN_BACKOFF_MS="100",
        SFSYNC_MAX_BACKOFF_MS="200",
    )
    container = build(settings, pool_size=2)
    found = Workers(container, sf_emulator, env, tmp_path)
    try:
        yield found
    finally:
        for proc in found.running:
            proc.terminate()
            proc.wait(60)
        sf_emulator.admin.clear_faults()
        container.close()


def test_a_503_storm_longer_than_every_retry_ends_the_run_failed_and_a_later_run_sends_the_rest(
    quick_retries,
):
    quick_retries.start()
    admin = quick_retries.emu.admin
    with quick_retries.account() as harness:
        ids = prepared(harness, COLLECTIONS)
        admin.add_fault(count=1, path="/composite")  # no status: the first call goes through
        admin.add_fault(status=503, count=-1, path="/composite")  # then every one fails
        event = push(harness)
        tried = calls(harness, "PATCH", "/composite/sobjects")
        reasons = poll(lambda: quick_retries.dead_letters(event["request_id"]))
        assert harness.listener.next_for(event["request_id"], wait=0.5) is None  # no retry left
        assert calls(harness, "PATCH", "/composite/sobjects") == tried
        admin.clear_faults()
        later = push(harness)
        written = writes(harness)
    assert event["status"] == "failed" and run_status(harness, event["request_id"]) == "failed"
    assert event["errors"][-1]["code"] == "salesforce_unavailable"
    assert event["counts"]["pushed"] == 200  # the first call's results were kept
    assert tried == [200] + [503] * 10  # two attempts of the adapter's five tries each
    assert reasons and reasons[0].startswith("salesforce_unavailable")
    assert (later["status"], later["counts"]["pushed"]) == ("succeeded", len(ids) - 200)
    assert written == Counter(dict.fromkeys(ids, 1))
