"""Tokens at rest: encrypted with Fernet, readable after a key rotation, clear errors."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.migrate import migrate
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import SalesforceConnection

OLD_KEY = TokenCipher.generate_key()
NEW_KEY = TokenCipher.generate_key()
ACCESS = "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog"
REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJvvd"


class TestTokenCipher:
    def test_tokens_round_trip(self):
        cipher = TokenCipher([OLD_KEY])
        assert cipher.decrypt(cipher.encrypt(ACCESS)) == ACCESS

    def test_a_malformed_key_is_refused_without_echoing_it(self):
        with pytest.raises(PermanentFailure) as raised:
            TokenCipher([OLD_KEY, "not-a-key"])
        assert "#2" in raised.value.message
        assert "not-a-key" not in raised.value.message
        assert raised.value.code == "invalid_encryption_key"

    @pytest.mark.parametrize("keys", [[], OLD_KEY])
    def test_keys_must_be_a_non_empty_list(self, keys):
        with pytest.raises(PermanentFailure, match="at least one"):
            TokenCipher(keys)

    def test_the_wrong_key_is_a_clear_permanent_failure(self):
        ciphertext = TokenCipher([OLD_KEY]).encrypt(ACCESS)
        with pytest.raises(PermanentFailure) as raised:
            TokenCipher([NEW_KEY]).decrypt(ciphertext)
        assert raised.value.code == "token_decryption_failed"


@pytest.fixture(scope="module")
def pool(database_url: str) -> Iterator:
    migrate(database_url)
    with make_pool(database_url, max_size=2) as pool:
        yield pool


@pytest.fixture
def connected_account(pool) -> AccountId:
    """An account whose connection was saved with OLD_KEY."""
    account_id = AccountId(f"acc_{secrets.token_hex(6)}")
    with PsycopgUnitOfWork(pool, TokenCipher([OLD_KEY])) as uow:
        uow.accounts.save_settings(AccountSettings(account_id=account_id))
        uow.connections.save(
            SalesforceConnection(
                account_id=account_id,
                instance_url="https://acme.my.salesforce.com",
                login_url="https://login.salesforce.com",
                access_token=ACCESS,
                refresh_token=REFRESH,
            )
        )
        uow.commit()
    return account_id


@pytest.mark.integration
class TestTokensAtRest:
    def test_stored_tokens_are_not_plain_text(self, database_url, connected_account):
        with psycopg.connect(database_url) as conn:
            access, refresh = conn.execute(
                "SELECT access_token_enc, refresh_token_enc FROM salesforce_connections"
                " WHERE account_id = %s",
                (connected_account,),
            ).fetchone()
        for stored in (bytes(access), bytes(refresh)):
            assert ACCESS.encode() not in stored
            assert REFRESH.encode() not in stored
        assert TokenCipher([OLD_KEY]).decrypt(access) == ACCESS

    def test_a_rotated_key_still_reads_old_rows(self, pool, connected_account):
        with PsycopgUnitOfWork(pool, TokenCipher([NEW_KEY, OLD_KEY])) as uow:
            connection = uow.connections.get(connected_account)
            assert (connection.access_token, connection.refresh_token) == (ACCESS, REFRESH)
            uow.connections.save(connection)
            uow.commit()
        with PsycopgUnitOfWork(pool, TokenCipher([NEW_KEY])) as uow:
            assert uow.connections.get(connected_account).access_token == ACCESS

    def test_reading_with_only_an_unknown_key_is_a_permanent_failure(self, pool, connected_account):
        with PsycopgUnitOfWork(pool, TokenCipher([NEW_KEY])) as uow:
            with pytest.raises(PermanentFailure) as raised:
                uow.connections.get(connected_account)
        assert raised.value.code == "token_decryption_failed"
