"""Vendor links (vendor mode): one contract, two stores; the token is sealed at rest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from sfsync.domain.errors import PermanentFailure, UnknownAccount
from sfsync.domain.model import AccountSettings
from sfsync.domain.ports import SalesforceConnection, UnitOfWork, VendorLink, VendorLinkSummary
from tests.fakes import InMemoryUnitOfWork

LINKED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
TOKEN = "vendor-account-token-7fQ2x9"


def a_link(account_id, **changes) -> VendorLink:
    return VendorLink(
        **{"account_id": account_id, "account_token": TOKEN, "linked_at": LINKED, **changes}
    )


@pytest.fixture
def save_under_a_lost_key(
    new_uow: Callable[[], UnitOfWork], request: pytest.FixtureRequest
) -> Callable[[VendorLink], None]:
    """Stores a link as if sealed with a key that has since been dropped."""

    def save(link: VendorLink) -> None:
        uow = new_uow()
        if isinstance(uow, InMemoryUnitOfWork):
            with uow:
                uow.vendor_links.save(link)
                uow.commit()
            uow.state.unreadable_vendor_tokens.add(link.account_id)
            return
        from sfsync.adapters.postgres.crypto import TokenCipher
        from sfsync.adapters.postgres.pool import make_pool
        from sfsync.adapters.postgres.uow import PsycopgUnitOfWork

        lost_key = TokenCipher([TokenCipher.generate_key()])
        with make_pool(request.getfixturevalue("migrated_database_url"), max_size=1) as pool:
            with PsycopgUnitOfWork(pool, lost_key) as lost:
                lost.vendor_links.save(link)
                lost.commit()

    return save


class TestVendorLinks:
    def test_a_link_round_trips_with_its_token(self, new_uow, account):
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account))
            uow.commit()
        with new_uow() as uow:
            assert uow.vendor_links.get(account) == a_link(account)

    def test_a_link_without_its_time_round_trips(self, new_uow, account):
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account, linked_at=None))
            uow.commit()
        with new_uow() as uow:
            assert uow.vendor_links.get(account) == a_link(account, linked_at=None)

    def test_an_unlinked_account_has_none(self, new_uow, account):
        with new_uow() as uow:
            assert uow.vendor_links.get(account) is None
            assert uow.vendor_links.summary(account) is None

    def test_the_summary_says_since_when_and_that_the_token_opens(self, new_uow, account):
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account))
            uow.commit()
        with new_uow() as uow:
            assert uow.vendor_links.summary(account) == VendorLinkSummary(LINKED, True)

    def test_saving_again_replaces_the_token_and_time(self, new_uow, account):
        later = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account))
            uow.commit()
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account, account_token="relinked", linked_at=later))
            uow.commit()
        with new_uow() as uow:
            assert uow.vendor_links.get(account) == a_link(
                account, account_token="relinked", linked_at=later
            )

    def test_a_link_is_not_saved_without_commit(self, new_uow, account):
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account))
        with new_uow() as uow:
            assert uow.vendor_links.get(account) is None

    def test_a_link_for_an_unregistered_account_is_refused(self, new_uow, new_account_id):
        with new_uow() as uow, pytest.raises(UnknownAccount):
            uow.vendor_links.save(a_link(new_account_id()))

    def test_delete_forgets_the_link_and_the_account_stays(self, new_uow, account):
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account))
            uow.commit()
        with new_uow() as uow:
            assert uow.vendor_links.delete(account) is True
            uow.commit()
        with new_uow() as uow:
            assert uow.vendor_links.get(account) is None
            assert uow.vendor_links.delete(account) is False
            assert uow.accounts.get_settings(account) is not None

    def test_delete_is_undone_without_commit(self, new_uow, account):
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account))
            uow.commit()
        with new_uow() as uow:
            uow.vendor_links.delete(account)
        with new_uow() as uow:
            assert uow.vendor_links.get(account) == a_link(account)

    def test_links_belong_to_one_account(self, new_uow, account, new_account_id):
        other = new_account_id()
        with new_uow() as uow:
            uow.accounts.save_settings(AccountSettings(account_id=other))
            uow.vendor_links.save(a_link(account))
            uow.vendor_links.save(a_link(other, account_token="other-token"))
            uow.vendor_links.delete(account)
            uow.commit()
        with new_uow() as uow:
            assert uow.vendor_links.get(account) is None
            assert uow.vendor_links.get(other) == a_link(other, account_token="other-token")

    def test_a_token_no_configured_key_opens_is_a_permanent_failure(
        self, new_uow, account, save_under_a_lost_key
    ):
        save_under_a_lost_key(a_link(account))
        with new_uow() as uow:
            assert uow.vendor_links.summary(account) == VendorLinkSummary(LINKED, False)
            with pytest.raises(PermanentFailure) as raised:
                uow.vendor_links.get(account)
        assert raised.value.code == "token_decryption_failed"
        assert TOKEN not in raised.value.message

    def test_linking_again_makes_the_token_readable(self, new_uow, account, save_under_a_lost_key):
        save_under_a_lost_key(a_link(account))
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account))
            uow.commit()
        with new_uow() as uow:
            assert uow.vendor_links.get(account) == a_link(account)
            assert uow.vendor_links.summary(account) == VendorLinkSummary(LINKED, True)

    def test_a_link_does_not_touch_the_salesforce_connection(self, new_uow, account):
        with new_uow() as uow:
            uow.vendor_links.save(a_link(account))
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.get(account) is None
            assert uow.connections.summary(account) is None


@pytest.fixture
def raw(migrated_database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(migrated_database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_account(postgres_uow_factory, new_account_id):
    account_id = new_account_id()
    with postgres_uow_factory() as uow:
        uow.accounts.save_settings(AccountSettings(account_id=account_id))
        uow.commit()
    return account_id


@pytest.mark.integration
class TestVendorTokenAtRest:
    def test_the_stored_token_is_not_plain_text(self, postgres_uow_factory, pg_account, raw):
        with postgres_uow_factory() as uow:
            uow.vendor_links.save(a_link(pg_account))
            uow.commit()
        (stored,) = raw.execute(
            "SELECT account_token_enc FROM vendor_links WHERE account_id = %s", (pg_account,)
        ).fetchone()
        assert TOKEN.encode() not in bytes(stored) and len(bytes(stored)) > len(TOKEN)

    def test_a_token_copied_to_another_account_is_refused(
        self, postgres_uow_factory, pg_account, new_account_id, raw
    ):
        other = new_account_id()
        with postgres_uow_factory() as uow:
            uow.accounts.save_settings(AccountSettings(account_id=other))
            uow.vendor_links.save(a_link(pg_account))
            uow.commit()
        raw.execute(
            "INSERT INTO vendor_links (account_id, account_token_enc)"
            " SELECT %s, account_token_enc FROM vendor_links WHERE account_id = %s",
            (other, pg_account),
        )
        with postgres_uow_factory() as uow, pytest.raises(PermanentFailure) as raised:
            uow.vendor_links.get(other)
        assert raised.value.code == "token_decryption_failed"

    def test_an_oauth_token_copied_into_the_link_is_refused(
        self, postgres_uow_factory, pg_account, raw
    ):
        connection = SalesforceConnection(
            pg_account, "https://acme.my.salesforce.com", "https://login.salesforce.com", "a", None
        )
        with postgres_uow_factory() as uow:
            uow.connections.save(connection)
            uow.commit()
        raw.execute(
            "INSERT INTO vendor_links (account_id, account_token_enc) SELECT account_id,"
            " access_token_enc FROM salesforce_connections WHERE account_id = %s",
            (pg_account,),
        )
        with postgres_uow_factory() as uow, pytest.raises(PermanentFailure) as raised:
            uow.vendor_links.get(pg_account)
        assert raised.value.code == "token_decryption_failed"

    def test_the_link_goes_with_its_account(self, postgres_uow_factory, pg_account, raw):
        with postgres_uow_factory() as uow:
            uow.vendor_links.save(a_link(pg_account))
            uow.commit()
        raw.execute("DELETE FROM accounts WHERE id = %s", (pg_account,))
        with postgres_uow_factory() as uow:
            assert uow.vendor_links.get(pg_account) is None
