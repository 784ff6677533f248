"""What the worker benchmarks share: the database and queue prefix they use, a fresh
`sfsync worker` subprocess, an account connected to the emulator, one timed run through
RabbitMQ, call counts from the emulator's log, and where CPU and memory went."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import requests
from simple_salesforce import Salesforce

from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.rabbitmq.requests import MessageSender
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.entrypoints.bootstrap import Container, events_exchange, oauth_app
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.entrypoints.settings import queue_name
from sfsync.services.accounts import save_settings
from sfsync_emulator.harness import Emulator

RESULTS = Path(__file__).parent / "results"
# Overridable so that two checkouts on one machine can benchmark without sharing queues
# or tables.
DATABASE_URL = os.environ.get(
    "SFSYNC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/sfsync_bench"
)
QUEUE_PREFIX = os.environ.get("SFSYNC_BENCH_QUEUE_PREFIX", "bench")
RUN_TIMEOUT = 3600
# The custom fields the import benchmarks map as attributes.
MAPPED = (
    "Favorite_Color__c",
    "Hobbies__c",
    "Age__c",
    "Score__c",
    "Donation__c",
    "Completion__c",
    "Signup_Date__c",
    "Last_Seen__c",
    "Newsletter__c",
    "Notes__c",
)


def worker_env(
    emu: Emulator, key: str, threads: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": DATABASE_URL,
        "SFSYNC_ENCRYPTION_KEYS": key,
        "SFSYNC_QUEUE_PREFIX": QUEUE_PREFIX,
        "SFSYNC_SF_CLIENT_ID": emu.client_id,
        "SFSYNC_SF_CLIENT_SECRET": emu.client_secret,
        "SFSYNC_SF_REDIRECT_URI": emu.redirect_uri,
        "SFSYNC_SF_CA_BUNDLE": emu.ca_path or "",
        "SFSYNC_SF_ALLOWED_ORIGINS": emu.base_url,
        "SFSYNC_WORKER_THREADS": str(threads),
        "SFSYNC_LOG_FORMAT": "json",
        **(extra or {}),
    }


@contextmanager
def worker_process(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A fresh `sfsync worker`; returns once it consumes; always stopped (SIGTERM, then kill)."""
    cmd = [sys.executable, "-m", "sfsync.entrypoints.cli", "worker"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while b"worker.started" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start; see {log_path}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "postgres":
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@contextmanager
def cpu_split(pids: dict[str, int], into: dict[str, Any]) -> Iterator[None]:
    """Where CPU went meanwhile: each named process, and every Postgres process together."""
    pg = postgres_pids()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    pg_before = {pid: cpu_seconds(pid) for pid in pg}
    yield
    for name, pid in pids.items():
        into[f"{name}_cpu_s"] = cpu_seconds(pid) - before[name]
    into["postgres_cpu_s"] = sum(
        cpu_seconds(pid) - pg_before.get(pid, 0.0) for pid in postgres_pids()
    )


def connected_account(container: Container, emu: Emulator, settings: AccountSettings) -> None:
    """Save the account's settings and connect it to the emulator (OAuth without a browser)."""
    save_settings(container.uow(), settings)
    app = oauth_app(container.settings, emu.base_url)
    with httpx.Client(verify=emu.ssl_context(), timeout=30) as client:
        connect_without_browser(container.uow(), client, app, settings.account_id)


def snake(field: str) -> str:
    """The attribute name a benchmark maps `field` to."""
    return field.lower().replace("__c", "_c")


def new_account_id(label: str) -> AccountId:
    return AccountId(f"bench_{label}_{secrets.token_hex(4)}")


def data_calls(emu: Emulator) -> list[dict[str, Any]]:
    """The emulator's logged /services/data requests (what counts as a Salesforce call)."""
    return [r for r in emu.admin.requests() if "/services/data" in r["path"]]


def timed_run(
    container: Container, emu: Emulator, message: dict[str, Any], worker: int
) -> dict[str, Any]:
    """One sync.requested through RabbitMQ and the worker: seconds from send to
    sync.completed; `data_calls(emu)` right after lists its Salesforce calls."""
    emu.admin.clear_requests()
    settings, cpu = container.settings, {}
    pids = {"worker": worker, "emulator": emu.process.pid}
    with (
        EventListener(settings.amqp_url, "sync.completed", events_exchange(settings)) as listener,
        MessageSender(settings.amqp_url, queue_name(settings)) as sender,
        cpu_split(pids, cpu),
    ):
        started = time.perf_counter()  # the sender's connection is open: time the worker
        sender.send(message)
        event = listener.next_for(str(message["id"]), wait=RUN_TIMEOUT)
        seconds = time.perf_counter() - started
    if event is None:
        raise RuntimeError(f"no sync.completed within {RUN_TIMEOUT}s")
    return {
        "seconds": seconds,
        "calls": len(data_calls(emu)),
        "status": event["status"],
        **cpu,
        "counts": event["counts"],
        "errors": event["errors"][:5],
    }


@contextmanager
def trusting(ca_path: str) -> Iterator[None]:
    """REQUESTS_CA_BUNDLE / SSL_CERT_FILE override a requests session's verify: point them here."""
    saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    os.environ.update(dict.fromkeys(saved, ca_path))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def simple_salesforce(emu: Emulator) -> Salesforce:
    """simple-salesforce on an admin-minted token; use it inside `trusting(emu.ca_path)`."""
    token = emu.admin.mint_token()
    session = requests.Session()
    session.verify = emu.ca_path
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session
    )


def drop_account(container: Container, account: AccountId) -> None:
    """Keep sfsync_bench small across runs: the account's rows go (candidates cascade), and
    VACUUM clears their dead rows, so the next size starts from a clean table."""
    with container.pool.connection() as conn:
        conn.execute("DELETE FROM accounts WHERE id = %s", (account,))
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("VACUUM candidates")


def report(label: str, row: dict[str, Any]) -> None:
    parts = [
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
        for k, v in row.items()
        if k not in ("counts", "errors", "call_kinds", "outcomes")
    ]
    print(f"  {label} " + " ".join(parts), flush=True)
