"""No personal data in logs, runs, events or metrics: a real `sfsync worker` process, grepped
whole.

The worker runs as ops run it (`python -m sfsync.entrypoints.cli worker`, JSON logs on
stderr) against the emulator, seeded with Contacts whose personal data is distinctive. It
then imports them, is fed bad messages that carry personal data, and meets Salesforce errors
whose text echoes record values. Every byte it logged, every column of its runs, every dead
letter reason, every sync.completed event it published and its /metrics must hold none of
those values.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.salesforce.hosts import parse_origin
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping
from sfsync.entrypoints.bootstrap import Container, build, events_exchange, oauth_app
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.entrypoints.settings import Settings, queue_name
from sfsync.services.accounts import add_attribute, save_settings
from sfsync_emulator.harness import Emulator
from tests.e2e.conftest import free_port, key, poll, samples, scrape, send_raw

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# Contacts in Salesforce (imported, so they must reach the candidates table and nothing else)
ADA = {
    "Email": "quixotella.brambleworth@zephyrmail.example",
    "FirstName": "Quixotella",
    "LastName": "Brambleworth",
    "Phone": "+44 7700 900461",
    "Nickname__c": "Wrenfeather",
    "Notes__c": "allergic to Thistlewick pollen",
    "Alt_Email__c": "qb.private@hollowmere.example",
}
GRACE = {
    "Email": "ysolde.marchbank@veilpost.example",
    "FirstName": "Ysolde",
    "LastName": "Marchbank",
    "Phone": "+1 202 555 0187",
    "Nickname__c": "Cindermoss",
}
MAPPINGS = {
    "phone": "Phone",
    "nickname_c": "Nickname__c",
    "notes_c": "Notes__c",
    "alt_email_c": "Alt_Email__c",
}
# In bad messages only
STRANGER = {
    "email": "ottoline.featherstonehaugh@quillnest.example",
    "name": "Ottoline Featherstonehaugh",
    "phone": "+1 415 555 0143",
}
SEEDED = [
    *ADA.values(),
    *GRACE.values(),
    *STRANGER.values(),
    "Featherstonehaugh",
    "Thistlewick",
    "7700900461",
    "2025550187",
    "4155550143",
]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _request(account: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "sync.requested",
        "version": 1,
        "id": str(uuid.uuid4()),
        "requested_at": _now(),
        "account_id": account,
        "scope": "import",
        "candidate_id": None,
        "trigger": "manual",
        "full_resync": False,
        **fields,
    }


def _signup(account: str) -> bytes:
    """A candidate sign-up with its email: handled (flagged or not), never logged."""
    return json.dumps(
        {
            "type": "candidate.signed_up",
            "version": 1,
            "id": str(uuid.uuid4()),
            "occurred_at": _now(),
            "account_id": account,
            "candidate_id": "cand_1",
            "email": STRANGER["email"],
        }
    ).encode()


def _bad_messages(account: str) -> list[bytes]:
    """Bad messages a careless or hostile publisher could send, each with personal data."""
    email, name, phone = STRANGER["email"], STRANGER["name"], STRANGER["phone"]

    def request(**fields: Any) -> bytes:
        return json.dumps({**_request(account), **fields}).encode()

    return [
        # not JSON at all
        f'{{"type": "sync.requested", "email": "{email}", "phone": "{phone}"'.encode(),
        # valid JSON, an unknown field holding a name, a required field missing
        request(nickname=name, scope=None),
        # a wrong-typed field holding an email
        request(full_resync=email),
        # a wrong `type` value holding a name
        request(type=name, phone=phone),
        # a wrong scope and version holding personal data
        request(scope=email, version=4155550143),
        # a huge field (~0.5 MB of text)
        request(trigger=(name + " ") * 20_000),
        # an otherwise valid request whose ids are an email and a phone number
        request(id=email, candidate_id=phone),
        # a 1 MB id: a run of word characters with no '@' (quadratic for a naive email regex)
        request(id="x" * 1_000_000),
    ]


class WorkerProcess:
    """`sfsync worker` as a subprocess, stdout and stderr into one file."""

    def __init__(self, settings: Settings, log_path: Path, level: str, **extra_env: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "AMQP_URL": settings.amqp_url,
            "SFSYNC_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
            "SFSYNC_QUEUE_PREFIX": settings.queue_prefix,
            "SFSYNC_SF_CLIENT_ID": settings.sf_client_id,
            "SFSYNC_SF_CLIENT_SECRET": settings.sf_client_secret,
            "SFSYNC_SF_REDIRECT_URI": settings.sf_redirect_uri,
            "SFSYNC_SF_CA_BUNDLE": settings.sf_ca_bundle or "",
            "SFSYNC_SF_ALLOWED_ORIGINS": ",".join(settings.sf_allowed_origins),
            "SFSYNC_WORKER_THREADS": "2",
            "SFSYNC_SIGNUP_DELAY_MS": "500",
            "SFSYNC_LOG_LEVEL": level,
            "SFSYNC_LOG_FORMAT": "json",
            "SFSYNC_METRICS_PORT": str(self.port),
            **extra_env,
        }
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sfsync.entrypoints.cli", "worker"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def setup(
    migrated_database_url: str,
    amqp_url: str,
    queue_prefix: str,
    sf_emulator: Emulator,
) -> Iterator[tuple[Container, AccountId]]:
    """A container on a queue of its own (the session's in-process worker never sees it)."""
    settings = Settings(
        database_url=migrated_database_url,
        amqp_url=amqp_url,
        encryption_keys=(TokenCipher.generate_key(),),
        queue_prefix=f"{queue_prefix}pd{secrets.token_hex(2)}",
        sf_client_id=sf_emulator.client_id,
        sf_client_secret=sf_emulator.client_secret,
        sf_redirect_uri=sf_emulator.redirect_uri,
        sf_ca_bundle=sf_emulator.ca_path,
        sf_allowed_origins=(parse_origin(sf_emulator.base_url),),
    )
    container = build(settings, pool_size=2)
    sf_emulator.admin.reset(contacts=0)
    account = AccountId(f"acc_{secrets.token_hex(4)}")
    save_settings(container.uow(), AccountSettings(account))
    for name, field in MAPPINGS.items():
        add_attribute(container.uow(), account, AttributeMapping(name, field))
    app = oauth_app(settings, sf_emulator.base_url)
    with httpx.Client(verify=sf_emulator.ssl_context(), timeout=30) as client:
        connect_without_browser(container.uow(), client, app, account)
    try:
        yield container, account
    finally:
        container.close()


def _rows(container: Container, sql: str, *params: Any) -> list[str]:
    with container.pool.connection() as conn:
        return [row[0] for row in conn.execute(sql, params).fetchall()]


def _leaks(where: str, text: str) -> list[str]:
    found = []
    lowered = text.lower()
    for value in SEEDED:
        at = lowered.find(value.lower())
        if at >= 0:
            context = text[max(0, at - 150) : at + len(value) + 50].replace("\n", " | ")
            found.append(f"{where}: {value!r} in ...{context}...")
    return found


def _run_lines(log: str, request_id: str) -> list[dict[str, Any]]:
    """The run.* lines the worker logged for one request, in order."""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [
        line
        for line in lines
        if str(line.get("event", "")).startswith("run.") and line.get("request_id") == request_id
    ]


@pytest.mark.parametrize("level", ["info", "debug"])
def test_no_personal_data_in_logs_runs_or_events(setup, sf_emulator, tmp_path, level):
    container, account = setup
    settings = container.settings
    queue = queue_name(settings)
    emu = sf_emulator.admin
    emu.create_contact(**ADA)
    emu.create_contact(**GRACE)
    worker = WorkerProcess(settings, tmp_path / "worker.log", level)
    events: list[dict[str, Any]] = []
    try:
        poll(lambda: "worker.started" in worker.text(), 60, "worker start")
        exchange = events_exchange(settings)
        with EventListener(settings.amqp_url, "sync.completed", exchange) as listener:
            # 1. a whole import
            first = _request(account, full_resync=True)
            send_raw(settings.amqp_url, queue, json.dumps(first).encode())
            event = listener.next_for(first["id"], wait=120)
            assert event is not None, "no sync.completed for the import"
            events.append(event)
            assert event["status"] == "succeeded", event

            # 2. bad messages carrying personal data
            bad = _bad_messages(account)
            for raw in bad:
                send_raw(settings.amqp_url, queue, raw)
            count = "SELECT count(*) FROM dead_letters WHERE queue = %s"
            poll(lambda: _rows(container, count, queue)[0] >= len(bad), 60, "dead letters")

            # 3. Salesforce errors whose text echoes record values: transient, then refused
            echo = f"{GRACE['Email']} {GRACE['FirstName']} {GRACE['LastName']} {GRACE['Phone']}"
            emu.add_fault(status=503, count=1, path="/query", message=f"busy near {echo}")
            emu.add_fault(
                status=400,
                count=1,
                path="/query",
                error_code="MALFORMED_QUERY",
                message=f"unexpected token: '{GRACE['Email']}' near {echo}",
            )
            second = _request(account, full_resync=True)
            send_raw(settings.amqp_url, queue, json.dumps(second).encode())
            event = listener.next_for(second["id"], wait=120)
            assert event is not None, "no sync.completed for the refused import"
            events.append(event)
            assert event["status"] == "failed", event

            # 4. a sign-up whose email no Contact holds: recorded, its flush logged
            send_raw(settings.amqp_url, queue, _signup(account))
            settled = "SELECT outcome FROM signups WHERE account_id = %s AND outcome <> 'pending'"
            poll(lambda: _rows(container, settled, account), 60, "sign-up settled")
        metrics = scrape(worker.port).text
    finally:
        worker.stop()
        emu.clear_faults()
    log = worker.text()

    # the run really handled personal data, and logged what it did
    stored = _rows(
        container,
        "SELECT c::text FROM candidates c WHERE account_id = %s ORDER BY email",
        account,
    )
    assert len(stored) == 2 and "Thistlewick" in stored[0] + stored[1]
    assert "worker.started" in log and "message.dead_lettered" in log
    assert "salesforce.retry" in log  # the 503 echoing values was met, and retried
    # what is kept of Salesforce's refusal: its code, our wording
    (error,) = events[1]["errors"]
    assert error["message"].startswith("MALFORMED_QUERY: Salesforce refused GET query")

    # each run logged its start, its page and its end, with its ids on every line
    imported, refused = (_run_lines(log, event["request_id"]) for event in events)
    assert [line["event"] for line in imported] == ["run.started", "run.page", "run.finished"]
    assert [line["event"] for line in refused] == ["run.started", "run.finished"]
    for lines, event in ((imported, events[0]), (refused, events[1])):
        assert {(line["account_id"], line["run_id"]) for line in lines} == {
            (account, event["run_id"])
        }
        assert lines[-1]["status"] == event["status"]
    assert imported[1]["counts"] == imported[-1]["totals"] == {"seen": 2, "created": 2}
    assert refused[-1]["error"] == error["code"]

    # the metrics counted what happened: runs, records, calls, dead letters, the account's quota
    counted = samples(metrics)
    assert counted[key("sfsync_runs_total", scope="import", status="failed")] == 1
    assert counted[key("sfsync_records_total", outcome="created", reason="")] == 2
    assert counted[key("sfsync_salesforce_calls_total", kind="GET queryAll")] >= 2
    invalid = key("sfsync_messages_total", type="sfsync.invalid_message", outcome="dead_lettered")
    assert counted[invalid] >= 1
    assert counted[key("sfsync_salesforce_api_remaining", account_id=account)] > 0

    runs = _rows(container, "SELECT r::text FROM sync_runs r WHERE account_id = %s", account)
    assert len(runs) == 2
    reasons = _rows(container, "SELECT reason FROM dead_letters WHERE queue = %s", queue)
    assert len(reasons) == len(_bad_messages(account))

    leaks = [
        *_leaks("worker log", log),
        *_leaks("sync_runs", "\n".join(runs)),
        *_leaks("dead_letters.reason", "\n".join(reasons)),
        *_leaks("sync.completed", "\n".join(json.dumps(e) for e in events)),
        *_leaks("metrics", metrics),
    ]
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks[:40])
