"""`sfsync emulator` itself: the admin token it takes or makes, the warning off loopback."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from sfsync_emulator.cli import is_loopback
from sfsync_emulator.harness import run_emulator


def admin_state(base_url: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{base_url}/__admin/state", headers=headers).status_code


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_given_admin_token_is_the_one_required(how, monkeypatch):
    token = "given-admin-token"
    if how == "env":
        monkeypatch.setenv("SFSYNC_EMULATOR_ADMIN_TOKEN", token)
    args = ("--admin-token", token) if how == "flag" else ()
    with run_emulator(contacts=1, https=False, extra_args=args) as emu:
        assert admin_state(emu.base_url, token) == 200
        assert admin_state(emu.base_url, "another") == 401


def test_without_one_each_start_makes_its_own():
    with run_emulator(contacts=1, https=False) as one, run_emulator(contacts=1, https=False) as two:
        assert one.admin.state()["contacts"] == two.admin.state()["contacts"] == 1
        token = one.admin.http.headers["Authorization"].removeprefix("Bearer ")
        assert len(token) >= 32
        assert admin_state(one.base_url, token) == 200
        assert admin_state(two.base_url, token) == 401


def start(*args: str) -> tuple[dict[str, object], str]:
    """Run the command until its ready line; return that line and everything on stderr."""
    cmd = [sys.executable, "-m", "sfsync_emulator.cli", "--port", "0", "--http", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    return ready, err


def test_a_host_off_loopback_is_warned_about():
    ready, err = start("--host", "0.0.0.0", "--contacts", "1")
    assert ready["event"] == "ready"
    assert "warning: --host 0.0.0.0 is not a loopback address" in err
    assert "no real security" in err and "admin API" in err


def test_loopback_is_not():
    ready, err = start("--host", "127.0.0.1", "--contacts", "1")
    assert ready["event"] == "ready" and "warning" not in err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("emulator.example.com", False),
    ],
)
def test_what_counts_as_loopback(host, loopback):
    assert is_loopback(host) is loopback
