"""connect, disconnect and rotate-keys as ops run them, against the emulator over https."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.adapters.salesforce.auth import refresh_grant
from sfsync.adapters.salesforce.errors import ReauthorizationRequired
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.entrypoints.bootstrap import oauth_app
from sfsync.entrypoints.settings import Settings
from sfsync_emulator.harness import Emulator
from tests.cli.test_cli import one_line, sfsync
from tests.scratch_db import scratch_database


def test_a_login_url_without_scheme_is_refused_at_once():
    """Before any database, browser or callback wait (which would take 300 s)."""
    result = sfsync("connect", "acc_1", "--login-url", "login.salesforce.com")
    assert result.returncode == 1
    line = one_line(result)
    assert "has no scheme: type https://login.salesforce.com" in line
    assert "login_url_refused" in line and result.stdout == ""


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://login.salesforce.com", "is not https"),
        ("https://login.salesforce.com.evil.example", "is not a Salesforce host"),
        ("http://127.0.0.1:8443", "is not https"),
    ],
)
def test_a_login_url_that_is_not_allowed_is_refused_at_once(url, reason):
    result = sfsync("connect", "acc_1", "--login-url", url)
    assert result.returncode == 1 and reason in one_line(result)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stored(database_url: str, account_id: str) -> tuple | None:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT login_url, instance_url FROM salesforce_connections WHERE account_id = %s",
            (account_id,),
        ).fetchone()


def browse(emu: Emulator, process: subprocess.Popen[str]) -> None:
    """Play the person: open the printed URL, let the emulator approve, follow the redirect."""
    lines = []
    while not lines or not lines[-1].startswith("https://"):
        line = process.stdout.readline()
        assert line, f"connect printed no login URL: {lines}"
        lines.append(line.strip())
    with httpx.Client(verify=emu.ssl_context()) as browser:
        callback = browser.get(lines[-1]).headers["location"]
        deadline = time.monotonic() + 30
        while True:  # the callback server may not be listening yet
            try:
                httpx.get(callback)
                return
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the callback server never listened"
                time.sleep(0.05)


@pytest.mark.integration
class TestConnectTrust:
    def test_without_the_ca_bundle_the_error_says_tls(self, cli_env, sf_org, account):
        result = sfsync("connect", account, "--login-url", sf_org.base_url, **cli_env)
        assert result.returncode == 1
        line = one_line(result)
        host = sf_org.base_url.removeprefix("https://")
        assert f"TLS certificate verification failed for {host}" in line
        assert "set SFSYNC_SF_CA_BUNDLE to trust a private CA" in line
        assert "unreachable" not in line and stored(cli_env["DATABASE_URL"], account) is None

    def test_with_the_ca_bundle_connect_goes_through(self, cli_env, sf_org, account):
        redirect = f"http://127.0.0.1:{free_port()}/oauth/callback"
        sf_org.admin.register_client("cli-app", "cli-secret", [redirect])
        env = os.environ | cli_env
        env |= {
            "SFSYNC_SF_CA_BUNDLE": sf_org.ca_path,
            "SFSYNC_SF_CLIENT_ID": "cli-app",
            "SFSYNC_SF_CLIENT_SECRET": "cli-secret",
            "SFSYNC_SF_REDIRECT_URI": redirect,
            "PYTHONUNBUFFERED": "1",
        }
        command = ["connect", account, "--login-url", sf_org.base_url, "--no-browser"]
        with subprocess.Popen(
            [sys.executable, "-m", "sfsync.entrypoints.cli", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as process:
            browse(sf_org, process)
            out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert f"account {account} is connected" in out
        login, instance = stored(cli_env["DATABASE_URL"], account)
        assert login == instance == sf_org.base_url


def refresh_works(emu: Emulator, settings: Settings, refresh_token: str) -> bool:
    with salesforce_http(emu.ca_path) as http:
        try:
            refresh_grant(http, oauth_app(settings, emu.base_url), refresh_token)
            return True
        except ReauthorizationRequired:
            return False


@pytest.mark.integration
class TestDisconnect:
    def test_revokes_at_salesforce_then_deletes(self, cli_env, sf_org, connected):
        account, refresh = connected
        env = cli_env | {"SFSYNC_SF_CA_BUNDLE": sf_org.ca_path}
        settings = Settings.from_env(env)
        assert refresh_works(sf_org, settings, refresh)
        result = sfsync("disconnect", account, **env)
        assert result.returncode == 0, result.stderr
        assert "tokens revoked at Salesforce and deleted" in result.stdout
        assert stored(env["DATABASE_URL"], account) is None
        assert not refresh_works(sf_org, settings, refresh)  # the emulator refuses it now
        revokes = [r for r in sf_org.admin.requests() if r["path"].endswith("/revoke")]
        assert len(revokes) == 2  # refresh first, then the access token

    def test_when_salesforce_cannot_revoke_the_tokens_are_kept(self, cli_env, sf_org, connected):
        account, refresh = connected
        env = cli_env | {"SFSYNC_SF_CA_BUNDLE": sf_org.ca_path}
        sf_org.admin.add_fault(status=503, count=100, path="/services/oauth2/revoke")
        result = sfsync("disconnect", account, **env)
        assert result.returncode == 1
        line = one_line(result)
        assert "revoke_failed" in line and "--forget" in line and refresh not in line
        assert stored(env["DATABASE_URL"], account) is not None
        assert refresh_works(sf_org, Settings.from_env(env), refresh)

    def test_forget_deletes_anyway_and_says_the_token_may_live_on(self, cli_env, sf_org, connected):
        account, refresh = connected
        env = cli_env | {"SFSYNC_SF_CA_BUNDLE": sf_org.ca_path}
        sf_org.admin.add_fault(status=503, count=100, path="/services/oauth2/revoke")
        result = sfsync("disconnect", account, "--forget", **env)
        assert result.returncode == 0, result.stderr
        assert "may stay valid at Salesforce until revoked there" in result.stdout
        assert stored(env["DATABASE_URL"], account) is None

    def test_an_account_without_connection_is_one_clear_line(self, cli_env, account):
        result = sfsync("disconnect", account, **cli_env)
        assert result.returncode == 1
        assert f"account {account} has no Salesforce connection" in one_line(result)


@pytest.mark.integration
class TestRotateKeys:
    @pytest.fixture
    def database(self, postgres_server_url) -> Iterator[str]:
        with scratch_database(postgres_server_url) as url:
            yield url

    def save(self, database: str, keys: list[str], account_id: str) -> None:
        from sfsync.domain.ports import SalesforceConnection

        with make_pool(database, max_size=1) as pool:
            with PsycopgUnitOfWork(pool, TokenCipher(keys)) as uow:
                uow.accounts.save_settings(AccountSettings(AccountId(account_id)))
                uow.connections.save(
                    SalesforceConnection(
                        AccountId(account_id),
                        "https://acme.my.salesforce.com",
                        "https://login.salesforce.com",
                        "access",
                        "refresh",
                    )
                )
                uow.commit()

    def test_counts_and_a_second_run_finds_everything_current(self, database):
        old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
        for name in ("acc_a", "acc_b", "acc_c"):
            self.save(database, [old], name)
        env = {"DATABASE_URL": database, "SFSYNC_ENCRYPTION_KEYS": f"{new},{old}"}
        first = sfsync("rotate-keys", "--batch-size", "2", **env)
        assert first.returncode == 0, first.stderr
        assert "re-encrypted 3 connection(s); 0 already current" in first.stdout
        second = sfsync("rotate-keys", **env)
        assert "re-encrypted 0 connection(s); 3 already current" in second.stdout

    def test_undecryptable_accounts_are_named_and_the_exit_is_non_zero(self, database):
        old, new, lost = (TokenCipher.generate_key() for _ in range(3))
        self.save(database, [old], "acc_fine")
        self.save(database, [lost], "acc_lost")
        env = {"DATABASE_URL": database, "SFSYNC_ENCRYPTION_KEYS": f"{new},{old}"}
        result = sfsync("rotate-keys", **env)
        assert result.returncode == 1
        assert "re-encrypted 1 connection(s)" in result.stdout
        assert "acc_lost" in one_line(result) and "acc_fine" not in result.stderr
