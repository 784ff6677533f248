"""connect --vendor, disconnect and status of a vendor-linked account, over the real
Postgres with a fake vendor (the process's gateways swapped for FakeGateways)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs
import psycopg
import pytest
from click.testing import CliRunner, Result

from sfsync.domain.errors import PermanentFailure, UnknownAccount
from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.cli import cli
from sfsync.entrypoints.settings import Settings
from tests.cli.conftest import KEY
from tests.fake_salesforce import FakeSalesforce
from tests.fake_vendor import FakeVendor
from tests.fakes import LinkingGateways

TOKEN = "lnk_7f3Kq9ZxVendorToken"
LAST_SYNC = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


@attrs.define
class VendorContainer(Container):
    """The CLI's container, with a fake vendor behind `gateways()`."""

    fake: LinkingGateways | None = None

    def gateways(self) -> LinkingGateways:  # type: ignore[override]
        assert self.fake is not None
        return self.fake


@pytest.fixture
def vendor() -> LinkingGateways:
    """The fake vendor, as the process's gateways reach it."""
    return LinkingGateways(FakeSalesforce(), FakeVendor(now=lambda: LAST_SYNC), tokens={TOKEN})


@pytest.fixture
def run(migrated_database_url, vendor):
    settings = Settings(database_url=migrated_database_url, encryption_keys=(KEY,))
    fake = vendor

    def invoke(*args: str, stdin: str | None = None) -> Result:
        container = VendorContainer(lambda: settings, pool_size=2, fake=fake)
        return CliRunner().invoke(cli, list(args), obj=container, input=stdin)

    return invoke


def stored(database_url: str, account_id: str) -> tuple | None:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT v.account_token_enc, v.linked_at, s.direct_api FROM account_settings s"
            " LEFT JOIN vendor_links v USING (account_id) WHERE s.account_id = %s",
            (account_id,),
        ).fetchone()


def assert_failed(result: Result, code: str) -> str:
    assert isinstance(result.exception, PermanentFailure), result.output
    assert result.exception.code == code
    return result.exception.message


@pytest.mark.integration
class TestConnectVendor:
    def test_a_token_piped_in_is_checked_stored_sealed_and_vendor_mode_on(
        self, run, vendor, account, migrated_database_url
    ):
        result = run("connect", account, "--vendor", stdin=f"{TOKEN}\n")
        assert result.exit_code == 0, result.output
        assert f"account {account} is linked through the vendor: vendor mode" in result.output
        assert "last vendor sync: 2026-12-01T06:00:00+00:00" in result.output
        assert TOKEN not in result.output and vendor.vendor_opened == 1
        sealed, linked_at, direct_api = stored(migrated_database_url, account)
        assert TOKEN.encode() not in bytes(sealed)
        assert linked_at is not None and direct_api is False

    def test_a_token_file_is_read_and_its_line_ending_dropped(
        self, run, account, tmp_path, migrated_database_url
    ):
        path = tmp_path / "token"
        path.write_text(f"{TOKEN}\r\n")
        result = run("connect", account, "--vendor", "--account-token-file", str(path))
        assert result.exit_code == 0, result.output
        assert stored(migrated_database_url, account)[0] is not None

    def test_linking_again_says_the_link_is_replaced(self, run, account):
        run("connect", account, "--vendor", stdin=TOKEN)
        result = run("connect", account, "--vendor", stdin=TOKEN)
        assert "(its previous link is replaced)" in result.output

    @pytest.mark.parametrize("stdin", ["", "\n", f"{TOKEN} \n", f" {TOKEN}", "a\x1bb\n"])
    def test_an_empty_token_or_whitespace_is_refused_and_nothing_stored(
        self, run, vendor, account, migrated_database_url, stdin
    ):
        result = run("connect", account, "--vendor", stdin=stdin)
        assert_failed(result, "invalid_account_token")
        assert vendor.vendor_opened == 0
        assert stored(migrated_database_url, account) == (None, None, True)

    def test_a_file_with_two_lines_is_refused(self, run, account, tmp_path):
        path = tmp_path / "token"
        path.write_text(f"{TOKEN}\nsecond line\n")
        result = run("connect", account, "--vendor", "--account-token-file", str(path))
        message = assert_failed(result, "invalid_account_token")
        assert TOKEN not in message

    def test_a_missing_token_file_is_one_clear_failure(self, run, account, tmp_path):
        path = str(tmp_path / "nowhere")
        result = run("connect", account, "--vendor", "--account-token-file", path)
        assert "cannot be read (FileNotFoundError)" in assert_failed(
            result, "invalid_account_token"
        )

    def test_a_token_the_vendor_refuses_stores_nothing(self, run, account, migrated_database_url):
        result = run("connect", account, "--vendor", stdin="lnk_not_a_linked_account\n")
        message = assert_failed(result, "vendor_check_failed")
        assert "lnk_not_a_linked_account" not in message and "nothing was saved" in message
        assert stored(migrated_database_url, account) == (None, None, True)

    def test_an_unknown_account_is_refused_before_the_token_is_read(self, run, vendor):
        result = run("connect", "acc_nobody_here", "--vendor", stdin=f"{TOKEN}\n")
        assert isinstance(result.exception, UnknownAccount)
        assert vendor.vendor_opened == 0

    def test_a_token_file_without_vendor_is_a_usage_error(self, run, account, tmp_path):
        result = run("connect", account, "--account-token-file", str(tmp_path / "t"))
        assert result.exit_code == 2 and "goes with --vendor" in result.output


