"""Benchmark a full import through the worker against the floor and a naive peer (issue 5).

    .venv/bin/python bench/import.py --sizes 10000,100000,1000000

For each N, against a fresh HTTPS emulator seeded with N Contacts and a fresh worker process:
  ours      sync.requested -> sync.completed through RabbitMQ and `sfsync worker`; seconds,
            rows/s, worker peak RSS (VmHWM) and Salesforce calls (/services/data only)
  floor     COPY FROM of the same final candidates rows into an empty table shaped like
            candidates (a logged table, like candidates itself)
  naive     simple-salesforce query_all_iter + psycopg executemany upsert into a plain table
  incr 1%   1% of Contacts changed through the admin API, then an incremental import
  incr 0    an incremental import with nothing changed
Sizes up to 10,000 run five times (`--repeat`), each with a fresh emulator and worker, and
report medians: one sub-second run varies by about 10% on a shared machine.
Prints a table with the issue's targets marked PASS/FAIL and writes bench/results/*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import requests
from cryptography.fernet import Fernet
from psycopg.types.json import Jsonb
from simple_salesforce import Salesforce

from sfsync.adapters.postgres.createdb import ensure_database
from sfsync.adapters.postgres.migrate import migrate
from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.rabbitmq.requests import MessageSender
from sfsync.domain import model
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping
from sfsync.entrypoints.bootstrap import Container, build, events_exchange, oauth_app
from sfsync.entrypoints.codec import sync_request
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.entrypoints.settings import Settings, queue_name
from sfsync.services.accounts import add_attribute, save_settings
from sfsync_emulator.harness import Emulator, run_emulator

RESULTS = Path(__file__).parent / "results"
# Overridable so that two checkouts on one machine can benchmark without sharing queues
# or tables (floor_candidates, naive_contacts).
DATABASE_URL = os.environ.get(
    "SFSYNC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/sfsync_bench"
)
QUEUE_PREFIX = os.environ.get("SFSYNC_BENCH_QUEUE_PREFIX", "bench")
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
BASE_FIELDS = (*model.BASE_FIELDS, model.CURSOR_FIELD, "gq_import__c", "is_deleted__c")
SOQL = f"SELECT {', '.join(BASE_FIELDS + MAPPED)} FROM Contact"  # what our worker asks for
NAIVE_TABLE = """
CREATE TABLE IF NOT EXISTS naive_contacts (
    account_id text NOT NULL, email_key text NOT NULL, email text NOT NULL,
    salesforce_id text, first_name text, last_name text, name text,
    source_modstamp timestamptz, attributes jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (account_id, email_key))"""
NAIVE_UPSERT = """
INSERT INTO naive_contacts (account_id, email_key, email, salesforce_id, first_name,
                            last_name, name, source_modstamp, attributes)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (account_id, email_key) DO UPDATE SET
    email = EXCLUDED.email, salesforce_id = EXCLUDED.salesforce_id,
    first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, name = EXCLUDED.name,
    source_modstamp = EXCLUDED.source_modstamp, attributes = EXCLUDED.attributes"""
NAIVE_CHUNK = 2000  # one executemany per page of records, as query_all_iter yields them
RUN_TIMEOUT = 3600


def snake(field: str) -> str:
    return field.lower().replace("__c", "_c")


def worker_env(emu: Emulator, key: str, threads: int) -> dict[str, str]:
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


def set_up_account(container: Container, emu: Emulator, size: int) -> AccountId:
    account = AccountId(f"bench_{size}_{secrets.token_hex(4)}")
    save_settings(container.uow(), AccountSettings(account))
    app = oauth_app(container.settings, emu.base_url)
    with httpx.Client(verify=emu.ssl_context(), timeout=30) as client:
        connect_without_browser(container.uow(), client, app, account)
    for field in MAPPED:
        add_attribute(container.uow(), account, AttributeMapping(snake(field), field))
    return account


def warm_emulator(emu: Emulator) -> None:
    """One untimed query first: whichever side ran first paid the new emulator's warm-up."""
    token = emu.admin.mint_token()
    with httpx.Client(verify=emu.ssl_context(), timeout=60) as client:
        client.get(
            f"{token['instance_url']}/services/data/v60.0/query",
            params={"q": SOQL},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        ).raise_for_status()


