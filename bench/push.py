"""Benchmark the write direction (issue 11): push against simple-salesforce, and sign-ups.

    .venv/bin/python bench/push.py --sizes 10000,100000 --signups 10000

For each N, against a fresh HTTPS emulator and an account in direct mode with push enabled and
one export mapping (favorite_color_c -> Favorite_Color__c), after an import of the Contacts:
  push      N candidates get a new favorite_color_c in Postgres (one UPDATE, as the web app
            would), then sync.requested scope export -> sync.completed through RabbitMQ and a
            fresh `sfsync worker`; seconds, Salesforce calls (/services/data), write calls
            (those not GET, bulk query jobs aside), worker peak RSS (VmHWM)
  again     a second export with nothing changed
  bulk2     the same N changes from a ready CSV by simple-salesforce bulk2.Contact.update
            (the floor)
  naive     the same changes by simple-salesforce, one Contact.update per record (N <= 10,000)
Then, against a fresh emulator, COUNT `candidate.signed_up` messages for distinct emails of
existing, unflagged Contacts, published in one burst with raw pika: seconds until every
Contact holding one of them has gq_import__c true (polled with one COUNT() query, left out
of the call counts) after the last message was confirmed, and Salesforce calls per sign-up.
An export that ends `not_supported` (no push in this version) is reported as not available.
Prints a table with the issue's targets marked PASS/FAIL and writes bench/results/*.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pika
from common import (
    DATABASE_URL,
    RESULTS,
    connected_account,
    data_calls,
    drop_account,
    new_account_id,
    peak_rss_mb,
    report,
    simple_salesforce,
    timed_run,
    trusting,
    worker_env,
    worker_process,
)
from cryptography.fernet import Fernet

from sfsync.adapters.postgres.createdb import ensure_database
from sfsync.adapters.postgres.migrate import migrate
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping, MappingDirection
from sfsync.entrypoints.bootstrap import Container, build
from sfsync.entrypoints.codec import sync_request
from sfsync.entrypoints.settings import Settings, queue_name
from sfsync.services.accounts import add_attribute
from sfsync_emulator.fields import COLORS
from sfsync_emulator.harness import Emulator, run_emulator

ATTRIBUTE, FIELD = "favorite_color_c", "Favorite_Color__c"
# Seeded Contacts include missing and duplicate emails: seed more, change exactly N.
SEED_SPARE = 1.25
FLAG = "gq_import__c"
POLL_SOQL = f"SELECT COUNT() FROM Contact WHERE {FLAG} = true"
ID = re.compile(r"^(?=[a-zA-Z]*\d)[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")  # not unprocessedrecords
SAMPLE = 50  # pushed values read back through the admin API


def export_request(account: AccountId) -> dict[str, Any]:
    return sync_request(account, scope="export")


def write_calls(calls: list[dict[str, Any]]) -> int:
    """Calls that change data: every method but GET, except creating a bulk query job."""
    return sum(c["method"] != "GET" and "/jobs/query" not in c["path"] for c in calls)


def call_kinds(calls: list[dict[str, Any]]) -> dict[str, int]:
    """Calls by method and path, record and job ids left out (where the calls went)."""
    kinds = Counter(
        f"{c['method']} " + "/".join(ID.sub("{id}", part) for part in c["path"].split("/")[4:])
        for c in calls
    )
    return dict(kinds.most_common())


def export_available(run: dict[str, Any]) -> bool:
    return not (
        run["status"] == "failed" and any(e.get("code") == "not_supported" for e in run["errors"])
    )


def set_up_push_account(container: Container, emu: Emulator, size: int) -> AccountId:
    account = new_account_id(f"push_{size}")
    connected_account(container, emu, AccountSettings(account, push_enabled=True))
    mapping = AttributeMapping(ATTRIBUTE, FIELD, MappingDirection.EXPORT)
    add_attribute(container.uow(), account, mapping)
    return account


def change_candidates(container: Container, account: AccountId, size: int) -> list[list[str]]:
    """One new favorite_color_c on each of `size` candidates from Salesforce, in one UPDATE
    (as the web app would); returns [Salesforce Id, new value] for each."""
    with container.pool.connection() as conn:
        rows = conn.execute(
            """
            WITH picked AS (
                SELECT id, row_number() OVER (ORDER BY id) AS n FROM candidates
                WHERE account_id = %(account)s AND salesforce_id IS NOT NULL
                ORDER BY id LIMIT %(size)s)
            UPDATE candidates c
            SET attributes = c.attributes
                    || jsonb_build_object(%(attribute)s, (%(colors)s::text[])[1 + p.n %% %(k)s]),
                updated_at = now()
            FROM picked p WHERE c.id = p.id
            RETURNING c.salesforce_id, c.attributes ->> %(attribute)s""",
            {
                "account": account,
                "size": size,
                "attribute": ATTRIBUTE,
                "colors": list(COLORS),
                "k": len(COLORS),
            },
        ).fetchall()
    if len(rows) < size:
        raise RuntimeError(f"only {len(rows)} candidates from Salesforce, wanted {size}")
    return [[sf_id, value] for sf_id, value in rows]


def read_back(emu: Emulator, changes: list[list[str]]) -> int:
    """How many of a sample of the changes Salesforce now holds (admin API, not counted)."""
    step = max(1, len(changes) // SAMPLE)
    sample = changes[::step][:SAMPLE]
    return sum(emu.admin.get_contact(sf_id).get(FIELD) == value for sf_id, value in sample)


def timed_push(
    container: Container, emu: Emulator, account: AccountId, worker: int
) -> dict[str, Any]:
    run = timed_run(container, emu, export_request(account), worker)
    calls = data_calls(emu)
    run["writes"] = write_calls(calls)
    run["call_kinds"] = call_kinds(calls)
    run["available"] = export_available(run)
    return run


def ready_csv(rows: list[list[str]], header: list[str], directory: Path) -> Path:
    path = directory / f"bulk2-{uuid.uuid4().hex}.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def bulk2_update(emu: Emulator, csv_path: Path, wait: float) -> dict[str, Any]:
    """simple-salesforce bulk2.Contact.update from a CSV file; `wait` is its first sleep."""
    emu.admin.clear_requests()
    with trusting(emu.ca_path or ""):
        sf = simple_salesforce(emu)
        started = time.perf_counter()
        jobs = sf.bulk2.Contact.update(csv_file=str(csv_path), wait=wait)
        seconds = time.perf_counter() - started
    calls = data_calls(emu)
    return {
        "seconds": seconds,
        "calls": len(calls),
        "writes": write_calls(calls),
        "call_kinds": call_kinds(calls),
        "jobs": len(jobs),
        "processed": sum(j["numberRecordsProcessed"] for j in jobs),
        "failed": sum(j["numberRecordsFailed"] for j in jobs),
    }


def naive_updates(emu: Emulator, changes: list[list[str]]) -> dict[str, Any]:
    """What most people would write: one simple-salesforce Contact.update per record."""
    emu.admin.clear_requests()
    with trusting(emu.ca_path or ""):
        sf = simple_salesforce(emu)
        started = time.perf_counter()
        for sf_id, value in changes:
            sf.Contact.update(sf_id, {FIELD: value})
        seconds = time.perf_counter() - started
    calls = data_calls(emu)
    return {"seconds": seconds, "calls": len(calls), "writes": write_calls(calls)}


def bench_push(size: int, key: str, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"n": size}
    started = time.perf_counter()
    with run_emulator(
        contacts=math.ceil(size * SEED_SPARE), https=True, startup_timeout=600
    ) as emu:
        result["emulator_start_seconds"] = time.perf_counter() - started
        env = worker_env(emu, key, args.threads)
        container = build(Settings.from_env(env), pool_size=2)
        account = set_up_push_account(container, emu, size)
        try:
            with worker_process(env, logs / f"worker-import-{size}.log") as worker:
                result["import"] = timed_run(container, emu, sync_request(account), worker.pid)
            report(f"import {size:>9,}", result["import"])
            changes = change_candidates(container, account, size)
            # A fresh worker for the push: its peak RSS is the push's, not the import's.
            with worker_process(env, logs / f"worker-push-{size}.log") as worker:
                push = timed_push(container, emu, account, worker.pid)
                push["rss_mb"] = peak_rss_mb(worker.pid)
                result["push"] = push
                report(f"push   {size:>9,}", push)
                if push["available"]:
                    push["read_back"] = read_back(emu, changes)
                    push["sampled"] = min(SAMPLE, size)
                    result["again"] = timed_push(container, emu, account, worker.pid)
                    report("push again      ", result["again"])
                else:
                    print("  export not available (the run ended not_supported)", flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                path = ready_csv(changes, ["Id", FIELD], Path(tmp))
                result["bulk2"] = bulk2_update(emu, path, args.bulk2_wait)
            report("bulk2           ", result["bulk2"])
            if size <= args.naive_up_to:
                result["naive"] = naive_updates(emu, changes)
                report("naive           ", result["naive"])
        finally:
            drop_account(container, account)
            container.close()
    return result


def pick_signups(emu: Emulator, count: int) -> tuple[list[str], list[str], list[str]]:
    """`count` distinct emails of live Contacts; the Ids of every Contact holding one of
    them (Salesforce matches emails ignoring case), and of those flagged already."""
    with trusting(emu.ca_path or ""):
        records = list(
            simple_salesforce(emu).query_all_iter(f"SELECT Id, Email, {FLAG} FROM Contact")
        )
    chosen: dict[str, str] = {}
    for r in records:
        email = r["Email"]
        if email and email == email.strip() and len(chosen) < count:
            chosen.setdefault(email.lower(), email)
    if len(chosen) < count:
        raise RuntimeError(f"only {len(chosen)} distinct emails, wanted {count}")
    holders = [r for r in records if r["Email"] and r["Email"].lower() in chosen]
    flagged = [r["Id"] for r in holders if r[FLAG]]
    return list(chosen.values()), [r["Id"] for r in holders], flagged


def signup_messages(account: AccountId, emails: list[str]) -> list[bytes]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return [
        json.dumps(
            {
                "type": "candidate.signed_up",
                "version": 1,
                "id": str(uuid.uuid4()),
                "occurred_at": now,
                "account_id": account,
                "candidate_id": f"cand_bench_{n}",
                "email": email,
                "study_id": "study_bench",
            }
        ).encode()
        for n, email in enumerate(emails)
    ]


def publish(amqp_url: str, queue: str, bodies: list[bytes]) -> None:
    """As another service would: raw pika, persistent JSON, publisher confirms."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")
        for body in bodies:
            channel.basic_publish("", queue, body, properties, mandatory=True)
    finally:
        connection.close()