@pytest.mark.integration
class TestDisconnectVendor:
    def test_the_vendor_is_told_then_the_link_deleted(
        self, run, vendor, account, migrated_database_url
    ):
        run("connect", account, "--vendor", stdin=TOKEN)
        result = run("disconnect", account)
        assert result.exit_code == 0, result.output
        assert "the vendor was told and the link deleted" in result.output
        assert vendor.unlinked == [account] and TOKEN not in vendor.tokens
        assert stored(migrated_database_url, account) == (None, None, False)

    def test_when_the_vendor_cannot_be_told_the_link_is_kept(
        self, run, vendor, account, migrated_database_url
    ):
        run("connect", account, "--vendor", stdin=TOKEN)
        vendor.vendor_down = True
        message = assert_failed(run("disconnect", account), "unlink_failed")
        assert "--forget" in message and TOKEN not in message
        assert stored(migrated_database_url, account)[0] is not None

    def test_forget_deletes_anyway_and_says_the_token_may_work_on(
        self, run, vendor, account, migrated_database_url
    ):
        run("connect", account, "--vendor", stdin=TOKEN)
        vendor.vendor_down = True
        result = run("disconnect", account, "--forget")
        assert result.exit_code == 0, result.output
        assert "may keep working until it is unlinked at the vendor" in result.output
        assert stored(migrated_database_url, account)[0] is None

    def test_vendor_only_on_an_account_without_a_link_says_so(self, run, account):
        message = assert_failed(run("disconnect", account, "--vendor"), "not_linked")
        assert f"account {account} has no vendor link" in message


@pytest.mark.integration
class TestStatus:
    def test_json_shows_vendor_mode_and_since_when_without_the_token(self, run, account):
        run("connect", account, "--vendor", stdin=TOKEN)
        result = run("status", account, "--json")
        assert result.exit_code == 0, result.output
        shown = json.loads(result.output)
        assert shown["mode"] == "vendor" and shown["connection"] is None
        assert shown["vendor_link"]["token_readable"] is True
        assert shown["vendor_link"]["linked_at"].startswith("20")
        assert TOKEN not in result.output

    def test_text_says_linked_since(self, run, account):
        run("connect", account, "--vendor", stdin=TOKEN)
        result = run("status", account)
        assert result.exit_code == 0, result.output
        shown = json.loads(run("status", account, "--json").output)
        assert f"mode: vendor, linked since {shown['vendor_link']['linked_at']}" in result.output
        assert "connection: none (vendor mode reads through the vendor link)" in result.output
        assert "api usage: none (vendor mode: sfsync calls no Salesforce API)" in result.output
        assert TOKEN not in result.output

    def test_a_direct_account_shows_direct_mode(self, run, account):
        result = run("account", "show", account)
        assert "mode: direct (the Salesforce API)" in result.output

    def test_vendor_mode_without_a_link_says_how_to_link(self, run, account):
        run("connect", account, "--vendor", stdin=TOKEN)
        run("disconnect", account, "--vendor")
        result = run("status", account)
        assert "mode: vendor, not linked (link it: sfsync connect ACCOUNT_ID --vendor)" in (
            result.output
        )

    def test_a_token_no_key_opens_is_shown_not_raised(self, run, account, migrated_database_url):
        from cryptography.fernet import Fernet

        from sfsync.adapters.postgres.crypto import TokenCipher

        run("connect", account, "--vendor", stdin=TOKEN)
        lost = TokenCipher([Fernet.generate_key().decode()])
        with psycopg.connect(migrated_database_url) as conn:
            conn.execute(
                "UPDATE vendor_links SET account_token_enc = %s WHERE account_id = %s",
                (lost.encrypt(TOKEN, account_id=account, kind="vendor"), account),
            )
        result = run("status", account)
        assert result.exit_code == 0, result.output
        assert "no configured key opens the stored vendor token" in result.output