def data_calls(emu: Emulator) -> int:
    return sum("/services/data" in r["path"] for r in emu.admin.requests())


def timed_import(
    container: Container, emu: Emulator, account: AccountId, worker: int
) -> dict[str, Any]:
    """One import through RabbitMQ and the worker: seconds from send to sync.completed."""
    emu.admin.clear_requests()
    settings, cpu = container.settings, {}
    pids = {"worker": worker, "emulator": emu.process.pid}
    with (
        EventListener(settings.amqp_url, "sync.completed", events_exchange(settings)) as listener,
        MessageSender(settings.amqp_url, queue_name(settings)) as sender,
        cpu_split(pids, cpu),
    ):
        message = sync_request(account)
        started = time.perf_counter()  # the sender's connection is open: time the worker
        sender.send(message)
        event = listener.next_for(str(message["id"]), wait=RUN_TIMEOUT)
        seconds = time.perf_counter() - started
    if event is None:
        raise RuntimeError(f"no sync.completed within {RUN_TIMEOUT}s")
    return {
        "seconds": seconds,
        "calls": data_calls(emu),
        "status": event["status"],
        **cpu,
        "counts": event["counts"],
        "errors": event["errors"][:5],
    }


def change_contacts(
    container: Container, emu: Emulator, account: AccountId, share: float
) -> dict[str, Any]:
    """Change `share` of the imported Contacts one by one (the admin API has no bulk update)."""
    with container.pool.connection() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT salesforce_id FROM candidates WHERE account_id = %s AND salesforce_id"
                " IS NOT NULL ORDER BY random() LIMIT %s",
                (account, max(1, round(emu_size(emu) * share))),
            )
        ]
    started = time.perf_counter()
    for n, rid in enumerate(ids):
        emu.admin.update_contact(rid, Notes__c=f"changed by bench {n}")
    return {"changed": len(ids), "admin_seconds": time.perf_counter() - started}


def emu_size(emu: Emulator) -> int:
    return int(emu.admin.state()["contacts"])


def floor_copy(account: AccountId) -> dict[str, Any]:
    """COPY the account's candidates out to a file, then time COPY FROM into an empty twin."""
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn, tempfile.TemporaryFile() as f:
        with conn.cursor().copy(
            "COPY (SELECT * FROM candidates WHERE account_id = %s) TO STDOUT", (account,)
        ) as copy:
            for chunk in copy:
                f.write(chunk)
        conn.execute("DROP TABLE IF EXISTS floor_candidates")
        conn.execute("CREATE TABLE floor_candidates (LIKE candidates INCLUDING ALL)")
        f.seek(0)
        started = time.perf_counter()
        with conn.transaction(), conn.cursor().copy("COPY floor_candidates FROM STDIN") as copy:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM floor_candidates").fetchone()[0]
        conn.execute("DROP TABLE floor_candidates")
    return {"seconds": seconds, "rows": rows}


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


def naive_rows(records: Iterator[dict[str, Any]], account: str) -> Iterator[tuple[Any, ...]]:
    for r in records:
        if not r.get("Email"):
            continue
        yield (
            account,
            r["Email"].strip().lower(),
            r["Email"],
            r["Id"],
            r["FirstName"],
            r["LastName"],
            r["Name"],
            r["SystemModstamp"],
            Jsonb({snake(f): r[f] for f in MAPPED if r.get(f) is not None}),
        )


