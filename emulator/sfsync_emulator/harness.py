"""Start the emulator as a subprocess and drive its admin API (tests, demo, benchmarks).

with run_emulator(contacts=5000) as emu:
    token = emu.token()
    httpx.get(f"{emu.base_url}/services/data/v59.0/limits", verify=emu.ssl_context(), ...)
    emu.admin.add_fault(status=503, count=2, path="/query")
    emu.reset()          # cheap: reseeds lazily, clears faults/log/quota/jobs
"""

from __future__ import annotations

import json
import selectors
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from attrs import define


class AdminClient:
    """Thin httpx wrapper over /__admin/ (see docs/emulator.md for the endpoints)."""

    def __init__(self, base_url: str, verify: ssl.SSLContext | bool, token: str):
        auth = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(base_url=base_url, verify=verify, headers=auth, timeout=300)

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(method, "/__admin/" + path, json=body, params=params)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(
        self, contacts: int | None = None, seed: int | None = None, revoke_tokens: bool = False
    ) -> None:
        self._call(
            "POST", "reset", {"contacts": contacts, "seed": seed, "revoke_tokens": revoke_tokens}
        )

    def state(self) -> dict[str, Any]:
        return self._call("GET", "state")

    def mint_token(
        self,
        lifetime_seconds: int | None = None,
        refresh: bool = False,
        client_id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"refresh": refresh, "lifetime_seconds": lifetime_seconds}
        if client_id:
            body["client_id"] = client_id
        return self._call("POST", "token", body)

    def create_contact(self, **fields: Any) -> str:
        return self._call("POST", "contacts", fields)["id"]

    def get_contact(self, rid: str) -> dict[str, Any]:
        return self._call("GET", f"contacts/{rid}")

    def update_contact(self, rid: str, **fields: Any) -> dict[str, Any]:
        """Bypasses field security; pass SystemModstamp='…' to set it (deliberate ties)."""
        return self._call("PATCH", f"contacts/{rid}", fields)

    def delete_contact(self, rid: str, hard: bool = False, deleted_ms: int | None = None) -> None:
        """`deleted_ms` backdates the delete as getDeleted reports it."""
        params = {"hard": "true" if hard else "false"}
        if deleted_ms is not None:
            params["deleted_ms"] = str(deleted_ms)
        self._call("DELETE", f"contacts/{rid}", **params)

    def undelete_contact(self, rid: str) -> None:
        self._call("POST", f"contacts/{rid}/undelete")

    def add_field(self, name: str, type: str, **options: Any) -> None:
        self._call("POST", "fields", {"name": name, "type": type, **options})

    def set_field_security(self, hidden: list[str] = (), read_only: list[str] = ()) -> None:
        self._call("PUT", "security", {"hidden": list(hidden), "read_only": list(read_only)})

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "requests")

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def set_quota(self, max: int | None = None, used: int | None = None) -> dict[str, int]:
        body = {k: v for k, v in (("max", max), ("used", used)) if v is not None}
        return self._call("PUT", "quota", body)

    def set_oauth(
        self,
        session_seconds: int | None = None,
        rotate_refresh_tokens: bool | None = None,
        deny_authorization: bool | None = None,
    ) -> None:
        body = {
            "session_seconds": session_seconds,
            "rotate_refresh_tokens": rotate_refresh_tokens,
            "deny_authorization": deny_authorization,
        }
        self._call("PUT", "oauth", {k: v for k, v in body.items() if v is not None})

    def expire_tokens(self) -> None:
        self._call("POST", "tokens/expire")

    def revoke_refresh_tokens(self) -> None:
        self._call("POST", "tokens/revoke-refresh")

    def register_client(
        self,
        client_id: str,
        client_secret: str = "",
        redirect_uris: list[str] = (),
        cert_pem: str | None = None,
    ) -> None:
        self._call(
            "POST",
            "clients",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": list(redirect_uris),
                "cert_pem": cert_pem,
            },
        )

    def add_fault(self, **fault: Any) -> dict[str, Any]:
        """count, status, error_code, message, lock, record_ids, latency_ms, retry_after,
        path (substring), method."""
        return self._call("POST", "faults", fault)

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def vendor_sync(self) -> dict[str, int]:
        """One emulated vendor sync: {"syncs", "created", "updated", "deleted"}."""
        return self._call("POST", "vendor/sync")

    def vendor_config(self, **settings: Any) -> dict[str, Any]:
        """rate_per_minute, window_seconds, delete_every, resync_allowed,
        sync_interval_seconds, field_mappings; none: read them."""
        if not settings:
            return self._call("GET", "vendor/config")
        return self._call("PUT", "vendor/config", settings)

    def close(self) -> None:
        self.http.close()


@define
class VendorAccess:
    """What a vendor client needs: base URL (ends in /api) and the two credentials."""

    base_url: str
    api_key: str
    account_token: str


@define
class Emulator:
    base_url: str
    ca_path: str | None
    client_id: str
    client_secret: str
    redirect_uri: str
    admin: AdminClient
    process: subprocess.Popen
    vendor: VendorAccess | None = None  # with --vendor

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What to pass as httpx `verify` (True for an http emulator)."""
        return ssl.create_default_context(cafile=self.ca_path) if self.ca_path else True

    def token(self, **kw: Any) -> str:
        return self.admin.mint_token(**kw)["access_token"]

    def reset(self, contacts: int | None = None, seed: int | None = None) -> None:
        self.admin.reset(contacts, seed)


def _read_ready(proc: subprocess.Popen, timeout: float) -> dict[str, Any]:
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.2):
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if line.startswith("{"):
                return json.loads(line)
        if proc.poll() is not None:
            break
    raise RuntimeError(f"emulator did not start (exit code {proc.poll()})")


def _vendor_access(ready: dict[str, Any]) -> VendorAccess | None:
    if "vendor_base_url" not in ready:
        return None
    return VendorAccess(
        ready["vendor_base_url"], ready["vendor_api_key"], ready["vendor_account_token"]
    )


@contextmanager
def run_emulator(
    contacts: int = 1000,
    seed: int = 1,
    https: bool = True,
    extra_args: tuple[str, ...] = (),
    startup_timeout: float = 60,
) -> Iterator[Emulator]:
    """Start `sfsync emulator` on a free port; yields once it is ready; stops it after."""
    cert_dir = tempfile.mkdtemp(prefix="sfsync-emulator-")
    cmd = [
        sys.executable,
        "-m",
        "sfsync_emulator.cli",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--contacts",
        str(contacts),
        "--seed",
        str(seed),
        "--https" if https else "--http",
        "--cert-dir",
        cert_dir,
        *extra_args,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        ready = _read_ready(proc, startup_timeout)
        ca = ready["ca_path"]
        verify = ssl.create_default_context(cafile=ca) if ca else True
        admin = AdminClient(ready["base_url"], verify, ready["admin_token"])
        yield Emulator(
            ready["base_url"],
            ca,
            ready["client_id"],
            ready["client_secret"],
            ready["redirect_uris"][0],
            admin,
            proc,
            _vendor_access(ready),
        )
        admin.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
