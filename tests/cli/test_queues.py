"""A queue someone else declared first: the worker and `health` say so in one line."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pika
import pytest
from cryptography.fernet import Fernet
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from tests.cli.test_cli import one_line, sfsync

pytestmark = pytest.mark.integration


@pytest.fixture
def env(migrated_database_url: str, amqp_url: str) -> Iterator[dict[str, str]]:
    """A queue prefix of its own; its queues are deleted afterwards."""
    prefix = f"q{secrets.token_hex(4)}"
    yield {
        "DATABASE_URL": migrated_database_url,
        "AMQP_URL": amqp_url,
        "SFSYNC_QUEUE_PREFIX": prefix,
        "SFSYNC_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    for suffix in ("", ".DQ", ".XQ"):
        connection.channel().queue_delete(f"{prefix}.sfsync{suffix}")
    connection.close()


def declare_plain(amqp_url: str, name: str, **arguments: object) -> None:
    """What another service's publisher does: a plain durable queue."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    connection.channel().queue_declare(name, durable=True, arguments=arguments or None)
    connection.close()


def test_the_worker_refuses_a_queue_declared_by_someone_else(env):
    queue = f"{env['SFSYNC_QUEUE_PREFIX']}.sfsync"
    declare_plain(env["AMQP_URL"], queue)
    result = sfsync("worker", **env)
    assert result.returncode == 1
    line = one_line(result)
    assert f"queue {queue} was declared by someone else" in line
    assert "x-dead-letter-exchange" in line
    assert "rabbitmqctl delete_queue" in line and "SFSYNC_QUEUE_PREFIX" in line
    assert "Traceback" not in result.stdout + result.stderr


def test_health_checks_the_queue_arguments(env):
    queue = f"{env['SFSYNC_QUEUE_PREFIX']}.sfsync"
    declare_plain(env["AMQP_URL"], queue)
    result = sfsync("health", **env)
    assert result.returncode == 1
    assert f"queue {queue} was declared by someone else" in one_line(result)


def test_health_names_a_dead_letter_queue_with_another_ttl(env):
    queue = f"{env['SFSYNC_QUEUE_PREFIX']}.sfsync"
    declare_plain(env["AMQP_URL"], f"{queue}.XQ", **{"x-message-ttl": 1000})
    line = one_line(sfsync("health", **env))
    assert f"queue {queue}.XQ" in line and "x-message-ttl" in line


def test_health_says_when_the_queues_do_not_exist_yet(env):
    result = sfsync("health", **env)
    assert (result.returncode, result.stderr) == (0, "")
    assert "not declared yet" in result.stdout


def test_health_accepts_the_queues_dramatiq_declares(env):
    queue = f"{env['SFSYNC_QUEUE_PREFIX']}.sfsync"
    broker = RabbitmqBroker(url=env["AMQP_URL"])
    broker.declare_queue(queue, ensure=True)
    broker.close()
    result = sfsync("health", **env)
    assert (result.returncode, result.stderr) == (0, "")
    assert "queues: ok" in result.stdout