def naive_peer(emu: Emulator, account: str) -> dict[str, Any]:
    """What most people would write: simple-salesforce query_all_iter + executemany upsert."""
    emu.admin.clear_requests()
    token = emu.admin.mint_token()
    with trusting(emu.ca_path or ""), psycopg.connect(DATABASE_URL) as conn:
        conn.execute(NAIVE_TABLE)
        conn.commit()
        session = requests.Session()
        session.verify = emu.ca_path
        started = time.perf_counter()
        sf = Salesforce(
            instance_url=token["instance_url"], session_id=token["access_token"], session=session
        )
        chunk: list[tuple[Any, ...]] = []
        with conn.cursor() as cur:
            for row in naive_rows(sf.query_all_iter(SOQL), account):
                chunk.append(row)
                if len(chunk) == NAIVE_CHUNK:
                    cur.executemany(NAIVE_UPSERT, chunk)
                    chunk = []
            cur.executemany(NAIVE_UPSERT, chunk)
        conn.commit()
        seconds = time.perf_counter() - started
        rows = conn.execute(
            "SELECT count(*) FROM naive_contacts WHERE account_id = %s", (account,)
        ).fetchone()[0]
    return {"seconds": seconds, "rows": rows, "calls": data_calls(emu)}


def candidate_count(container: Container, account: AccountId) -> int:
    with container.pool.connection() as conn:
        return conn.execute(
            "SELECT count(*) FROM candidates WHERE account_id = %s", (account,)
        ).fetchone()[0]


def bench_size(size: int, key: str, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"n": size}
    started = time.perf_counter()
    with run_emulator(contacts=size, https=True, startup_timeout=600) as emu:
        result["emulator_start_seconds"] = time.perf_counter() - started
        warm_emulator(emu)
        env = worker_env(emu, key, args.threads)
        container = build(Settings.from_env(env), pool_size=2)
        account = set_up_account(container, emu, size)
        try:
            with worker_process(env, logs / f"worker-{size}.log") as worker:
                ours = timed_import(container, emu, account, worker.pid)
                ours["rss_mb"] = peak_rss_mb(worker.pid)
                ours["rows"] = candidate_count(container, account)
                ours["rows_per_s"] = size / ours["seconds"]
                result["ours"] = ours
                report(f"ours   {size:>9,}", ours)
                result["change"] = change_contacts(container, emu, account, args.change_share)
                result["incremental_changed"] = timed_import(container, emu, account, worker.pid)
                report("incr changed    ", result["incremental_changed"])
                result["incremental_nothing"] = timed_import(container, emu, account, worker.pid)
                report("incr nothing    ", result["incremental_nothing"])
                result["worker_rss_end_mb"] = peak_rss_mb(worker.pid)
            result["floor"] = floor_copy(account)
            report("floor           ", result["floor"])
            result["naive"] = naive_peer(emu, f"{account}_naive")
            report("naive           ", result["naive"])
        finally:
            drop_account(container, account)
            container.close()
    return result


