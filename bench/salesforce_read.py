"""Read N Contacts from the local emulator via REST paging and via Bulk 2.0; print the cost.

    .venv/bin/python bench/salesforce_read.py --sizes 100000,1000000

For each size and path: HTTP calls, seconds, rows/s and the peak of Python allocations while
reading (tracemalloc, which also slows the run down a little). Memory should stay flat as the
size grows: the adapter streams pages and holds at most one.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import httpx

from sfsync.adapters.salesforce.auth import OAuthApp, RefreshTokenAuth, Tokens
from sfsync.adapters.salesforce.gateway import HttpxSalesforce, SalesforceSettings
from sfsync.adapters.salesforce.hosts import SalesforceHosts
from sfsync.adapters.salesforce.reads import ReadSettings
from sfsync.domain.ports import ContactQuery
from sfsync_emulator.harness import Emulator, run_emulator

PATHS = {"rest": 10**12, "bulk": 0}  # bulk_threshold that forces each path


def gateway(emu: Emulator, bulk_threshold: int) -> HttpxSalesforce:
    minted = emu.admin.mint_token(refresh=True)
    hosts = SalesforceHosts.allowing([emu.base_url])
    app = OAuthApp(emu.base_url, emu.client_id, emu.client_secret, hosts=hosts)
    tokens = Tokens(minted["access_token"], minted["instance_url"], minted["refresh_token"])
    settings = SalesforceSettings(reads=ReadSettings(bulk_threshold=bulk_threshold))
    return HttpxSalesforce(
        RefreshTokenAuth(app, tokens),
        settings,
        http=httpx.Client(verify=emu.ssl_context(), timeout=300),
    )


def measure(emu: Emulator, path: str, size: int) -> None:
    sf = gateway(emu, PATHS[path])
    sf.describe_contact()
    tracemalloc.start()
    started = time.perf_counter()
    read = sf.read_contacts(ContactQuery(("HasOptedOutOfEmail",)))
    rows = sum(len(batch) for batch in read.batches)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rows == size == read.expected, (rows, size, read.expected)
    print(
        f"{path:<5} {size:>9,} rows  {sf.calls - 1:>5} calls  {seconds:7.1f} s  "
        f"{rows / seconds:>9,.0f} rows/s  peak {peak / 2**20:6.1f} MiB",
        flush=True,
    )
    sf.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--paths", default="rest,bulk")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with run_emulator(contacts=sizes[0], startup_timeout=300) as emu:
        for size in sizes:
            emu.admin.reset(contacts=size)
            for path in args.paths.split(","):
                measure(emu, path, size)


if __name__ == "__main__":
    main()
