"""Benchmark vendor-mode imports beside direct mode on the same data (issue 14).

    .venv/bin/python bench/vendor_import.py --sizes 10000,100000
    .venv/bin/python bench/vendor_import.py --quick        # 10k only, about 2 minutes

For each N, one HTTPS emulator with `--vendor --vendor-rate 0` seeded with N Contacts serves
both APIs (the vendor's own limit is lifted, `--vendor-rate` sets it: only ours paces the
calls). Each row is a fresh
account (10 custom fields mapped) and a fresh `sfsync worker`, timed from sync.requested to
sync.completed through RabbitMQ:
  vendor 100/min  vendor mode at the default SFSYNC_VENDOR_RATE_PER_MINUTE: a burst of 100
                  calls, then one every 0.6 s (about N/100 calls: 9+ minutes at 100k)
  direct          direct mode (OAuth) on the same data
  vendor lifted   vendor mode, SFSYNC_VENDOR_RATE_PER_MINUTE=0
  incr 1%         1% of Contacts edited (admin API), a vendor sync, then an incremental run
                  of the `vendor lifted` account
  incr 0          one more incremental run of that account, nothing changed
An incremental run reads again what the vendor stamped up to 10 minutes (OVERLAP) before the
previous run began, and the vendor's initial sync stamps every Contact as the emulator
starts: so the `vendor lifted` row first waits until that sync is older than the overlap
(`--no-settle`, and `--quick`, skip the wait: the incremental rows then read all N again).
Prints a table and writes bench/results/vendor-import-*.json.
"""

from __future__ import annotations

import os

os.environ.setdefault(
    "SFSYNC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/sfsync_bench_vendor"
)
os.environ.setdefault("SFSYNC_BENCH_QUEUE_PREFIX", "benchvendor")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
from common import (  # noqa: E402
    DATABASE_URL,
    MAPPED,
    RESULTS,
    connected_account,
    new_account_id,
    peak_rss_mb,
    report,
    snake,
    timed_run,
    worker_env,
    worker_process,
)
from cryptography.fernet import Fernet  # noqa: E402
from psycopg import sql  # noqa: E402

from sfsync.adapters.postgres.createdb import ensure_database  # noqa: E402
from sfsync.adapters.postgres.migrate import migrate  # noqa: E402
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping  # noqa: E402
from sfsync.domain.ports import VendorLink  # noqa: E402
from sfsync.entrypoints.bootstrap import Container, build  # noqa: E402
from sfsync.entrypoints.codec import sync_request  # noqa: E402
from sfsync.entrypoints.settings import Settings  # noqa: E402
from sfsync.services.accounts import add_attribute, save_settings  # noqa: E402
from sfsync.services.vendor_import import OVERLAP  # noqa: E402
from sfsync_emulator.harness import Emulator, run_emulator  # noqa: E402

ROWS = ("vendor_default", "direct", "vendor_lifted", "incr_changed", "incr_nothing")
LABELS = {
    "vendor_default": "vendor 100/min",
    "direct": "direct",
    "vendor_lifted": "vendor lifted",
    "incr_changed": "incr 1%",
    "incr_nothing": "incr 0",
}
VENDOR_PATH = "/api/crm/v1"


def fresh_database() -> None:
    """Drop and recreate the bench database (autovacuum is off there: no bloat carried on)."""
    name = DATABASE_URL.rsplit("/", 1)[1]
    maintenance = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(maintenance, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))
    ensure_database(DATABASE_URL)
    migrate(DATABASE_URL)


def vendor_env(emu: Emulator, key: str, threads: int, rate: int) -> dict[str, str]:
    assert emu.vendor is not None
    return worker_env(
        emu,
        key,
        threads,
        {
            "SFSYNC_VENDOR_BASE_URL": emu.vendor.base_url,
            "SFSYNC_VENDOR_API_KEY": emu.vendor.api_key,
            "SFSYNC_VENDOR_CA_BUNDLE": emu.ca_path or "",
            "SFSYNC_VENDOR_RATE_PER_MINUTE": str(rate),
        },
    )


def new_account(container: Container, emu: Emulator, label: str, vendor: bool) -> AccountId:
    """A fresh account with the mapped fields: linked to the emulator's vendor account, or
    connected through OAuth (direct mode)."""
    account = new_account_id(label)
    settings = AccountSettings(account, direct_api=not vendor)
    if vendor:
        assert emu.vendor is not None
        save_settings(container.uow(), settings)
        with container.uow() as uow:
            uow.vendor_links.save(VendorLink(account, emu.vendor.account_token))
            uow.commit()
    else:
        connected_account(container, emu, settings)
    for field in MAPPED:
        add_attribute(container.uow(), account, AttributeMapping(snake(field), field))
    return account


def run_row(
    container: Container, emu: Emulator, env: dict[str, str], account: AccountId, log: Path
) -> dict[str, Any]:
    """One import by a fresh worker: time, the run's mode and source, the emulator's count
    of vendor and Salesforce calls, the worker's peak RSS."""
    with worker_process(env, log) as worker:
        row = timed_run(container, emu, sync_request(account), worker.pid)
        row["rss_mb"] = peak_rss_mb(worker.pid)
    logged = [r["path"] for r in emu.admin.requests()]
    row["vendor_calls"] = sum(VENDOR_PATH in p for p in logged)
    row["sf_calls"] = row.pop("calls")  # timed_run counts /services/data requests
    with container.pool.connection() as conn:
        row["mode"], row["source"] = conn.execute(
            "SELECT mode, source FROM sync_runs WHERE account_id = %s"
            " ORDER BY started_at DESC LIMIT 1",
            (account,),
        ).fetchone()
    return row


