"""Envelopes from the wire: only the worker's own signed retries are trusted.

Each forged body is published with raw pika, as an attacker with publish rights would, and
must be dead-lettered once with its reason while every worker thread lives on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from typing import Any

import pika
import psycopg
import pytest
import structlog
from dramatiq import Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.worker import WorkerThread

from sfsync.adapters.postgres.locks import LOCK_NAMESPACE
from sfsync.adapters.rabbitmq.encoder import ContractEncoder
from sfsync.entrypoints.actors import HANDLED_TYPES
from tests.e2e.conftest import body, send_raw

pytestmark = pytest.mark.integration

FOREIGN = "dramatiq envelope from outside the worker refused; publish the plain contract JSON"
BAD_SIGNATURE = "envelope signature does not verify"


def request(harness, **changes: Any) -> dict[str, Any]:
    return {
        "type": "sync.requested",
        "version": 1,
        "id": f"req-{uuid.uuid4()}",
        "requested_at": "2026-11-27T18:00:00Z",
        "account_id": harness.account,
        "scope": "import",
        **changes,
    }


def envelope(harness, options: dict[str, Any], **changes: Any) -> bytes:
    """A dramatiq envelope as anyone can write it (no signature)."""
    fields = {
        "queue_name": harness.queue,
        "actor_name": "sync.requested",
        "args": [],
        "kwargs": {"body": request(harness)},
        "options": options,
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_767_225_600_000,
        **changes,
    }
    return json.dumps(fields).encode()


def the_workers_encoder(harness) -> ContractEncoder:
    settings = harness.container.settings
    return ContractEncoder(harness.queue, HANDLED_TYPES, settings.encryption_keys)


def signed(harness, message: dict[str, Any], queue: str | None = None) -> bytes:
    """What the worker itself writes when it re-enqueues `message` (a retry)."""
    retry = Message(
        queue_name=queue or harness.queue,
        actor_name="sync.requested",
        args=(),
        kwargs={"body": message},
        options={"retries": 1},
        message_id=message["id"],
        message_timestamp=1_767_225_600_000,
    )
    return the_workers_encoder(harness).encode(retry.asdict())


def dead_letters(harness, *, sha256: str | None = None, message_id: str | None = None):
    with harness.container.pool.connection() as conn:
        return conn.execute(
            "SELECT reason, queue FROM dead_letters WHERE raw_sha256 = %s OR message_id = %s",
            (sha256, message_id),
        ).fetchall()


def dead_lettered_once(harness, wait_for, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    rows = wait_for(lambda: dead_letters(harness, sha256=sha))
    assert len(rows) == 1, rows
    return rows[0][0]


def alive_worker_threads() -> int:
    return sum(isinstance(t, WorkerThread) and t.is_alive() for t in threading.enumerate())


def still_works(harness) -> None:
    harness.emu.admin.create_contact(Email="after@example.com", LastName="After")
    assert harness.sync()["status"] == "succeeded"


def test_a_forged_throws_option_per_thread_stops_no_thread(harness, wait_for):
    threads = harness.container.settings.worker_threads
    wait_for(lambda: alive_worker_threads() == threads)  # the session worker has started
    forged = [envelope(harness, {"throws": "x", "marker": i}) for i in range(threads)]
    for data in forged:
        harness.publish_raw(data)
    for data in forged:
        assert FOREIGN in dead_lettered_once(harness, wait_for, data)
    still_works(harness)
    assert alive_worker_threads() == threads


@pytest.mark.parametrize(
    "options",
    [
        {"on_success": "sync.requested", "on_failure": "sync.requested"},
        {"max_retries": 1_000_000, "min_backoff": 0},
        {"eta": "soon"},
        {},
    ],
    ids=["callbacks", "retry-budget", "eta", "no-options"],
)
def test_any_unsigned_envelope_is_refused(harness, wait_for, options):
    data = envelope(harness, options)
    harness.publish_raw(data)
    assert FOREIGN in dead_lettered_once(harness, wait_for, data)


def test_an_envelope_for_an_unknown_actor_is_refused(harness, wait_for):
    data = envelope(harness, {}, actor_name="billing.charge")
    harness.publish_raw(data)
    assert FOREIGN in dead_lettered_once(harness, wait_for, data)


@pytest.fixture
def other_service_queue(harness):
    """Another service's queue on the same broker, declared the way dramatiq declares it."""
    name = f"{harness.queue}-billing"
    broker = RabbitmqBroker(url=harness.container.settings.amqp_url, confirm_delivery=True)
    broker.declare_queue(name, ensure=True)
    broker.channel.basic_publish("", name, b'{"invoice": 1}', mandatory=True)
    yield name
    for queue in (name, f"{name}.DQ", f"{name}.XQ"):
        broker.channel.queue_delete(queue)
    broker.close()


