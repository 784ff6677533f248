"""The message contract on the wire: each message type published with plain pika, as another
team's service would (no Dramatiq, persistent, application/json), and its effect; the events
the worker publishes checked against their schema; a schema-invalid message dead-lettered at
once with the validator's reason; retries and events that RabbitMQ does not confirm."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from sfsync.adapters.postgres.locks import PostgresAccountLocks
from sfsync.entrypoints.bootstrap import events_exchange
from sfsync.entrypoints.validation import problems
from tests.e2e.conftest import poll

pytestmark = pytest.mark.integration

MARKER = "ada.lovelace+MARKER-c41d@example.com"
ROOT = Path(__file__).resolve().parents[2]


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def publish(amqp_url: str, queue: str, message: dict[str, Any]) -> None:
    """The README's publisher: plain JSON to the default exchange, routing key = the queue."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()  # basic_publish returns once RabbitMQ has the message
    properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    channel.basic_publish("", queue, json.dumps(message).encode(), properties, mandatory=True)
    connection.close()


def request(harness, **fields: Any) -> dict[str, Any]:
    return {
        "type": "sync.requested",
        "version": 1,
        "id": str(uuid.uuid4()),
        "requested_at": now(),
        "account_id": harness.account,
        "scope": "import",
        "candidate_id": None,
        "trigger": "manual",
        "full_resync": False,
        **fields,
    }


def send(harness, message: dict[str, Any]) -> None:
    publish(harness.container.settings.amqp_url, harness.queue, message)


def completed(harness, message: dict[str, Any], wait: float = 120) -> dict[str, Any]:
    event = harness.listener.next_for(message["id"], wait=wait)
    assert event is not None, f"no sync.completed within {wait}s"
    return event


def dead_letters(harness, message_id: str) -> list[tuple[str, str]]:
    with harness.container.pool.connection() as conn:
        return conn.execute(
            "SELECT actor, reason FROM dead_letters WHERE message_id = %s ORDER BY id",
            (message_id,),
        ).fetchall()


def dead_lettered(harness, message_id: str) -> tuple[Any, bytes]:
    """The message in the dead-letter queue (`<queue>.XQ`) whose body has `message_id`;
    every message looked at goes back when the connection closes."""
    settings = harness.container.settings
    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(f"{harness.queue}.XQ")
            assert method is not None, "not in the dead-letter queue"
            try:
                if json.loads(body).get("id") == message_id:
                    return properties, body
            except ValueError:
                continue
    finally:
        connection.close()


class EventTap:
    """A queue of its own on the events exchange: bodies and their AMQP properties."""

    def __init__(self, harness) -> None:
        settings = harness.container.settings
        self.connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
        self.channel = self.connection.channel()
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, events_exchange(settings), "sync.completed")

    def next_for(self, request_id: str, wait: float = 120) -> tuple[Any, dict[str, Any]]:
        for _, properties, body in self.channel.consume(self.queue, inactivity_timeout=wait):
            assert body is not None, f"no sync.completed for {request_id} within {wait}s"
            event = json.loads(body)
            if event["request_id"] == request_id:
                return properties, event
        raise AssertionError("the consumer stopped")

    def close(self) -> None:
        self.connection.close()


def test_a_sync_requested_from_plain_pika_runs_and_its_sync_completed_follows(harness):
    harness.emu.admin.create_contact(Email="ada@example.com", LastName="Lovelace")
    tap = EventTap(harness)
    try:
        message = request(harness)
        send(harness, message)
        properties, event = tap.next_for(message["id"])
    finally:
        tap.close()
    assert event["status"] == "succeeded" and event["counts"]["created"] == 1
    assert [row[0] for row in harness.candidates()] == ["ada@example.com"]
    assert properties.content_type == "application/json" and properties.delivery_mode == 2
    assert properties.type == "sync.completed" and properties.message_id == event["id"]
    assert problems("sync.completed", event) == []


def test_the_readme_s_publisher_works_as_written(harness):
    """The README's ten lines, run with the test's server, queue and account."""
    (code,) = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    ours = {
        '"amqp://guest:guest@127.0.0.1:5672/%2F"': repr(harness.container.settings.amqp_url),
        '"sfsync"': repr(harness.queue),
        '"acc_123"': repr(harness.account),
    }
    for written, used in ours.items():
        assert written in code
        code = code.replace(written, used)
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    assert completed(harness, namespace["message"])["status"] == "succeeded"


def test_a_candidate_signed_up_from_plain_pika_flags_the_contact(harness):
    contact = harness.emu.admin.create_contact(Email="grace@example.com", LastName="Hopper")
    message = {
        "type": "candidate.signed_up",
        "version": 1,
        "id": str(uuid.uuid4()),
        "occurred_at": now(),
        "account_id": harness.account,
        "candidate_id": "cand_grace",
        "email": "grace@example.com",
        "study_id": "study_789",
    }
    send(harness, message)
    poll(lambda: harness.emu.admin.get_contact(contact)["gq_import__c"] is True, 60, "flagged")