def change_contacts(container: Container, emu: Emulator, account: AccountId, share: float) -> int:
    """Edit `share` of the account's Contacts one by one (the admin API has no bulk update),
    then let the vendor sync them."""
    with container.pool.connection() as conn:
        candidates = conn.execute(
            "SELECT count(*) FROM candidates WHERE account_id = %s", (account,)
        ).fetchone()[0]
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT salesforce_id FROM candidates WHERE account_id = %s"
                " AND salesforce_id IS NOT NULL ORDER BY random() LIMIT %s",
                (account, max(1, round(candidates * share))),
            )
        ]
    for n, rid in enumerate(ids):
        emu.admin.update_contact(rid, Notes__c=f"changed by bench {n}")
    return int(emu.admin.vendor_sync()["updated"])


def settle(synced: float) -> None:
    """Wait until the vendor's initial sync (at `synced`, monotonic) is older than OVERLAP."""
    wait = synced + OVERLAP.total_seconds() + 5 - time.monotonic()
    if wait > 0:
        print(f"  settling {wait:.0f} s: the initial vendor sync leaves the overlap", flush=True)
        time.sleep(wait)


def bench_size(size: int, rows: list[str], key: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"n": size, "rows": {}}
    logs = Path(args.logs)
    extra = ("--vendor", "--vendor-rate", str(args.vendor_rate))
    with run_emulator(contacts=size, https=True, extra_args=extra, startup_timeout=600) as emu:
        synced = time.monotonic()  # the initial vendor sync ran as the emulator started
        container = build(Settings.from_env(vendor_env(emu, key, args.threads, 0)), pool_size=2)
        try:
            lifted: AccountId | None = None
            for name in rows:
                rate = 100 if name == "vendor_default" else 0
                env = vendor_env(emu, key, args.threads, rate)
                if name.startswith("incr"):
                    if lifted is None:
                        raise SystemExit(f"{name} needs the vendor_lifted row")
                    account = lifted
                else:
                    account = new_account(container, emu, str(size), name != "direct")
                if name == "vendor_lifted":
                    lifted = account
                    if args.settle and any(r.startswith("incr") for r in rows):
                        settle(synced)
                if name == "incr_changed":
                    result["vendor_updated"] = change_contacts(
                        container, emu, account, args.change_share
                    )
                row = run_row(container, emu, env, account, logs / f"worker-{size}-{name}.log")
                result["rows"][name] = row
                report(f"{LABELS[name]:<15} {size:>9,}", row)
        finally:
            container.close()
    return result


def table(results: list[dict[str, Any]], skipped: list[str]) -> str:
    lines = [
        f"{'N':>9} {'row':<15} {'mode':<11} {'seconds':>8} {'calls':>6} {'logged':>6} "
        f"{'wait s':>7} {'seen':>7} {'created':>7} {'updated':>7} {'RSS MB':>6}"
    ]
    for r in results:
        for name, row in r["rows"].items():
            source, counts = row["source"] or {}, row["counts"]
            logged = row["sf_calls"] if name == "direct" else row["vendor_calls"]
            lines.append(
                f"{r['n']:>9,} {LABELS[name]:<15} {row['mode']:<11} {row['seconds']:>8.2f} "
                f"{source.get('calls', 0):>6} {logged:>6} "
                f"{source.get('rate_limit_wait_seconds', 0.0):>7.1f} {counts['seen']:>7} "
                f"{counts['created']:>7} {counts['updated']:>7} {row['rss_mb']:>6.0f}"
            )
    lines += [f"{'100,000':>9} {s:<15} skipped (--quick)" for s in skipped]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"any of {', '.join(ROWS)}")
    parser.add_argument("--quick", action="store_true", help="10k only (skips 100k at 100/min)")
    parser.add_argument("--threads", type=int, default=2, help="worker threads")
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument(
        "--vendor-rate",
        type=int,
        default=0,
        help="the emulated vendor's own limit, calls a minute in a sliding window (0: none)",
    )
    parser.add_argument(
        "--settle",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="wait out the overlap before the incremental rows' full run (not with --quick)",
    )
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",")]
    rows = [r for r in ROWS if r in args.rows.split(",")]
    if args.settle is None:
        args.settle = not args.quick
    skipped = [LABELS["vendor_default"]] if args.quick and "vendor_default" in rows else []
    fresh_database()
    RESULTS.mkdir(exist_ok=True)
    args.logs = tempfile.mkdtemp(prefix="sfsync-bench-vendor-")
    print(f"worker logs in {args.logs}", flush=True)
    for s in skipped:
        print(f"  {s} at 100,000: skipped (--quick)", flush=True)
    key = Fernet.generate_key().decode()
    started = time.perf_counter()
    results = [bench_size(size, rows, key, args) for size in sizes]
    print("\n" + table(results, skipped) + "\n")
    print(f"calls: the run's source.calls; logged: {VENDOR_PATH} (direct: /services/data)")
    print(f"whole benchmark {time.perf_counter() - started:.0f} s")
    for r in results:
        for name, row in r["rows"].items():
            if row["status"] != "succeeded":
                print(f"  WARNING {name} at {r['n']:,} ended {row['status']}: {row['errors']}")
            if row["mode"] != ("incremental" if name.startswith("incr") else "full"):
                print(f"  WARNING {name} at {r['n']:,} ran {row['mode']}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"vendor-import-{stamp}.json"
    out.write_text(json.dumps({"sizes": sizes, "results": results}, indent=2, default=str))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
