"""Every line a real `sfsync worker` process logs while it handles a message carries the
message's context: account_id, request_id, run_id and message_id (JSON logs, as in
production), from every thread the run uses; and the process serves its HTTP port."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.entrypoints.bootstrap import Container, build, events_exchange, oauth_app
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.services.accounts import save_settings
from sfsync_emulator.harness import Emulator
from tests.e2e.conftest import free_port, poll, scrape, worker_process_config

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CONTEXT = ("account_id", "request_id", "run_id", "message_id")


class Worker:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sfsync.entrypoints.cli", "worker"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def lines(self) -> list[dict[str, Any]]:
        text = self.log_path.read_text("utf-8", "replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self._log.close()


@pytest.fixture
def running(
    migrated_database_url: str,
    amqp_url: str,
    queue_prefix: str,
    sf_emulator: Emulator,
    tmp_path: Path,
) -> Iterator[tuple[Container, AccountId, Worker, int]]:
    port = free_port()
    settings, env = worker_process_config(
        migrated_database_url,
        amqp_url,
        f"{queue_prefix}lc{secrets.token_hex(2)}",
        sf_emulator,
        SFSYNC_WORKER_THREADS="1",
        SFSYNC_LOG_LEVEL="info",
        SFSYNC_METRICS_PORT=str(port),
    )
    container = build(settings, pool_size=2)
    sf_emulator.admin.reset(contacts=0)
    account = AccountId(f"acc_{secrets.token_hex(4)}")
    save_settings(container.uow(), AccountSettings(account))
    with salesforce_http(settings.sf_ca_bundle) as client:
        connect_without_browser(
            container.uow(), client, oauth_app(settings, sf_emulator.base_url), account
        )
    worker = Worker(env, tmp_path / "worker.log")
    try:
        started = lambda: any(line["event"] == "worker.started" for line in worker.lines())  # noqa: E731
        poll(started, 60, "worker start")
        yield container, account, worker, port
    finally:
        worker.stop()
        sf_emulator.admin.clear_faults()
        container.close()


def request(account: str) -> dict[str, Any]:
    return {
        "type": "sync.requested",
        "version": 1,
        "id": f"req-{secrets.token_hex(4)}",
        "requested_at": "2026-01-01T00:00:00Z",
        "account_id": account,
        "scope": "import",
        "trigger": "manual",
    }


def handled_lines(worker: Worker) -> list[dict[str, Any]]:
    """Between its start and its stop the worker did one thing: handle the message."""
    lines = worker.lines()
    names = [line["event"] for line in lines]
    return lines[names.index("worker.started") + 1 : names.index("worker.stopping")]


def test_every_line_of_a_message_carries_its_ids(running, sf_emulator):
    container, account, worker, port = running
    for i in range(5):
        sf_emulator.admin.create_contact(Email=f"ctx{i}@example.com", LastName=f"C{i}")
    sf_emulator.admin.add_fault(status=503, count=1, path="/query")  # a retry, logged
    assert scrape(port, "/healthz").json() == {"status": "ok"}
    assert scrape(port, "/readyz").json()["status"] == "ok"

    settings = container.settings
    with EventListener(settings.amqp_url, "sync.completed", events_exchange(settings)) as events:
        message = request(account)
        container.send_request(message)  # as the web app sends it
        event = events.next_for(message["id"], wait=60)
    assert event is not None and event["status"] == "succeeded", event
    worker.stop()

    handled = handled_lines(worker)
    events_seen = [line["event"] for line in handled]
    assert "salesforce.retry" in events_seen and "run.page" in events_seen, events_seen
    expected = {
        "account_id": account,
        "request_id": message["id"],
        "run_id": event["run_id"],
        "message_id": message["id"],
    }
    for line in handled:
        assert {key: line.get(key) for key in CONTEXT} == expected, line
    assert not [line for line in handled if "body" in line or "ctx0@example.com" in str(line)]


def test_the_lines_of_a_dead_lettered_message_carry_its_ids_too(running):
    """A request for an account sfsync does not know: failed, dead-lettered and recorded,
    each line with the message's ids (no run was started, so no run id)."""
    container, _, worker, _ = running
    message = request("acc_unknown_here")
    container.send_request(message)
    poll(lambda: "message.dead_lettered" in str(worker.lines()), 30, "the dead letter")
    worker.stop()

    handled = handled_lines(worker)
    names = [line["event"] for line in handled]
    assert "message.failed" in names and "message.dead_lettered" in names, names  # and Dramatiq's
    for line in handled:
        assert line["message_id"] == line["request_id"] == message["id"], line
        assert line["account_id"] == "acc_unknown_here" and "run_id" not in line, line