def test_every_event_the_worker_publishes_validates_against_the_schema(harness):
    harness.emu.admin.create_contact(Email="ada@example.com", LastName="Lovelace")
    harness.emu.admin.create_contact(LastName="No Email")
    first = request(harness)
    send(harness, first)
    imported = completed(harness, first)
    send(harness, first)  # the same request again: its event again
    repeated = completed(harness, first)
    with harness.container.pool.connection() as conn:
        (candidate,) = conn.execute(
            "SELECT id FROM candidates WHERE account_id = %s", (harness.account,)
        ).fetchone()
    one = request(harness, candidate_id=candidate, trigger="candidate_page")
    send(harness, one)
    single = completed(harness, one)
    refused = request(harness, scope="export")  # push is off for this account
    send(harness, refused)
    failed = completed(harness, refused)
    assert imported["counts"]["skipped"] and repeated["id"] == imported["id"]
    assert single["scope"] == "candidate"
    assert failed["status"] == "failed" and failed["errors"]
    for event in (imported, repeated, single, failed):
        assert problems("sync.completed", event) == [], event


def test_a_schema_invalid_message_is_dead_lettered_at_once_with_the_validator_s_reason(harness):
    bad = request(harness, scope="everything", trigger=MARKER, note=MARKER * 1000)
    send(harness, bad)
    rows = poll(lambda: dead_letters(harness, bad["id"]), 60, "dead letter")
    assert rows == [
        (
            "sync.requested",
            "invalid_message: invalid sync.requested message:"
            ' $.scope: must be one of ["import", "export", "full"] (enum);'
            ' $.trigger: must be one of ["schedule", "manual", "candidate_page"] (enum)',
        )
    ]
    # at once: dead-lettered as published, on its first delivery, never as a worker's retry
    properties, body = dead_lettered(harness, bad["id"])
    assert json.loads(body) == bad and properties.headers["x-death"][0]["count"] == 1
    # the worker carried on: the next request runs, and the bad one left no run behind
    good = request(harness)
    send(harness, good)
    assert completed(harness, good)["status"] == "succeeded"
    assert len(dead_letters(harness, bad["id"])) == 1
    with harness.container.pool.connection() as conn:
        runs = conn.execute("SELECT count(*) FROM sync_runs WHERE request_id = %s", (bad["id"],))
        assert runs.fetchone()[0] == 0


def test_a_sync_completed_rabbitmq_did_not_confirm_is_published_again(harness):
    """A queue bound to the events exchange refuses every publish (x-overflow
    reject-publish): RabbitMQ nacks the event, the worker fails the attempt, and the message's
    retry publishes it again once the queue is gone."""
    settings = harness.container.settings
    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    channel = connection.channel()
    refusing = channel.queue_declare(
        "", exclusive=True, arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
    ).method.queue
    channel.queue_bind(refusing, events_exchange(settings), "sync.completed")
    message = request(harness)
    send(harness, message)
    # A nacked event still reaches the queues that took it: the listener sees both tries.
    first, second = completed(harness, message), completed(harness, message)
    channel.queue_delete(refusing)
    connection.close()
    third = completed(harness, message, wait=60)  # the message's retry
    assert first == second and third["id"] == first["id"] and third["status"] == "succeeded"
    assert harness.listener.next_for(message["id"], wait=1) is None  # confirmed: no more


def test_a_retry_rabbitmq_did_not_confirm_is_dead_lettered_not_dropped(harness, monkeypatch):
    """RabbitMQ nacks every publish to the delay queue (where a retry waits out its
    backoff): dramatiq would log it and ack the message; the worker dead-letters it instead,
    ends its run and tells the client."""
    delay_queue = f"{harness.queue}.DQ"
    real_publish = BlockingChannel.basic_publish
    nacked = []

    def nacking(self, exchange, routing_key, *args, **kwargs):
        if routing_key == delay_queue:
            nacked.append(routing_key)
            raise pika.exceptions.NackError([])
        return real_publish(self, exchange, routing_key, *args, **kwargs)

    monkeypatch.setattr(BlockingChannel, "basic_publish", nacking)
    locks = PostgresAccountLocks(harness.container.pool)
    message = request(harness)
    with locks.hold(harness.account) as held:  # busy: the attempt is retried
        assert held
        send(harness, message)
        event = completed(harness, message, wait=60)
    (row,) = poll(lambda: dead_letters(harness, message["id"]), 30, "dead letter")
    assert event["status"] == "failed" and event["errors"][0]["code"] == "busy"
    assert row[1].startswith("busy: ")
    assert row[1].endswith("; its retry was not confirmed by RabbitMQ (ConnectionClosed)")
    assert len(nacked) == 6  # dramatiq's enqueue attempts, each on a new channel
