"""The scheduler with real workers: the 23:30 export finishes before the midnight import
reads, a republished slot is one run, and two worker processes share 20 accounts' slots."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from sfsync.adapters.rabbitmq.requests import request_body
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping, MappingDirection
from sfsync.domain.schedule import Slot
from sfsync.entrypoints.bootstrap import build, oauth_app
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.services.accounts import add_attribute, save_settings
from sfsync.services.scheduler import Tick, scheduled_request
from sfsync_emulator.harness import Emulator
from tests.e2e.conftest import free_port, key, poll, samples, scrape, worker_process_config
from tests.fakes import FixedClock

pytestmark = pytest.mark.integration
SFSYNC = [sys.executable, "-m", "sfsync.entrypoints.cli"]
LA = ZoneInfo("America/Los_Angeles")


def pacific(*args: int) -> datetime:
    """A time in January 2021: long before any other test's account was created, so a
    scheduler on this clock finds only the accounts a test dates back to 2020."""
    return datetime(2021, 1, *args, tzinfo=LA).astimezone(UTC)


def date_back(container, *accounts: str) -> None:
    with container.pool.connection() as conn:
        conn.execute(
            "UPDATE accounts SET created_at = '2020-01-01Z' WHERE id = ANY(%s)", (list(accounts),)
        )


def mine(tick: Tick, *accounts: str) -> list[Slot]:
    """The slots of `accounts` a tick published (another test's accounts dated back to
    2020 may have slots due as well)."""
    return [slot for slot in tick.published if slot.account_id in accounts]


def runs(container, *request_ids: str) -> list[tuple[str, str, str, datetime, datetime]]:
    """(request id, scope, status, started, finished) of the runs of `request_ids`."""
    with container.pool.connection() as conn:
        return conn.execute(
            "SELECT request_id, scope, status, started_at, finished_at FROM sync_runs"
            " WHERE request_id = ANY(%s) ORDER BY started_at",
            (list(request_ids),),
        ).fetchall()


def test_the_2330_export_finishes_before_the_midnight_import_reads(harness):
    """The export is slow (each write call takes 4 s); the import published at midnight
    while it runs waits for the account's lock and reads only once the export is done."""
    harness.configure(push_enabled=True)
    add_attribute(
        harness.container.uow(),
        harness.account,
        AttributeMapping("favorite_color_c", "Favorite_Color__c", MappingDirection.EXPORT),
    )
    harness.emu.admin.create_contact(Email="ada@example.com", LastName="Doe")
    assert harness.sync()["status"] == "succeeded"
    with harness.container.pool.connection() as conn:
        conn.execute(
            'UPDATE candidates SET attributes = attributes || \'{"favorite_color_c": "Purple"}\''
            " WHERE account_id = %s",
            (harness.account,),
        )
    date_back(harness.container, harness.account)
    harness.emu.admin.clear_requests()
    harness.emu.admin.add_fault(latency_ms=4_000, count=-1, method="PATCH", path="/composite")
    clock = FixedClock(pacific(15, 23, 30, 1))
    scheduler = harness.container.scheduler(clock)
    try:
        [export] = mine(scheduler.tick(), harness.account)
        poll(lambda: runs(harness.container, export.request_id()), 30, "the export started")
        clock.current = pacific(16, 0, 0, 1)
        [midnight] = mine(scheduler.tick(), harness.account)
        done = [
            harness.listener.next_for(slot.request_id(), wait=90) for slot in (export, midnight)
        ]
    finally:
        harness.emu.admin.clear_faults()
    assert [(e["scope"], e["status"]) for e in done] == [
        ("export", "succeeded"),
        ("import", "succeeded"),
    ], done
    assert done[0]["counts"]["pushed"] == 1
    (_, _, _, _, export_end), (_, _, _, import_start, _) = runs(
        harness.container, export.request_id(), midnight.request_id()
    )
    assert export_end <= import_start
    calls = harness.emu.admin.requests()
    last_write = max(n for n, r in enumerate(calls) if r["method"] == "PATCH")
    reads = [n for n, r in enumerate(calls) if r.get("soql")]
    assert reads and min(reads) > last_write  # the import read nothing before the push ended


def test_a_slot_published_again_is_the_same_request_at_the_worker(harness):
    """A scheduler that stopped between the broker's confirm and its commit sends the slot
    again with the same id: the worker runs it once and tells the client again."""
    date_back(harness.container, harness.account)
    clock = FixedClock(pacific(16, 0, 0, 1))
    [slot] = mine(harness.container.scheduler(clock).tick(), harness.account)
    first = harness.listener.next_for(slot.request_id(), wait=60)
    harness.container.send_request(request_body(scheduled_request(slot, clock.now())))
    again = harness.listener.next_for(slot.request_id(), wait=60)
    assert first is not None and again is not None
    assert again["run_id"] == first["run_id"]
    assert len(runs(harness.container, slot.request_id())) == 1


# --- two worker processes, 20 accounts ---------------------------------------------------


