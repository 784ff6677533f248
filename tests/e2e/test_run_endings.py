"""How runs end after a fault (issue 9): `sfsync worker` processes on RabbitMQ and Postgres,
importing from the emulator, broken mid-run by a 503 storm, by kill -9, by SIGTERM (a
graceful shutdown, issue 13), by the end of its Postgres sessions (a database restart), or
for good.

Each test starts its own worker processes (their own queue, quick retries), so one can be
killed, and compares the faulted account with a clean import of the same Contacts.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from sfsync.adapters.postgres.locks import PostgresAccountLocks
from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.entrypoints.bootstrap import Container, build, events_exchange, oauth_app
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.services.accounts import save_settings
from sfsync_emulator.harness import Emulator
from tests.e2e.conftest import Harness, poll, worker_process_config

pytestmark = pytest.mark.integration

CONTACTS = 5000  # three REST pages of 2,000: the second one is broken
KILLED = 20_000  # ten pages, a slow org: the worker is killed after the first
WORKER_APP = "sfsync-worker-under-test"
GRACE = 8  # seconds: SFSYNC_SHUTDOWN_GRACE_SECONDS's default


@attrs.define
class Workers:
    """`sfsync worker` processes sharing one queue; `container` sees the same database."""

    container: Container
    emu: Emulator
    env: dict[str, str]
    logs: Path
    running: list[subprocess.Popen[bytes]] = attrs.Factory(list)

    def start(self) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.running)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sfsync.entrypoints.cli", "worker"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.running.append(proc)
        deadline = time.monotonic() + 60
        while b"worker.started" not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        return proc

    @contextmanager
    def account(self, **settings: Any) -> Iterator[Harness]:
        """A new account connected to the emulator's org, and a listener for its events."""
        account = AccountId(f"acc_{secrets.token_hex(4)}")
        save_settings(self.container.uow(), AccountSettings(account, **settings))
        emu = self.emu
        app = oauth_app(self.container.settings, emu.base_url)
        with httpx.Client(verify=emu.ssl_context(), timeout=30) as client:
            connect_without_browser(self.container.uow(), client, app, account)
        settings = self.container.settings
        exchange = events_exchange(settings)
        with EventListener(settings.amqp_url, "sync.completed", exchange) as listener:
            yield Harness(self.container, emu, account, listener)

    def run(self, request_id: str) -> dict[str, Any]:
        with self.container.pool.connection() as conn:
            row = conn.execute(
                "SELECT status, mode, processed, expected, counts, errors FROM sync_runs"
                " WHERE request_id = %s",
                (request_id,),
            ).fetchone()
        keys = ("status", "mode", "processed", "expected", "counts", "errors")
        return dict(zip(keys, row, strict=True)) if row else {}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "sfsync.entrypoints.cli", *args]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)

    def dead_letter_id(self, event: dict[str, Any]) -> int:
        with self.container.pool.connection() as conn:
            row = conn.execute(
                "SELECT id FROM dead_letters WHERE message_id = %s", (event["request_id"],)
            ).fetchone()
        return int(row[0])

    def dead_letters(self, request_id: str) -> list[str]:
        with self.container.pool.connection() as conn:
            rows = conn.execute(
                "SELECT reason FROM dead_letters WHERE message_id = %s",
                (request_id,),
            ).fetchall()
        return [reason for (reason,) in rows]


@pytest.fixture
def workers(
    migrated_database_url: str,
    amqp_url: str,
    queue_prefix: str,
    sf_emulator: Emulator,
    tmp_path: Path,
) -> Iterator[Workers]:
    sf_emulator.admin.reset(contacts=CONTACTS)
    prefix = f"{queue_prefix}r{secrets.token_hex(2)}"
    settings, env = worker_process_config(
        migrated_database_url,
        amqp_url,
        prefix,
        sf_emulator,
        SFSYNC_WORKER_THREADS="2",
        PGAPPNAME=WORKER_APP,  # so a test can end the workers' Postgres sessions only
        SFSYNC_BULK_THRESHOLD="100000",  # REST pages of 2,000, the same in every run
        SFSYNC_MAX_RETRIES="2",
        SFSYNC_MIN_BACKOFF_MS="200",
        SFSYNC_MAX_BACKOFF_MS="1000",
    )
    container = build(settings, pool_size=2)
    found = Workers(container, sf_emulator, env, tmp_path)
    try:
        yield found
    finally:
        for proc in found.running:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        sf_emulator.admin.clear_faults()
        container.close()