def queue_counts(amqp_url: str, name: str) -> tuple[int, int]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        method = connection.channel().queue_declare(name, passive=True).method
        return method.message_count, method.consumer_count
    finally:
        connection.close()


def test_a_pipe_target_never_makes_the_worker_consume_another_queue(
    harness, wait_for, other_service_queue
):
    target = {
        "queue_name": other_service_queue,
        "actor_name": "billing.charge",
        "args": [],
        "kwargs": {},
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_767_225_600_000,
    }
    data = envelope(harness, {"pipe_target": target, "pipe_ignore": True})
    harness.publish_raw(data)
    assert FOREIGN in dead_lettered_once(harness, wait_for, data)
    still_works(harness)
    amqp_url = harness.container.settings.amqp_url
    assert queue_counts(amqp_url, other_service_queue) == (1, 0)


def test_a_forged_signature_is_refused(harness, wait_for):
    inner = envelope(harness, {}).decode()
    data = json.dumps({"sfsync_envelope": inner, "sig": "ab" * 32}).encode()
    harness.publish_raw(data)
    assert BAD_SIGNATURE in dead_lettered_once(harness, wait_for, data)


def test_a_signature_replayed_on_modified_bytes_is_refused(harness, wait_for):
    wire = json.loads(signed(harness, request(harness)))
    wire["sfsync_envelope"] = wire["sfsync_envelope"].replace(
        '"retries":1', '"retries":0,"throws":"x"'
    )
    data = json.dumps(wire).encode()
    harness.publish_raw(data)
    assert BAD_SIGNATURE in dead_lettered_once(harness, wait_for, data)


def test_the_workers_own_signed_envelope_is_accepted(harness):
    message = request(harness)
    harness.publish_raw(signed(harness, message))
    event = harness.listener.next_for(message["id"], wait=60)
    assert event is not None and event["status"] == "succeeded"


@pytest.mark.parametrize("kind", ["plain", "signed"])
def test_nothing_but_the_workers_delayed_retries_runs_from_the_delay_queue(harness, wait_for, kind):
    message = request(harness)
    data = body(message) if kind == "plain" else signed(harness, message)
    send_raw(harness.container.settings.amqp_url, f"{harness.queue}.DQ", data)
    rows = wait_for(lambda: dead_letters(harness, message_id=message["id"]))
    assert [queue for _, queue in rows] == [f"{harness.queue}.DQ"]
    assert f"arrived on {harness.queue}.DQ" in rows[0][0]
    still_works(harness)
    assert alive_worker_threads() == harness.container.settings.worker_threads


def test_a_busy_account_is_retried_quietly_through_the_signed_envelope(harness, wait_for, caplog):
    """A retry leaves the worker as its own signed envelope and comes back through .DQ."""
    caplog.set_level(logging.INFO)
    message = request(harness)
    key = LOCK_NAMESPACE + harness.account
    with structlog.testing.capture_logs() as logs:
        with psycopg.connect(harness.container.settings.database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            harness.publish_raw(body(message))
            wait_for(lambda: any(e["event"] == "message.retry" for e in logs))
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
        event = harness.listener.next_for(message["id"], wait=60)
    assert event is not None and event["status"] == "succeeded"
    retry = next(e for e in logs if e["event"] == "message.retry")
    assert retry["log_level"] == "info" and retry["reason"].startswith("busy:")
    assert not [e for e in logs if e["log_level"] in ("warning", "error")]
    dramatiq_records = [r for r in caplog.records if r.name.startswith("dramatiq")]
    assert any("Retrying message" in r.getMessage() for r in dramatiq_records)
    assert not [r for r in dramatiq_records if r.levelno >= logging.WARNING or r.exc_info]