@pytest.fixture
def two_workers(
    migrated_database_url: str,
    amqp_url: str,
    queue_prefix: str,
    sf_emulator: Emulator,
    tmp_path: Path,
) -> Iterator[tuple[object, list[Path]]]:
    sf_emulator.admin.reset(contacts=40)
    prefix = f"{queue_prefix}w{secrets.token_hex(2)}"
    settings, env = worker_process_config(
        migrated_database_url,
        amqp_url,
        prefix,
        sf_emulator,
        SFSYNC_WORKER_THREADS="2",
        SFSYNC_MIN_BACKOFF_MS="100",  # a busy account's request comes back soon
        SFSYNC_MAX_BACKOFF_MS="500",
        SFSYNC_MAX_RETRIES="30",
    )
    container = build(settings, pool_size=2)
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    procs = []
    try:
        for log in logs:
            with open(log, "wb") as out:
                procs.append(
                    subprocess.Popen(
                        [*SFSYNC, "worker"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        for proc, log in zip(procs, logs, strict=True):
            poll(lambda log=log: b"worker.started" in log.read_bytes(), 60, "a worker started")
            assert proc.poll() is None
        yield container, logs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        container.close()


def test_two_worker_processes_run_20_accounts_slots_once_each_never_overlapping(
    two_workers, sf_emulator
):
    """Both slots of 20 accounts published at once (the scheduler was down at 23:30):
    40 runs, each once, across both processes, one account's runs one after the other."""
    container, logs = two_workers
    accounts = [AccountId(f"acc_{secrets.token_hex(4)}") for _ in range(20)]
    app = oauth_app(container.settings, sf_emulator.base_url)
    with httpx.Client(verify=sf_emulator.ssl_context(), timeout=30) as client:
        for account in accounts:
            save_settings(container.uow(), AccountSettings(account, push_enabled=True))
            connect_without_browser(container.uow(), client, app, account)
    date_back(container, *accounts)
    published = mine(container.scheduler(FixedClock(pacific(16, 0, 0, 1))).tick(), *accounts)
    ids = [slot.request_id() for slot in published]
    assert Counter(s.kind.value for s in published) == {"export": 20, "import": 20}

    def finished() -> list[tuple[str, str, str, datetime, datetime]] | None:
        found = runs(container, *ids)
        return found if len(found) == 40 and all(r[4] for r in found) else None

    done = poll(finished, 120, "40 runs finished")
    assert Counter(r[0] for r in done) == Counter(ids)  # every slot ran, once
    assert {r[2] for r in done} == {"succeeded"}
    by_account: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    owner = {slot.request_id(): slot.account_id for slot in published}
    for request_id, _, _, started, ended in done:
        by_account[owner[request_id]].append((started, ended))
    for spans in by_account.values():
        (_, first_end), (second_start, _) = sorted(spans)
        assert first_end <= second_start  # one account's runs never overlap
    started_in = [_started(log) for log in logs]
    assert all(started_in) and set().union(*started_in) == set(ids)  # both took part


def _started(log: Path) -> set[str]:
    found = set()
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"run.started"' in line:
            found.add(json.loads(line)["request_id"])
    return found


def test_scheduler_command_on_a_fast_clock_publishes_an_export_then_an_import(
    two_workers, sf_emulator, tmp_path
):
    """What the README's demo shows: `sfsync scheduler --fast-clock` publishes the next
    export and import of a connected account within seconds, and the workers run them."""
    container, _ = two_workers
    account = AccountId(f"acc_{secrets.token_hex(4)}")
    app = oauth_app(container.settings, sf_emulator.base_url)
    # Slots 2 and 32 minutes from now (UTC), so whichever account of the session database
    # has the next slot, this one's come within minutes of the fast clock's start.
    soon = datetime.now(UTC).replace(second=0, microsecond=0)
    export_at, import_at = (
        (soon + timedelta(minutes=2)).time(),
        (soon + timedelta(minutes=32)).time(),
    )
    settings = AccountSettings(
        account, push_enabled=True, time_zone="UTC", export_at=export_at, import_at=import_at
    )
    save_settings(container.uow(), settings)
    with httpx.Client(verify=sf_emulator.ssl_context(), timeout=30) as client:
        connect_without_browser(container.uow(), client, app, account)
    port = free_port()
    env = {**_env_of(container), "SFSYNC_LOG_FORMAT": "json", "SFSYNC_METRICS_PORT": str(port)}
    out = tmp_path / "scheduler.log"
    with open(out, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sfsync.entrypoints.cli",
                "scheduler",
                "--fast-clock",
                "--speed",
                "600",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        mine = f"of {account} "
        poll(lambda: out.read_text().count(mine) >= 2, 60, "an export and an import published")
        published = key("sfsync_scheduler_slots_total", outcome="published")
        assert samples(scrape(port).text)[published] >= 2  # its /metrics counted them
        assert scrape(port, "/healthz").json() == {"status": "ok"}
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    lines = [line for line in out.read_text().splitlines() if mine in line]
    assert [line.split()[1] for line in lines] == ["export", "import"], lines
    with container.pool.connection() as conn:

        def finished() -> list[tuple[str, str]]:
            rows = conn.execute(
                "SELECT scope, status FROM sync_runs WHERE account_id = %s"
                " AND finished_at IS NOT NULL ORDER BY started_at",
                (account,),
            ).fetchall()
            return rows if len(rows) >= 2 else []

        done = poll(finished, 60, "the runs of the fast clock's slots")
    assert sorted(done) == [("export", "succeeded"), ("import", "succeeded")]


def _env_of(container) -> dict[str, str]:
    import os

    settings = container.settings
    return os.environ | {
        "DATABASE_URL": settings.database_url,
        "AMQP_URL": settings.amqp_url,
        "SFSYNC_QUEUE_PREFIX": settings.queue_prefix,
    }
