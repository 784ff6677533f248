"""Schedulers on the real Postgres and RabbitMQ: two at once publish each slot once, and a
scheduler process stopped by SIGTERM mid-tick loses no slot and doubles none."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
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


DUE_NOW = 400  # accounts whose import is due: 200 batches of 2, a tick of a second or two


@pytest.fixture
def due_accounts(migrated_database_url: str) -> Iterator[list[str]]:
    """Connected accounts (created in 2020, UTC) whose daily import was due a minute ago."""
    prefix = f"acc_due_{secrets.token_hex(3)}"
    ids = [f"{prefix}_{n:03d}" for n in range(DUE_NOW)]
    due = (datetime.now(UTC) - timedelta(minutes=1)).time().replace(microsecond=0)
    with psycopg.connect(migrated_database_url) as conn:
        conn.execute(
            "INSERT INTO accounts (id, created_at)"
            " SELECT id, '2020-01-01Z' FROM unnest(%s::text[]) id",
            (ids,),
        )
        conn.execute(
            "INSERT INTO account_settings (account_id, time_zone, import_at)"
            " SELECT unnest(%s::text[]), 'UTC', %s",
            (ids, due),
        )
        conn.execute(
            "INSERT INTO salesforce_connections (account_id, instance_url, login_url,"
            " access_token_enc) SELECT id, 'https://x.my.salesforce.com', '', '\\x00'"
            " FROM unnest(%s::text[]) id",
            (ids,),
        )
    yield ids
    with psycopg.connect(migrated_database_url) as conn:
        conn.execute("DELETE FROM accounts WHERE id = ANY(%s)", (ids,))


def poll(predicate: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f}s"
        time.sleep(0.02)


def published(database_url: str, ids: list[str]) -> int:
    with psycopg.connect(database_url) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM schedule_slots WHERE account_id = ANY(%s)"
            " AND status = 'published'",
            (ids,),
        ).fetchone()  # type: ignore[misc]
    return int(count)


def test_sigterm_mid_tick_loses_no_slot_and_the_next_scheduler_publishes_the_rest_once(
    due_accounts, migrated_database_url, amqp_url, queue_prefix, tmp_path
):
    """`sfsync scheduler` gets SIGTERM while it publishes 400 due slots: it stops between
    batches and exits 0; a second scheduler process publishes what was left, and every
    slot's request is on the queue exactly once."""
    prefix = f"{queue_prefix}term{secrets.token_hex(2)}"
    env = os.environ | {
        "DATABASE_URL": migrated_database_url,
        "AMQP_URL": amqp_url,
        "SFSYNC_QUEUE_PREFIX": prefix,
        "SFSYNC_SCHEDULE_BATCH": "2",
        "SFSYNC_SCHEDULE_TICK_SECONDS": "1",
        "SFSYNC_LOG_FORMAT": "json",
    }

    def scheduler(name: str) -> subprocess.Popen[bytes]:
        with open(tmp_path / name, "wb") as out:
            command = [sys.executable, "-m", "sfsync.entrypoints.cli", "scheduler"]
            return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    first = scheduler("first.log")
    try:
        poll(lambda: published(migrated_database_url, due_accounts), "a first batch")
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0, (tmp_path / "first.log").read_text()
    finally:
        if first.poll() is None:
            first.kill()
    cut = published(migrated_database_url, due_accounts)
    second = scheduler("second.log")
    try:
        poll(lambda: published(migrated_database_url, due_accounts) == DUE_NOW, "the rest")
    finally:
        second.terminate()
        assert second.wait(30) == 0
    bodies = drain(amqp_url, queue_name(Settings(queue_prefix=prefix)))
    ours = [b for b in bodies if b["account_id"] in set(due_accounts)]
    assert 0 < cut < DUE_NOW, "the first scheduler should have been stopped mid-tick"
    assert '"scheduler.stopped"' in (tmp_path / "first.log").read_text()
    assert Counter(b["account_id"] for b in ours) == Counter(due_accounts)
    assert len({b["id"] for b in ours}) == DUE_NOW
