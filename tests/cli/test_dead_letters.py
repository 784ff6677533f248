"""`sfsync dead-letters`: show any record safely, replay only what is a contract object."""

from __future__ import annotations

import json
import secrets

import pika
import pytest
from cryptography.fernet import Fernet
from psycopg_pool import ConnectionPool

from sfsync.adapters.postgres.dead_letters import PsycopgDeadLetters
from tests.cli.test_cli import one_line, sfsync

pytestmark = pytest.mark.integration


@pytest.fixture
def store(migrated_database_url):
    with ConnectionPool(migrated_database_url, min_size=1, max_size=1) as pool:
        yield PsycopgDeadLetters(pool), pool


def env(database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "SFSYNC_ENCRYPTION_KEYS": Fernet.generate_key().decode()}


def recorded(store, **entry) -> str:
    letters, pool = store
    message_id = f"dl-{secrets.token_hex(4)}"
    letters.record({"queue": "q", "actor": "a", "message_id": message_id, "reason": "why", **entry})
    with pool.connection() as conn:
        row = conn.execute("SELECT id FROM dead_letters WHERE message_id = %s", (message_id,))
        return str(row.fetchone()[0])


def test_show_escapes_bytes_that_could_drive_the_terminal(store, migrated_database_url):
    raw = b'{"name": "\x1b[31mred\x00\xff\xe2\x80\xae"}'
    entry_id = recorded(store, raw=raw, raw_size=len(raw) + 10, raw_sha256="ab")
    result = sfsync("dead-letters", "show", entry_id, **env(migrated_database_url))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["raw_text"] == '{"name": "\x1b[31mred\x00\\xff\u202e"}'
    assert shown["raw_truncated"] is True and shown["body"] is None


def test_show_prints_a_json_body(store, migrated_database_url):
    entry_id = recorded(store, body={"type": "sync.requested", "name": "Zoë"})
    shown = json.loads(
        sfsync("dead-letters", "show", entry_id, **env(migrated_database_url)).stdout
    )
    assert shown["body"] == {"type": "sync.requested", "name": "Zoë"}


def test_replay_refuses_bytes_that_are_not_json(store, migrated_database_url):
    entry_id = recorded(store, raw=b"\x00", raw_size=1, raw_sha256="ab")
    result = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url))
    assert result.returncode == 1
    assert f"dead letter {entry_id} is not JSON sfsync can store (why)" in one_line(result)


def test_replay_refuses_json_that_is_not_an_object(store, migrated_database_url):
    entry_id = recorded(store, body=[1, 2], raw_size=6, raw_sha256="ab")
    result = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url))
    assert result.returncode == 1
    assert "is not a JSON object; it cannot be replayed" in one_line(result)


def envelope_of(message: dict) -> dict:
    """A retry written by a worker before envelopes were signed, refused after the upgrade."""
    return {
        "queue_name": "sfsync",
        "actor_name": "sync.requested",
        "args": [],
        "kwargs": {"body": message},
        "options": {"retries": 2, "throws": "x"},
        "message_id": message["id"],
        "message_timestamp": 1,
    }


@pytest.mark.parametrize("wrap", [dict, envelope_of], ids=["as-published", "inside-envelope"])
def test_replay_sends_the_request(store, migrated_database_url, amqp_url, wrap):
    message = {"type": "sync.requested", "id": "r-1"}
    entry_id = recorded(store, body=wrap(message))
    prefix = f"dl{secrets.token_hex(3)}"
    result = sfsync(
        "dead-letters",
        "replay",
        entry_id,
        **env(migrated_database_url),
        AMQP_URL=amqp_url,
        SFSYNC_QUEUE_PREFIX=prefix,
    )
    assert result.returncode == 0, result.stderr
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    _, _, data = channel.basic_get(f"{prefix}.sfsync", auto_ack=True)
    for suffix in ("", ".DQ", ".XQ"):
        channel.queue_delete(f"{prefix}.sfsync{suffix}")
    connection.close()
    assert json.loads(data) == {**message, "replay": True}  # a failed run is carried on
