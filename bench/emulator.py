"""Benchmark the emulator: seeding, REST paging and Bulk 2.0 CSV throughput, RSS.

.venv/bin/python bench/emulator.py --contacts 1000000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx

from sfsync_emulator.harness import run_emulator
from sfsync_emulator.store import Store

FIELDS = (
    "Id, FirstName, LastName, Email, Phone, SystemModstamp, IsDeleted, gq_import__c, "
    "is_deleted__c, Hobbies__c, Age__c, Favorite_Color__c, Signup_Date__c"
)
SOQL = f"SELECT {FIELDS} FROM Contact"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rest_paging(client: httpx.Client, version: str) -> tuple[int, float]:
    started = time.perf_counter()
    headers = {"Sforce-Query-Options": "batchSize=2000"}
    page = client.get(
        f"/services/data/v{version}/queryAll", params={"q": SOQL}, headers=headers
    ).json()
    rows = len(page["records"])
    while not page["done"]:
        page = client.get(page["nextRecordsUrl"], headers=headers).json()
        rows += len(page["records"])
    return rows, time.perf_counter() - started


def bulk_csv(client: httpx.Client, version: str, page_size: int) -> tuple[int, float]:
    started = time.perf_counter()
    base = f"/services/data/v{version}/jobs/query"
    job = client.post(base, json={"operation": "queryAll", "query": SOQL}).json()["id"]
    while client.get(f"{base}/{job}").json()["state"] != "JobComplete":
        time.sleep(0.05)
    rows, locator = 0, None
    while locator != "null":
        params = {"maxRecords": page_size, **({"locator": locator} if locator else {})}
        with client.stream("GET", f"{base}/{job}/results", params=params) as res:
            for _ in res.iter_bytes():
                pass
            rows += int(res.headers["Sforce-NumberOfRecords"])
            locator = res.headers["Sforce-Locator"]
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--bulk-page", type=int, default=50_000)
    parser.add_argument("--version", default="59.0")
    args = parser.parse_args()

    started = time.perf_counter()
    Store(args.contacts, seed=1)
    print(f"seed {args.contacts:,} contacts (in-process): {time.perf_counter() - started:.2f} s")

    started = time.perf_counter()
    with run_emulator(contacts=args.contacts, https=False, startup_timeout=300) as emu:
        print(f"emulator start incl. seeding: {time.perf_counter() - started:.2f} s")
        headers = {"Authorization": f"Bearer {emu.token()}"}
        with httpx.Client(base_url=emu.base_url, headers=headers, timeout=600) as client:
            rows, secs = rest_paging(client, args.version)
            print(
                f"REST query+queryMore (batchSize 2000): {rows:,} rows in {secs:.1f} s "
                f"= {rows / secs:,.0f} rows/s"
            )
            rows, secs = bulk_csv(client, args.version, args.bulk_page)
            print(
                f"Bulk 2.0 CSV results (maxRecords {args.bulk_page:,}): {rows:,} rows in "
                f"{secs:.1f} s = {rows / secs:,.0f} rows/s"
            )
        print(f"emulator RSS: {rss_mb(emu.process.pid):,.0f} MB")


if __name__ == "__main__":
    main()
