"""connect --vendor, status and disconnect as ops run them: the `sfsync` process against the
vendor emulator over https (its CA passed as SFSYNC_VENDOR_CA_BUNDLE), the real Postgres."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from sfsync_emulator.harness import Emulator
from tests.cli.conftest import KEY
from tests.cli.test_cli import one_line

pytestmark = [pytest.mark.integration, pytest.mark.emulator]


def sfsync(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, `stdin` piped in (so never a terminal)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SFSYNC_")}
    return subprocess.run(
        [sys.executable, "-m", "sfsync.entrypoints.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ | env,
        timeout=120,
    )


@pytest.fixture
def env(migrated_database_url: str, vendor_org: Emulator) -> dict[str, str]:
    access = vendor_org.vendor
    assert access is not None
    return {
        "DATABASE_URL": migrated_database_url,
        "SFSYNC_ENCRYPTION_KEYS": KEY,
        "SFSYNC_VENDOR_BASE_URL": access.base_url,
        "SFSYNC_VENDOR_API_KEY": access.api_key,
        "SFSYNC_VENDOR_CA_BUNDLE": vendor_org.ca_path,
    }


@pytest.fixture
def token(vendor_org: Emulator) -> str:
    assert vendor_org.vendor is not None
    return vendor_org.vendor.account_token


def stored(database_url: str, account_id: str) -> tuple | None:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT v.account_token_enc, s.direct_api FROM account_settings s"
            " LEFT JOIN vendor_links v USING (account_id) WHERE s.account_id = %s",
            (account_id,),
        ).fetchone()


def secret_free(result: subprocess.CompletedProcess[str], *secrets: str) -> bool:
    return not any(s in result.stdout or s in result.stderr for s in secrets)


def vendor_calls(emu: Emulator, path: str) -> int:
    return sum(1 for r in emu.admin.requests() if r["path"].endswith(path))


def test_a_piped_token_is_checked_with_the_vendor_and_stored_sealed(
    env, vendor_org, token, account
):
    result = sfsync("connect", account, "--vendor", stdin=f"{token}\n", **env)
    assert result.returncode == 0, result.stderr
    assert f"account {account} is linked through the vendor: vendor mode" in result.stdout
    assert "last vendor sync: 20" in result.stdout  # the emulator's first sync, as it said
    assert vendor_calls(vendor_org, "/sync-status") == 1
    sealed, direct_api = stored(env["DATABASE_URL"], account)
    assert token.encode() not in bytes(sealed) and direct_api is False
    assert secret_free(result, token, env["SFSYNC_VENDOR_API_KEY"])


def test_a_token_file_works_and_status_shows_the_mode_without_the_token(
    env, token, account, tmp_path
):
    path = tmp_path / "account-token"
    path.write_text(f"{token}\n")
    linked = sfsync("connect", account, "--vendor", "--account-token-file", str(path), **env)
    assert linked.returncode == 0, linked.stderr
    text = sfsync("status", account, **env)
    shown = json.loads(sfsync("status", account, "--json", **env).stdout)
    assert shown["mode"] == "vendor" and shown["vendor_link"]["token_readable"] is True
    assert f"mode: vendor, linked since {shown['vendor_link']['linked_at']}" in text.stdout
    assert secret_free(text, token) and token not in json.dumps(shown)


def test_status_live_reads_the_vendors_last_sync_in_vendor_mode(env, vendor_org, token, account):
    assert sfsync("connect", account, "--vendor", stdin=token, **env).returncode == 0
    vendor_org.admin.clear_requests()
    text = sfsync("status", account, "--live", **env)
    assert text.returncode == 0, text.stderr
    shown = json.loads(sfsync("status", account, "--live", "--json", **env).stdout)
    assert shown["vendor_sync"]["last_sync_finished"].startswith("20")
    assert shown["vendor_sync"]["syncing"] is False
    assert (
        f"vendor's last Contact sync: {shown['vendor_sync']['last_sync_finished']}" in text.stdout
    )
    assert vendor_calls(vendor_org, "/sync-status") == 2
    assert not [r for r in vendor_org.admin.requests() if "/services/data/" in r["path"]]


def test_a_token_the_vendor_does_not_know_is_refused_and_nothing_stored(env, token, account):
    wrong = "lnk_" + "x" * 24
    result = sfsync("connect", account, "--vendor", stdin=wrong, **env)
    assert result.returncode == 1
    line = one_line(result)
    assert "vendor_check_failed" in line and "vendor_link_invalid" in line
    assert stored(env["DATABASE_URL"], account) == (None, True)
    assert secret_free(result, wrong, token)


def test_a_token_with_a_space_is_refused_before_the_vendor_is_asked(
    env, vendor_org, token, account
):
    result = sfsync("connect", account, "--vendor", stdin=f"{token} extra\n", **env)
    assert result.returncode == 1 and "invalid_account_token" in one_line(result)
    assert vendor_calls(vendor_org, "/sync-status") == 0
    assert secret_free(result, token)


def test_without_the_vendor_configured_it_says_which_settings(env, token, account):
    del env["SFSYNC_VENDOR_BASE_URL"]
    result = sfsync("connect", account, "--vendor", stdin=token, **env)
    assert result.returncode == 1
    assert "SFSYNC_VENDOR_BASE_URL" in one_line(result)
    assert stored(env["DATABASE_URL"], account) == (None, True)


def test_disconnect_unlinks_at_the_vendor_then_deletes(env, vendor_org, token, account):
    assert sfsync("connect", account, "--vendor", stdin=token, **env).returncode == 0
    result = sfsync("disconnect", account, **env)
    assert result.returncode == 0, result.stderr
    assert "the vendor was told and the link deleted" in result.stdout
    assert vendor_calls(vendor_org, "/delete-account") == 1
    assert stored(env["DATABASE_URL"], account) == (None, False)  # still in vendor mode
    again = sfsync("connect", account, "--vendor", stdin=token, **env)
    assert again.returncode == 1 and "vendor_link_invalid" in one_line(again)  # unlinked


def test_when_the_vendor_cannot_be_told_the_link_is_kept_unless_forget(
    env, vendor_org, token, account
):
    assert sfsync("connect", account, "--vendor", stdin=token, **env).returncode == 0
    vendor_org.admin.add_fault(status=503, count=-1, path="/delete-account")
    kept = sfsync("disconnect", account, **env)
    assert kept.returncode == 1
    line = one_line(kept)
    assert "unlink_failed" in line and "--forget" in line and secret_free(kept, token)
    assert stored(env["DATABASE_URL"], account)[0] is not None
    forgotten = sfsync("disconnect", account, "--forget", **env)
    assert forgotten.returncode == 0, forgotten.stderr
    assert "may keep working until it is unlinked at the vendor" in forgotten.stdout
    assert stored(env["DATABASE_URL"], account)[0] is None


def test_on_a_terminal_the_token_is_asked_for_and_not_echoed(env, token, account):
    """stdin and stderr a pseudo-terminal: a hidden prompt (getpass), nothing echoed back."""
    import pty

    main_fd, terminal = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SFSYNC_")} | env
    with subprocess.Popen(
        [sys.executable, "-m", "sfsync.entrypoints.cli", "connect", account, "--vendor"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=environ,
        text=True,
        start_new_session=True,  # no controlling terminal: getpass uses stdin's
    ) as process:
        os.close(terminal)
        shown = b""
        while b"Vendor account token" not in shown:
            shown += os.read(main_fd, 1024)
        os.write(main_fd, f"{token}\n".encode())
        out, _ = process.communicate(timeout=60)
        try:
            while chunk := os.read(main_fd, 1024):
                shown += chunk
        except OSError:  # the terminal closed with the process
            pass
    os.close(main_fd)
    assert process.returncode == 0, shown
    assert f"account {account} is linked through the vendor" in out
    assert token.encode() not in shown and token not in out
