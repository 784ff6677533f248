"""Schedulers on the real Postgres and RabbitMQ: two at once publish each slot once."""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pika
import psycopg
import pytest

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.entrypoints.bootstrap import Container, build
from sfsync.entrypoints.settings import Settings, queue_name
from sfsync.services.scheduler import Tick
from tests.fakes import FixedClock

pytestmark = pytest.mark.integration
LA = ZoneInfo("America/Los_Angeles")
# Long before any other test's account was created, so only this test's are due.
MIDNIGHT = datetime(2021, 1, 16, 0, 0, 30, tzinfo=LA).astimezone(UTC)


@pytest.fixture
def accounts(migrated_database_url: str) -> Iterator[list[str]]:
    """120 connected accounts (no push: one import a day), created in 2020."""
    prefix = f"acc_two_{secrets.token_hex(3)}"
    ids = [f"{prefix}_{n:03d}" for n in range(120)]
    with psycopg.connect(migrated_database_url) as conn:
        conn.execute(
            "INSERT INTO accounts (id, created_at)"
            " SELECT id, '2020-01-01Z' FROM unnest(%s::text[]) id",
            (ids,),
        )
        conn.execute("INSERT INTO account_settings (account_id) SELECT unnest(%s::text[])", (ids,))
        conn.execute(
            "INSERT INTO salesforce_connections (account_id, instance_url, login_url,"
            " access_token_enc) SELECT id, 'https://x.my.salesforce.com', '', '\\x00'"
            " FROM unnest(%s::text[]) id",
            (ids,),
        )
    yield ids
    with psycopg.connect(migrated_database_url) as conn:
        conn.execute("DELETE FROM accounts WHERE id = ANY(%s)", (ids,))


def scheduler_container(database_url: str, amqp_url: str, prefix: str) -> Container:
    settings = Settings(
        database_url=database_url,
        amqp_url=amqp_url,
        encryption_keys=(TokenCipher.generate_key(),),
        queue_prefix=prefix,
        schedule_batch=7,  # many small transactions, so the two interleave
    )
    return build(settings, pool_size=2)


def drain(amqp_url: str, queue: str) -> list[dict[str, object]]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel, bodies = connection.channel(), []
        while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
            bodies.append(json.loads(got[2]))
        channel.queue_delete(queue)
        return bodies
    finally:
        connection.close()


def test_two_schedulers_ticking_at_once_publish_each_slot_exactly_once(
    accounts, migrated_database_url, amqp_url, queue_prefix
):
    prefix = f"{queue_prefix}two{secrets.token_hex(2)}"
    containers = [scheduler_container(migrated_database_url, amqp_url, prefix) for _ in "ab"]
    clock = FixedClock(MIDNIGHT)
    schedulers = [c.scheduler(clock) for c in containers]
    start = threading.Barrier(2)
    ticks: list[Tick] = []

    def run(index: int) -> None:
        start.wait()
        ticks.append(schedulers[index].tick())

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for scheduler in schedulers:  # and once more each: nothing new
            assert scheduler.tick().published == ()
        queue = queue_name(containers[0].settings)
    finally:
        for container in containers:
            container.close()
    bodies = drain(amqp_url, queue)
    assert Counter(b["account_id"] for b in bodies) == Counter(accounts)
    assert {b["trigger"] for b in bodies} == {"schedule"} and {b["scope"] for b in bodies} == {
        "import"
    }
    assert len({b["id"] for b in bodies}) == len(accounts)
    assert sum(len(t.published) for t in ticks) == len(accounts)
    with psycopg.connect(migrated_database_url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM schedule_slots WHERE account_id = ANY(%s)"
            " GROUP BY status",
            (accounts,),
        ).fetchall()
    assert dict(rows) == {"published": len(accounts), "missed": len(accounts)}