def people(harness: Harness) -> list[tuple[Any, ...]]:
    """The account's candidates as data: every column but our own ids and the account."""
    with harness.container.pool.connection() as conn:
        return conn.execute(
            "SELECT salesforce_id, email, first_name, last_name, name, source_modstamp,"
            " attributes, unsubscribed, needs_review FROM candidates WHERE account_id = %s"
            " ORDER BY salesforce_id",
            (harness.account,),
        ).fetchall()


def clean_import(workers: Workers, **settings: Any) -> tuple[dict[str, Any], list[Any]]:
    """The same Contacts imported into a new account with no fault on the way."""
    workers.emu.admin.clear_faults()
    with workers.account(**settings) as clean:
        event = clean.sync(timeout=120)
        assert event["status"] == "succeeded", event["errors"]
        return event, people(clean)


def test_a_first_import_broken_mid_way_is_resumed_by_the_retry_and_ends_like_a_clean_one(
    workers,
):
    workers.start()
    # Old Contacts (the seed spans 90 days) and deletes on: a resumed run that took itself
    # for an incremental would check getDeleted from far back and end partial.
    with workers.account(deletion_behaviour="delete") as harness:
        # the second page fails past the adapter's five tries: the message is retried
        workers.emu.admin.add_fault(status=503, count=5, path="/query/01g")
        event = harness.sync(timeout=120)
        statuses = [r["status"] for r in workers.emu.admin.requests()]
        run = workers.run(event["request_id"])
        data = people(harness)
    assert statuses.count(503) == 5
    assert event["status"] == "succeeded", event["errors"]
    assert (run["mode"], run["processed"], run["expected"]) == ("full", CONTACTS, CONTACTS)
    clean, clean_data = clean_import(workers, deletion_behaviour="delete")
    assert event["counts"] == clean["counts"]
    assert data == clean_data


def test_a_worker_killed_mid_run_is_replaced_and_the_run_ends_like_a_clean_one(workers):
    workers.emu.admin.reset(contacts=KILLED)
    workers.env["SFSYNC_MAX_RETRIES"] = "6"  # room for a "busy" while Postgres ends its session
    first = workers.start()
    workers.emu.admin.add_fault(latency_ms=300, count=-1, path="/query")  # a slow org
    with workers.account() as harness:
        message = harness.request()
        poll(lambda: workers.run(message["id"]).get("processed"))
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        killed = workers.run(message["id"])
        assert killed["status"] == "running" and 0 < killed["processed"] < KILLED
        workers.start()  # RabbitMQ hands the unacknowledged message to the new worker
        event = harness.listener.next_for(message["id"], wait=120)
        data = people(harness)
    assert event is not None and event["status"] == "succeeded", event
    clean, clean_data = clean_import(workers)
    assert event["counts"] == clean["counts"] and event["counts"]["seen"] == KILLED
    assert data == clean_data


def sigterm(proc: subprocess.Popen[bytes], wait: float) -> tuple[int, float]:
    """SIGTERM to a worker process: its exit code and the seconds it took to exit."""
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(wait)
    return code, time.monotonic() - signalled


