"""The dead-letter middleware: what it records, and that a brief database outage loses nothing."""

from __future__ import annotations

import dramatiq
import pytest
import stamina
import structlog
from dramatiq import Message
from dramatiq.broker import MessageProxy

from sfsync.adapters.rabbitmq.encoder import INVALID_ACTOR, Refused
from sfsync.adapters.rabbitmq.middleware import ERROR_OPTION, DeadLetterRecorder, describe
from sfsync.domain.errors import InvalidMessage, PermanentFailure, TransientFailure


@pytest.fixture(autouse=True)
def no_backoff():
    with stamina.set_testing(True, attempts=100, cap=True):  # the recorder's own attempts
        yield


def nacked(**kwargs) -> MessageProxy:
    message = MessageProxy(
        Message(
            queue_name="q",
            actor_name=INVALID_ACTOR,
            args=(),
            kwargs=kwargs,
            options={ERROR_OPTION: "invalid_message: why"},
            message_id="m-1",
        )
    )
    message.fail()
    return message


def test_a_refused_body_is_recorded_as_bytes_when_postgres_cannot_store_it():
    entries = []
    refused = Refused("why", size=9, sha256="ab", raw=b"\x00secret")
    DeadLetterRecorder(entries.append).after_nack(None, nacked(refused=refused))
    assert entries == [
        {
            "queue": "q",
            "actor": INVALID_ACTOR,
            "message_id": "m-1",
            "reason": "invalid_message: why",
            "raw": b"\x00secret",
            "raw_size": 9,
            "raw_sha256": "ab",
        }
    ]


def test_a_contract_message_is_recorded_as_published():
    entries = []
    DeadLetterRecorder(entries.append).after_nack(None, nacked(body={"type": "x"}))
    assert entries[0]["body"] == {"type": "x"} and "raw" not in entries[0]


def test_a_brief_database_outage_is_retried():
    entries, failures = [], [TransientFailure("down"), TransientFailure("down")]

    def record(entry):
        if failures:
            raise failures.pop()
        entries.append(entry)

    DeadLetterRecorder(record).after_nack(None, nacked(body={"type": "x"}))
    assert len(entries) == 1


def test_giving_up_logs_the_message_id_only():
    def record(entry):
        raise TransientFailure("database unavailable")

    with structlog.testing.capture_logs() as logs:
        DeadLetterRecorder(record).after_nack(
            None, nacked(refused=Refused("why", size=1, sha256="ab", body={"name": "Fatima"}))
        )
    failed = [e for e in logs if e["event"] == "dead_letter.record_failed"]
    assert failed == [
        {
            "event": "dead_letter.record_failed",
            "log_level": "error",
            "message_id": "m-1",
            "error": "TransientFailure",
        }
    ]
    assert "Fatima" not in repr(logs)


def test_a_data_error_is_not_retried():
    calls = []

    def record(entry):
        calls.append(entry)
        raise PermanentFailure("refused")

    DeadLetterRecorder(record).after_nack(None, nacked(body={}))
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("exception", "reason"),
    [
        (InvalidMessage("bad scope"), "invalid_message: bad scope"),
        (KeyError("fatima@example.com"), "KeyError"),
        (InvalidMessage("x" * 10_000), "invalid_message: " + "x" * 482 + "…"),
    ],
)
def test_reasons_are_ours_and_bounded(exception, reason):
    assert describe(exception) == reason


def test_a_busy_retry_is_described_by_its_cause():
    try:
        try:
            raise TransientFailure("another sync is running", code="busy")
        except TransientFailure as err:
            raise dramatiq.Retry(err.message) from err
    except dramatiq.Retry as retry:
        assert describe(retry) == "busy: another sync is running"