def measured(size: int, key: str, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    """One run per size, or for small sizes (a run of well under a second varies by about
    10% on a shared machine) `--repeat` runs, each with a fresh emulator and worker: the
    run whose own time is the median is reported, with the naive peer's median time."""
    if size > args.repeat_up_to or args.repeat <= 1:
        return bench_size(size, key, args, logs)
    runs = [bench_size(size, key, args, logs) for _ in range(args.repeat)]
    runs.sort(key=lambda r: r["ours"]["seconds"])
    result = runs[len(runs) // 2]
    naive = sorted(r["naive"]["seconds"] for r in runs)
    result["naive"] = {**result["naive"], "seconds": naive[len(naive) // 2]}
    result["samples"] = {
        "ours_seconds": sorted(r["ours"]["seconds"] for r in runs),
        "naive_seconds": naive,
    }
    print(
        f"  {size:,} x{len(runs)}: medians ours {result['ours']['seconds']:.3f} s, "
        f"naive {result['naive']['seconds']:.3f} s",
        flush=True,
    )
    return result


def drop_account(container: Container, account: AccountId) -> None:
    """Keep sfsync_bench small across runs: the account's rows go (candidates cascade), and
    VACUUM clears their dead rows, so the next size starts from a clean table, like the floor."""
    with container.pool.connection() as conn:
        conn.execute("DROP TABLE IF EXISTS naive_contacts")
        conn.execute("DELETE FROM accounts WHERE id = %s", (account,))
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("VACUUM candidates")


def report(label: str, row: dict[str, Any]) -> None:
    parts = [
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
        for k, v in row.items()
        if k not in ("counts", "errors")
    ]
    print(f"  {label} " + " ".join(parts), flush=True)


def summary(results: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    lines = [
        f"{'N':>9} | {'ours s':>8} {'rows/s':>9} {'RSS MB':>7} {'calls':>5} | "
        f"{'floor s':>7} {'x floor':>7} | {'naive s':>8} {'calls':>5} {'ours/naive':>10} "
        f"{'calls ratio':>11} | {'incr1% s':>8} {'calls':>5} | {'incr0 s':>7} {'calls':>5}"
    ]
    for r in results:
        o, f, nv = r["ours"], r["floor"], r["naive"]
        ic, i0 = r["incremental_changed"], r["incremental_nothing"]
        lines.append(
            f"{r['n']:>9,} | {o['seconds']:>8.2f} {o['rows_per_s']:>9,.0f} {o['rss_mb']:>7.0f} "
            f"{o['calls']:>5} | {f['seconds']:>7.2f} {o['seconds'] / f['seconds']:>6.1f}x | "
            f"{nv['seconds']:>8.2f} {nv['calls']:>5} {o['seconds'] / nv['seconds']:>9.2f}x "
            f"{'1/' + format(nv['calls'] / max(o['calls'], 1), '.1f'):>11} | "
            f"{ic['seconds']:>8.2f} {ic['calls']:>5} | {i0['seconds']:>7.2f} {i0['calls']:>5}"
        )
    return "\n".join(lines), targets(results)


def targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_n = {r["n"]: r for r in results}
    big, small = by_n[max(by_n)], by_n[min(by_n)]
    out = [
        (
            "ours vs floor at largest N <= 3x",
            big["ours"]["seconds"] / big["floor"]["seconds"],
            big["ours"]["seconds"] <= 3 * big["floor"]["seconds"],
        ),
        (
            "our calls vs naive calls at largest N <= 1/50",
            big["ours"]["calls"] / max(big["naive"]["calls"], 1),
            big["ours"]["calls"] * 50 <= big["naive"]["calls"],
        ),
        (
            "worker RSS smallest vs largest N within 20%",
            big["ours"]["rss_mb"] / small["ours"]["rss_mb"],
            big["ours"]["rss_mb"] <= 1.2 * small["ours"]["rss_mb"],
        ),
    ]
    for r in results:
        ratio = r["ours"]["seconds"] / r["naive"]["seconds"]
        out.append((f"ours faster than naive at {r['n']:,}", ratio, ratio < 1))
        i0 = r["incremental_nothing"]
        out.append((f"incremental-nothing < 1 s at {r['n']:,}", i0["seconds"], i0["seconds"] < 1))
        out.append((f"incremental-nothing <= 3 calls at {r['n']:,}", i0["calls"], i0["calls"] <= 3))
    return [{"target": t, "value": v, "pass": ok} for t, v, ok in out]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--threads", type=int, default=2, help="worker threads")
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="runs of each size up to --repeat-up-to, reported by their median",
    )
    parser.add_argument("--repeat-up-to", type=int, default=10_000)
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    ensure_database(DATABASE_URL)
    migrate(DATABASE_URL)
    RESULTS.mkdir(exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="sfsync-bench-"))
    key = Fernet.generate_key().decode()
    print(f"worker logs in {logs}", flush=True)
    results = [measured(size, key, args, logs) for size in sizes]
    table, checks = summary(results)
    print("\n" + table + "\n")
    for c in checks:
        print(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['target']}: {c['value']:.3g}")
    for r in results:
        for run in ("ours", "incremental_changed", "incremental_nothing"):
            if r[run]["status"] != "succeeded":
                print(
                    f"  WARNING  {run} at {r['n']:,} ended {r[run]['status']}: {r[run]['errors']}"
                )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"import-{stamp}.json"
    out.write_text(
        json.dumps(
            {"sizes": sizes, "threads": args.threads, "results": results, "targets": checks},
            indent=2,
            default=str,
        )
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