def test_sigterm_mid_run_commits_the_page_and_the_next_worker_ends_the_run_like_a_clean_one(
    workers,
):
    """SIGTERM mid-import: the worker commits the page in hand and exits within its grace
    time, leaving the message unacknowledged (no failure, no retry spent, no dead letter);
    a second worker gets it again and the run ends like an uninterrupted one, once."""
    workers.emu.admin.reset(contacts=KILLED)
    first = workers.start()
    workers.emu.admin.add_fault(latency_ms=300, count=-1, path="/query")  # a slow org
    with workers.account() as harness:
        message = harness.request()
        poll(lambda: workers.run(message["id"]).get("processed"))
        code, took = sigterm(first, GRACE + 10)
        stopped = workers.run(message["id"])
        with workers.container.pool.connection() as conn:
            (rows,) = conn.execute(
                "SELECT count(*) FROM candidates WHERE account_id = %s", (harness.account,)
            ).fetchone()
        second = workers.start()
        event = harness.listener.next_for(message["id"], wait=120)
        again = harness.listener.next_for(message["id"], wait=3)
        data = people(harness)
    first_log = log_lines(workers.logs / "worker-0.log")
    resumed = [
        line for line in log_lines(workers.logs / "worker-1.log") if line["event"] == "run.started"
    ]
    assert code == 0 and took < GRACE, (code, took)
    assert "message.left_for_redelivery" in [line["event"] for line in first_log]
    assert stopped["status"] == "running" and 0 < stopped["processed"] < KILLED, stopped
    assert stopped["processed"] % 2000 == 0  # whole REST pages only
    assert rows == stopped["counts"]["created"]  # the committed pages, nothing half-written
    assert workers.dead_letters(message["id"]) == []
    assert [(r["resumed"], r["retries"]) for r in resumed] == [(True, 0)]  # no retry spent
    assert second.poll() is None
    assert event is not None and event["status"] == "succeeded", event
    assert again is None  # one sync.completed for the request
    clean, clean_data = clean_import(workers)
    assert event["counts"] == clean["counts"] and event["counts"]["seen"] == KILLED
    assert data == clean_data


def test_sigterm_while_a_page_is_slow_stops_without_waiting_for_the_call(workers):
    """The second page is long in coming (a slow org, a Bulk job): SIGTERM stops the run at
    once, not when the call ends; the message is left for the next worker, which ends it."""
    first = workers.start()
    workers.emu.admin.add_fault(latency_ms=30_000, count=1, path="/query/01g")
    with workers.account() as harness:
        message = harness.request()
        poll(lambda: workers.run(message["id"]).get("processed"))
        code, took = sigterm(first, GRACE + 10)
        stopped = workers.run(message["id"])
        workers.start()
        event = harness.listener.next_for(message["id"], wait=120)
    assert code == 0 and took < 3, (code, took)
    assert (stopped["status"], stopped["processed"]) == ("running", 2000)
    assert workers.dead_letters(message["id"]) == []
    assert event is not None and event["status"] == "succeeded", event
    assert event["counts"]["seen"] == CONTACTS


def test_a_worker_stuck_past_its_grace_time_exits_and_the_next_one_runs_the_request(workers):
    """A call that cannot be interrupted (the first query, made before any page) outlasts
    the grace time: the worker exits 1 when it is up, as a crash would; nothing is lost."""
    workers.env["SFSYNC_SHUTDOWN_GRACE_SECONDS"] = "2"
    first = workers.start()
    workers.emu.admin.add_fault(latency_ms=30_000, count=1, path="/query")
    with workers.account() as harness:
        message = harness.request()
        poll(lambda: workers.run(message["id"]).get("status") == "running")
        time.sleep(1)  # the describe is read; the first query waits on the emulator
        code, took = sigterm(first, 30)
        workers.start()
        event = harness.listener.next_for(message["id"], wait=120)
    events = [line["event"] for line in log_lines(workers.logs / "worker-0.log")]
    assert code == 1 and 2 <= took < 4, (code, took)
    assert "worker.stop_timed_out" in events
    assert event is not None and event["status"] == "succeeded", event
    assert event["counts"]["seen"] == CONTACTS


def log_lines(path: Path) -> list[dict[str, Any]]:
    """A worker's JSON log lines (other output, if any, left out)."""
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_a_database_restart_mid_run_is_survived_and_the_run_ends_like_a_clean_one(workers):
    """Every Postgres session of the worker ends mid-run, as in a server restart: the page
    in flight is lost, the message is retried, and the first import carries on in full."""
    workers.env["SFSYNC_MAX_RETRIES"] = "6"  # a dead pooled connection may cost an attempt
    workers.start()
    workers.emu.admin.add_fault(latency_ms=300, count=-1, path="/query")  # a slow org
    with workers.account(deletion_behaviour="delete") as harness:
        message = harness.request()
        poll(lambda: workers.run(message["id"]).get("processed"))
        with workers.container.pool.connection() as conn:
            ended = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (WORKER_APP,),
            ).fetchone()[0]
        event = harness.listener.next_for(message["id"], wait=180)
        run = workers.run(message["id"])
        data = people(harness)
    assert ended > 0
    assert event is not None and event["status"] == "succeeded", event
    assert (run["mode"], run["processed"]) == ("full", CONTACTS)
    clean, clean_data = clean_import(workers, deletion_behaviour="delete")
    assert event["counts"] == clean["counts"]
    assert data == clean_data


