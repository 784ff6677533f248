"""Everything one emulated org holds: config, rows, tokens, quota, faults, request log, jobs."""

from __future__ import annotations

import re
import secrets
import time
from collections import deque
from typing import Any

from attrs import define, evolve, field

from sfsync_emulator.auth import Auth, Client
from sfsync_emulator.store import Store
from sfsync_emulator.vendor_state import Vendor, VendorConfig

WRITE_METHODS = ("PATCH", "POST", "DELETE")
# Requests that apply records: REST and Collections writes, and closing a Bulk ingest job.
APPLY_PATHS = re.compile(r"/(sobjects|composite)(/|$)|/jobs/ingest/[^/]+/?$")


@define
class Config:
    host: str = "127.0.0.1"
    port: int = 8085
    https: bool = True
    cert_dir: str | None = None
    contacts: int = 1000
    seed: int = 1
    client_id: str = "sfsync-emulator-client"
    client_secret: str = "sfsync-emulator-secret"
    redirect_uris: list[str] = field(factory=lambda: ["http://localhost:8765/callback"])
    api_quota: int = 100_000
    session_seconds: int = 7200
    epoch_ms: int | None = None  # fixed "now" for seeded SystemModstamps (reproducible runs)
    admin_token: str = field(factory=lambda: secrets.token_urlsafe(24), repr=False)
    vendor: VendorConfig | None = None  # also serve the vendor's API (docs/vendor-emulator.md)


@define
class Fault:
    count: int = 1  # how many matching requests it hits; -1 = until cleared
    status: int | None = None
    error_code: str | None = None
    message: str | None = None
    lock: bool = False  # per-record failure (UNABLE_TO_LOCK_ROW unless error_code) on writes
    record_ids: list[str] | None = None  # with lock: only these records fail
    latency_ms: int = 0
    retry_after: int | None = None
    path: str | None = None  # substring of the request path
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.count == 0 or path.startswith("/__admin"):
            return False
        if self.method and self.method.upper() != method:
            return False
        if self.path and self.path not in path:
            return False
        if self.lock:
            return method in WRITE_METHODS and APPLY_PATHS.search(path) is not None
        return True


@define
class Cursor:
    indices: list[int]
    fields: list[Any]
    created: float
    batch: int  # from the first request; a continuation header may override it


@define
class Org:
    config: Config
    store: Store
    auth: Auth
    api_max: int = 100_000
    api_used: int = 0
    faults: list[Fault] = field(factory=list)
    log: deque = field(factory=lambda: deque(maxlen=50_000))
    cursors: dict[str, Cursor] = field(factory=dict)
    jobs: dict[str, Any] = field(factory=dict)
    counter: int = 0
    limits_used: dict[str, int] = field(factory=dict)  # DailyBulkApiBatches, ... spent today
    vendor: Vendor | None = None

    @classmethod
    def create(cls, config: Config) -> Org:
        auth = Auth(session_seconds=config.session_seconds)
        auth.clients[config.client_id] = Client(
            config.client_id, config.client_secret, list(config.redirect_uris)
        )
        store = Store(config.contacts, config.seed, epoch_ms=config.epoch_ms)
        org = cls(config, store, auth, api_max=config.api_quota)
        org.attach_vendor()
        return org

    def attach_vendor(self) -> None:
        """A fresh vendor, linked now: its initial sync copies the org; start-up settings."""
        if self.config.vendor is not None:
            self.vendor = Vendor(evolve(self.config.vendor), self.store)
            self.vendor.sync()

    def next_number(self) -> int:
        self.counter += 1
        return self.counter

    def reset(self, contacts: int | None, seed: int | None, revoke_tokens: bool) -> None:
        self.store = Store(
            self.config.contacts if contacts is None else contacts,
            self.config.seed if seed is None else seed,
            epoch_ms=self.config.epoch_ms,
        )
        self.api_max, self.api_used = self.config.api_quota, 0
        self.attach_vendor()
        self.faults.clear()
        self.log.clear()
        self.cursors.clear()
        self.jobs.clear()
        self.limits_used.clear()
        self.auth.session_seconds = self.config.session_seconds
        self.auth.rotate = self.auth.deny = False
        if revoke_tokens:
            self.auth.access.clear()
            self.auth.refresh.clear()
            self.auth.codes.clear()

    def spend(self, limit: str, amount: int = 1) -> None:
        self.limits_used[limit] = self.limits_used.get(limit, 0) + amount

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                if fault.count > 0:
                    fault.count -= 1
                return fault
        return None

    def record(
        self,
        method: str,
        path: str,
        query: str,
        soql: str | None,
        status: int,
        written: list[str],
    ) -> None:
        """`written`: the ids of the records the request saved or deleted."""
        self.log.append(
            {
                "method": method,
                "path": path,
                "query": query,
                "soql": soql,
                "status": status,
                "written": written,
                "time": time.time(),
            }
        )