def wait_for(condition: Callable[[], bool], timeout: float, poll: float) -> float:
    """Seconds until `condition()` holds (polled every `poll` s); raises after `timeout`."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"timed out after {timeout}s")
        time.sleep(poll)
    return time.perf_counter() - started


def signup_outcomes(container: Container, account: AccountId) -> dict[str, int]:
    with container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT outcome, count(*) FROM signups WHERE account_id = %s GROUP BY outcome",
            (account,),
        ).fetchall()
    return dict(rows)


def bench_signups(count: int, key: str, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"n": count, "delay_ms": args.signup_delay_ms}
    with run_emulator(
        contacts=math.ceil(count * SEED_SPARE), https=True, startup_timeout=600
    ) as emu:
        extra = {"SFSYNC_SIGNUP_DELAY_MS": str(args.signup_delay_ms)}
        env = worker_env(emu, key, args.threads, extra)
        container = build(Settings.from_env(env), pool_size=2)
        account = new_account_id("signup")
        connected_account(container, emu, AccountSettings(account))
        token = emu.admin.mint_token()
        poll = httpx.Client(
            base_url=token["instance_url"],
            headers={"Authorization": f"Bearer {token['access_token']}"},
            verify=emu.ssl_context(),
            timeout=60,
        )
        version = container.settings.salesforce_api_version

        def flagged() -> int:
            res = poll.get(f"/services/data/v{version}/query", params={"q": POLL_SOQL})
            return int(res.raise_for_status().json()["totalSize"])

        try:
            emails, holders, already = pick_signups(emu, count)
            if already:  # every Contact of the burst starts unflagged
                with tempfile.TemporaryDirectory() as tmp:
                    path = ready_csv([[i, "false"] for i in already], ["Id", FLAG], Path(tmp))
                    bulk2_update(emu, path, 0.05)
            target = flagged() + len(holders)
            bodies = signup_messages(account, emails)
            result["contacts"] = len(holders)
            with worker_process(env, logs / "worker-signups.log") as worker:
                emu.admin.clear_requests()
                started = time.perf_counter()
                publish(container.settings.amqp_url, queue_name(container.settings), bodies)
                result["publish_s"] = time.perf_counter() - started
                result["flagged_after_last_s"] = wait_for(
                    lambda: flagged() >= target, args.signup_timeout, 0.2
                )
                result["flagged_after_first_s"] = (
                    result["publish_s"] + result["flagged_after_last_s"]
                )
                result["settled_after_last_s"] = result["flagged_after_last_s"] + wait_for(
                    lambda: signup_outcomes(container, account).get("pending", 0) == 0,
                    args.signup_timeout,
                    0.2,
                )
                time.sleep(1)  # anything the worker still sends is counted too
                calls = [c for c in data_calls(emu) if c["soql"] != POLL_SOQL]
                result["rss_mb"] = peak_rss_mb(worker.pid)
            result["calls"] = len(calls)
            result["writes"] = write_calls(calls)
            result["call_kinds"] = call_kinds(calls)
            result["signups_per_call"] = count / max(len(calls), 1)
            result["outcomes"] = signup_outcomes(container, account)
            report(f"signups {count:>8,}", result)
        finally:
            poll.close()
            drop_account(container, account)
            container.close()
    return result


def summary(results: list[dict[str, Any]], signups: dict[str, Any] | None) -> str:
    lines = [
        f"{'N':>9} | {'push s':>7} {'calls':>5} {'writes':>6} {'RSS MB':>6} | "
        f"{'bulk2 s':>7} {'calls':>5} {'x bulk2':>7} | {'naive s':>7} {'calls':>6} "
        f"{'calls ratio':>11} | {'again s':>7} {'calls':>5} {'writes':>6}"
    ]
    for r in results:
        p, b, a, nv = r["push"], r["bulk2"], r.get("again"), r.get("naive")
        if p["available"]:
            ours = (
                f"{p['seconds']:>7.2f} {p['calls']:>5} {p['writes']:>6} {p['rss_mb']:>6.0f} | "
                f"{b['seconds']:>7.2f} {b['calls']:>5} {p['seconds'] / b['seconds']:>6.2f}x"
            )
        else:
            ours = f"{'export not available':>27} | {b['seconds']:>7.2f} {b['calls']:>5} {'-':>7}"
        naive = f"{'-':>7} {'-':>6} {'-':>11}"
        if nv is not None:
            ratio = f"1/{nv['calls'] / max(p['calls'], 1):.0f}" if p["available"] else "-"
            naive = f"{nv['seconds']:>7.2f} {nv['calls']:>6} {ratio:>11}"
        again = f"{'-':>7} {'-':>5} {'-':>6}"
        if a is not None:
            again = f"{a['seconds']:>7.2f} {a['calls']:>5} {a['writes']:>6}"
        lines.append(f"{r['n']:>9,} | {ours} | {naive} | {again}")
    if signups is not None:
        s = signups
        lines.append(
            f"\nsign-ups {s['n']:,} (delay {s['delay_ms']} ms): published in "
            f"{s['publish_s']:.2f} s; every Contact ({s['contacts']:,}) flagged "
            f"{s['flagged_after_last_s']:.2f} s after the last message; {s['calls']} calls "
            f"({s['writes']} writes) = {s['signups_per_call']:.0f} sign-ups a call; "
            f"outcomes {s['outcomes']}"
        )
    return "\n".join(lines)


def targets(results: list[dict[str, Any]], signups: dict[str, Any] | None) -> list[dict]:
    """Each target with its value and pass; both None when the push was not available."""
    out: list[tuple[str, float | None, bool | None]] = []

    def check(name: str, ready: bool, value: Callable[[], float], ok: Callable[[float], bool]):
        v = value() if ready else None
        out.append((name, v, None if v is None else ok(v)))

    by_n = {r["n"]: r for r in results}
    if by_n:
        big, small = by_n[max(by_n)], by_n[min(by_n)]
        p, b, ps = big["push"], big["bulk2"], small["push"]
        n, m = f"{big['n']:,}", f"{small['n']:,}"
        check(
            f"push at {n} <= 1.5x bulk2",
            p["available"],
            lambda: p["seconds"] / b["seconds"],
            lambda v: v <= 1.5,
        )
        check(f"push at {n} <= 10 calls", p["available"], lambda: p["calls"], lambda v: v <= 10)
        if "naive" in small:
            check(
                f"push at {m}: >= 100x fewer calls than naive",
                ps["available"],
                lambda: small["naive"]["calls"] / max(ps["calls"], 1),
                lambda v: v >= 100,
            )
        if big is not small:
            check(
                f"worker RSS {m} vs {n} within 20%",
                p["available"] and ps["available"],
                lambda: p["rss_mb"] / ps["rss_mb"],
                lambda v: 1 / 1.2 <= v <= 1.2,
            )
    for r in results:
        a = r.get("again") or {}
        check(
            f"second push at {r['n']:,}: 0 write calls",
            bool(a),
            lambda a=a: a["writes"],
            lambda v: v == 0,
        )
        check(
            f"second push at {r['n']:,}: < 1 s", bool(a), lambda a=a: a["seconds"], lambda v: v < 1
        )
    if signups is not None:
        s = signups
        check(
            "sign-ups: <= 1 call per 50", True, lambda: s["calls"] / s["n"], lambda v: v <= 1 / 50
        )
        check(
            "sign-ups: all flagged <= 30 s after the last",
            True,
            lambda: s["flagged_after_last_s"],
            lambda v: v <= 30,
        )
    return [{"target": t, "value": v, "pass": ok} for t, v, ok in out]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="changed candidates per push")
    parser.add_argument("--naive-up-to", type=int, default=10_000)
    parser.add_argument("--signups", type=int, default=10_000, help="0: no sign-up burst")
    parser.add_argument("--signup-delay-ms", type=int, default=5_000)
    parser.add_argument("--signup-timeout", type=float, default=300)
    parser.add_argument(
        "--bulk2-wait",
        type=float,
        default=0.1,
        help="bulk2's first sleep before it polls its job (simple-salesforce's default: 5)",
    )
    parser.add_argument("--threads", type=int, default=2, help="worker threads")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    ensure_database(DATABASE_URL)
    migrate(DATABASE_URL)
    RESULTS.mkdir(exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="sfsync-bench-push-"))
    key = Fernet.generate_key().decode()
    print(f"worker logs in {logs}", flush=True)
    results = [bench_push(size, key, args, logs) for size in sizes]
    signups = bench_signups(args.signups, key, args, logs) if args.signups else None
    checks = targets(results, signups)
    print("\n" + summary(results, signups) + "\n")
    for c in checks:
        verdict = {True: "PASS", False: "FAIL", None: "N/A "}[c["pass"]]
        value = "export not available" if c["value"] is None else f"{c['value']:.3g}"
        print(f"  {verdict}  {c['target']}: {value}")
    for r in results:
        for run in ("import", "push", "again"):
            if run in r and r[run]["status"] != "succeeded" and r[run].get("available", True):
                print(
                    f"  WARNING  {run} at {r['n']:,} ended {r[run]['status']}: {r[run]['errors']}"
                )
        if r["push"].get("read_back", 0) != r["push"].get("sampled", 0):
            print(
                f"  WARNING  at {r['n']:,} only {r['push']['read_back']} of "
                f"{r['push']['sampled']} sampled changes read back from Salesforce"
            )
    complete = all(c["pass"] is not None for c in checks)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"push-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "sizes": sizes,
                "complete": complete,
                "args": vars(args),
                "results": results,
                "signups": signups,
                "targets": checks,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwrote {out}" + ("" if complete else " (incomplete: export not available)"))


if __name__ == "__main__":
    main()