def amqp_connections_of(pid: int) -> list[str]:
    """RabbitMQ's names ("127.0.0.1:PORT -> 127.0.0.1:5672") of the connections `pid` holds."""
    lines = subprocess.run(
        ["ss", "-tnpH", "state", "established", "( dport = :5672 )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [f"{line.split()[2]} -> {line.split()[3]}" for line in lines if f"pid={pid}," in line]


def close_amqp_connection(name: str) -> None:
    """What a broker restart does to one connection (rabbitmqctl wants its Erlang pid)."""
    listed = subprocess.run(
        ["rabbitmqctl", "list_connections", "--silent", "pid", "name"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pids = [line.split("\t")[0] for line in listed if line.endswith("\t" + name)]
    assert pids, f"no connection {name} in {listed}"
    subprocess.run(["rabbitmqctl", "close_connection", pids[0], "test"], check=True)


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl (local broker)")
def test_a_broker_connection_lost_mid_run_is_survived_and_the_run_ends_like_a_clean_one(
    workers,
):
    """RabbitMQ closes every connection of the worker mid-run, as a broker restart would:
    the worker reconnects, the message is delivered again, the run ends like a clean one."""
    worker = workers.start()
    workers.emu.admin.add_fault(latency_ms=300, count=-1, path="/query")  # a slow org
    with workers.account(deletion_behaviour="delete") as harness:
        message = harness.request()
        poll(lambda: workers.run(message["id"]).get("processed"))
        names = amqp_connections_of(worker.pid)
        for name in names:
            close_amqp_connection(name)
        event = harness.listener.next_for(message["id"], wait=180)
        run = workers.run(message["id"])
        data = people(harness)
    assert names and worker.poll() is None  # it lived through it
    assert event is not None and event["status"] == "succeeded", event
    assert (run["status"], run["mode"], run["processed"]) == ("succeeded", "full", CONTACTS)
    clean, clean_data = clean_import(workers, deletion_behaviour="delete")
    assert event["counts"] == clean["counts"]
    assert data == clean_data


def test_retries_used_up_end_the_run_as_failed_and_tell_the_client(workers):
    workers.env["SFSYNC_MAX_RETRIES"] = "1"  # two attempts, one page of 2,000 each
    workers.start()
    with workers.account() as harness:
        # every second page fails: each attempt commits one page, then no retry is left
        workers.emu.admin.add_fault(status=503, count=-1, path="/query/01g")
        event = harness.sync(timeout=120)
        run = workers.run(event["request_id"])
        reasons = poll(lambda: workers.dead_letters(event["request_id"]))
    assert event["status"] == "failed" and run["status"] == "failed"
    assert event["errors"][-1]["code"] == "salesforce_unavailable"
    assert event["counts"]["seen"] == run["counts"]["seen"] == 4000  # what was committed
    assert reasons and "salesforce_unavailable" in reasons[0]


def test_a_request_busy_on_every_attempt_still_ends_as_a_failed_run(workers):
    workers.start()
    with workers.account() as harness:
        locks = PostgresAccountLocks(workers.container.pool)
        with locks.hold(harness.account) as held:  # another run holds the account throughout
            assert held
            event = harness.sync(timeout=60)
        reasons = poll(lambda: workers.dead_letters(event["request_id"]))
        assert event["status"] == "failed" and event["errors"][0]["code"] == "busy"
        assert workers.run(event["request_id"])["status"] == "failed"
        assert reasons and reasons[0].startswith("busy")
        # ops replay the dead letter once the account is free: the request now runs
        replay = workers.cli("dead-letters", "replay", str(workers.dead_letter_id(event)))
        assert replay.returncode == 0, replay.stderr
        replayed = harness.listener.next_for(event["request_id"], wait=120)
    assert replayed is not None and replayed["status"] == "succeeded", replayed
    assert replayed["run_id"] == event["run_id"] and replayed["counts"]["seen"] == CONTACTS
