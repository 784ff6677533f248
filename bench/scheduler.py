"""Benchmark the scheduler (issue 12): publish the midnight slot of 10,000 accounts.

    .venv/bin/python bench/scheduler.py [--accounts 10000] [--batch 1000]

Creates ACCOUNTS connected accounts (settings and a connection row, written with SQL) in the
bench database, then on a fixed clock runs one tick at 23:59 Pacific (recording the day
before as missed) and one at 00:00:30: the timed one, which claims every account's import
slot in Postgres and publishes its sync.requested to RabbitMQ, confirmed. Checks that the
queue holds one message per account, prints the seconds against the 10 s target, and
removes its accounts and queue.
"""

from __future__ import annotations

import argparse
import secrets
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pika
import psycopg
from common import DATABASE_URL, QUEUE_PREFIX
from cryptography.fernet import Fernet

from sfsync.adapters.postgres.createdb import ensure_database
from sfsync.adapters.postgres.migrate import migrate
from sfsync.entrypoints.bootstrap import build
from sfsync.entrypoints.settings import Settings, queue_name

TARGET_SECONDS = 10.0
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
LA = ZoneInfo("America/Los_Angeles")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def create_accounts(prefix: str, count: int) -> None:
    ids = [f"{prefix}_{n:05d}" for n in range(count)]
    with psycopg.connect(DATABASE_URL) as conn:
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


def drop_accounts(prefix: str) -> None:
    with psycopg.connect(DATABASE_URL) as conn:
        conn.execute("DELETE FROM accounts WHERE id LIKE %s", (prefix + "_%",))


def queued(queue: str, delete: bool = False) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        count = channel.queue_declare(queue, passive=True).method.message_count
        if delete:  # with the delay and dead-letter queues the publisher declared
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                channel.queue_delete(name)
        return int(count)
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    ensure_database(DATABASE_URL)
    migrate(DATABASE_URL)
    prefix = f"benchsched{secrets.token_hex(3)}"
    settings = Settings(
        database_url=DATABASE_URL,
        amqp_url=AMQP_URL,
        encryption_keys=(Fernet.generate_key().decode(),),
        queue_prefix=f"{QUEUE_PREFIX}{prefix}",
        schedule_batch=args.batch,
    )
    # Long before any other benchmark's accounts existed: only ours are due.
    clock = Clock(datetime(2021, 1, 15, 23, 59, tzinfo=LA).astimezone(UTC))
    create_accounts(prefix, args.accounts)
    try:
        with build(settings, pool_size=2) as container:
            scheduler = container.scheduler(clock)
            began = time.perf_counter()
            before = scheduler.tick()
            warm = time.perf_counter() - began
            clock.current = datetime(2021, 1, 16, 0, 0, 30, tzinfo=LA).astimezone(UTC)
            began = time.perf_counter()
            tick = scheduler.tick()
            seconds = time.perf_counter() - began
        count = queued(queue_name(settings), delete=True)
    finally:
        drop_accounts(prefix)
    verdict = "PASS" if seconds < TARGET_SECONDS and count == args.accounts else "FAIL"
    print(f"23:59 tick (records {before.missed} missed slots): {warm:.2f} s")
    print(
        f"midnight slot of {args.accounts} accounts: {len(tick.published)} published,"
        f" {count} queued, {seconds:.2f} s (target < {TARGET_SECONDS:.0f} s) {verdict}"
    )


if __name__ == "__main__":
    main()
