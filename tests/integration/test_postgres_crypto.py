"""Tokens at rest: encrypted with Fernet, bound to their row, rotated to a new key, clear errors."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from cryptography.fernet import Fernet

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.key_rotation import RotationReport, rotate_tokens
from sfsync.adapters.postgres.migrate import migrate
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import SalesforceConnection, VendorLink
from tests.scratch_db import scratch_database

OLD_KEY = TokenCipher.generate_key()
NEW_KEY = TokenCipher.generate_key()
ACCESS = "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog"
REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJvvd"
BOUND = {"account_id": "acc_1", "kind": "access"}


class TestTokenCipher:
    def test_tokens_round_trip(self):
        cipher = TokenCipher([OLD_KEY])
        assert cipher.decrypt(cipher.encrypt(ACCESS, **BOUND), **BOUND) == ACCESS

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
        ciphertext = TokenCipher([OLD_KEY]).encrypt(ACCESS, **BOUND)
        with pytest.raises(PermanentFailure) as raised:
            TokenCipher([NEW_KEY]).decrypt(ciphertext, **BOUND)
        assert raised.value.code == "token_decryption_failed"

    @pytest.mark.parametrize(
        "other",
        [{"account_id": "acc_2", "kind": "access"}, {"account_id": "acc_1", "kind": "refresh"}],
    )
    def test_a_ciphertext_opens_only_for_its_account_and_kind(self, other):
        cipher = TokenCipher([OLD_KEY])
        with pytest.raises(PermanentFailure) as raised:
            cipher.decrypt(cipher.encrypt(ACCESS, **BOUND), **other)
        assert raised.value.code == "token_decryption_failed"
        assert ACCESS not in raised.value.message

    def test_an_unbound_ciphertext_from_before_binding_still_opens(self):
        legacy = Fernet(OLD_KEY).encrypt(ACCESS.encode())
        assert TokenCipher([OLD_KEY]).decrypt(legacy, **BOUND) == ACCESS

    def test_a_bare_vendor_token_is_refused(self):
        """Vendor tokens were bound from the first: a bare one is an OAuth row's, copied."""
        legacy = Fernet(OLD_KEY).encrypt(ACCESS.encode())
        with pytest.raises(PermanentFailure) as raised:
            TokenCipher([OLD_KEY]).decrypt(legacy, account_id="acc_1", kind="vendor")
        assert raised.value.code == "token_decryption_failed"
        assert ACCESS not in raised.value.message

    def test_rotate_binds_an_unbound_ciphertext_and_leaves_a_current_one(self):
        cipher = TokenCipher([NEW_KEY, OLD_KEY])
        legacy = Fernet(NEW_KEY).encrypt(ACCESS.encode())  # first key, but unbound
        rotated = cipher.rotate(legacy, **BOUND)
        assert rotated is not None and cipher.decrypt(rotated, **BOUND) == ACCESS
        with pytest.raises(PermanentFailure):
            cipher.decrypt(rotated, account_id="acc_2", kind="access")
        assert cipher.rotate(rotated, **BOUND) is None

    def test_rotate_moves_a_ciphertext_to_the_first_key(self):
        old = TokenCipher([OLD_KEY]).encrypt(ACCESS, **BOUND)
        rotated = TokenCipher([NEW_KEY, OLD_KEY]).rotate(old, **BOUND)
        assert TokenCipher([NEW_KEY]).decrypt(rotated, **BOUND) == ACCESS


@pytest.fixture(scope="module")
def pool(database_url: str) -> Iterator:
    migrate(database_url)
    with make_pool(database_url, max_size=2) as pool:
        yield pool


def connect(pool, keys: list[str], account_id: AccountId | None = None) -> AccountId:
    """A registered account whose connection is saved with `keys`."""
    account_id = account_id or AccountId(f"acc_{secrets.token_hex(6)}")
    with PsycopgUnitOfWork(pool, TokenCipher(keys)) as uow:
        uow.accounts.save_settings(AccountSettings(account_id=account_id))
        uow.connections.save(
            SalesforceConnection(
                account_id=account_id,
                instance_url="https://acme.my.salesforce.com",
                login_url="https://login.salesforce.com",
                access_token=f"{ACCESS}-{account_id}",
                refresh_token=f"{REFRESH}-{account_id}",
            )
        )
        uow.commit()
    return account_id


def link(pool, keys: list[str], account_id: AccountId | None = None) -> AccountId:
    """A registered account whose vendor link (vendor mode) is saved with `keys`."""
    account_id = account_id or AccountId(f"acc_{secrets.token_hex(6)}")
    with PsycopgUnitOfWork(pool, TokenCipher(keys)) as uow:
        uow.accounts.save_settings(AccountSettings(account_id=account_id, direct_api=False))
        uow.vendor_links.save(VendorLink(account_id, f"vendor-{account_id}"))
        uow.commit()
    return account_id


def read_link(pool, keys: list[str], account_id: AccountId) -> VendorLink | None:
    with PsycopgUnitOfWork(pool, TokenCipher(keys)) as uow:
        return uow.vendor_links.get(account_id)


def read(pool, keys: list[str], account_id: AccountId) -> SalesforceConnection | None:
    with PsycopgUnitOfWork(pool, TokenCipher(keys)) as uow:
        return uow.connections.get(account_id)


@pytest.fixture
def connected_account(pool) -> AccountId:
    return connect(pool, [OLD_KEY])


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

    def test_a_rotated_key_still_reads_old_rows(self, pool, connected_account):
        connection = read(pool, [NEW_KEY, OLD_KEY], connected_account)
        assert connection.access_token == f"{ACCESS}-{connected_account}"
        with PsycopgUnitOfWork(pool, TokenCipher([NEW_KEY, OLD_KEY])) as uow:
            uow.connections.save(connection)
            uow.commit()
        assert read(pool, [NEW_KEY], connected_account) == connection

    def test_reading_with_only_an_unknown_key_is_a_permanent_failure(self, pool, connected_account):
        with pytest.raises(PermanentFailure) as raised:
            read(pool, [NEW_KEY], connected_account)
        assert raised.value.code == "token_decryption_failed"

    def test_ciphertext_swapped_between_accounts_is_refused(self, pool, database_url):
        """A row copied onto another account's (say, to borrow its org) does not decrypt."""
        first, second = connect(pool, [OLD_KEY]), connect(pool, [OLD_KEY])
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "UPDATE salesforce_connections AS c SET access_token_enc = o.access_token_enc,"
                " refresh_token_enc = o.refresh_token_enc FROM salesforce_connections AS o"
                " WHERE (c.account_id, o.account_id) IN ((%s, %s), (%s, %s))",
                (first, second, second, first),
            )
        for account_id in (first, second):
            with pytest.raises(PermanentFailure) as raised:
                read(pool, [OLD_KEY], account_id)
            assert raised.value.code == "token_decryption_failed"

    def test_access_and_refresh_swapped_in_a_row_are_refused(self, pool, database_url):
        account_id = connect(pool, [OLD_KEY])
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "UPDATE salesforce_connections SET access_token_enc = refresh_token_enc,"
                " refresh_token_enc = access_token_enc WHERE account_id = %s",
                (account_id,),
            )
        with pytest.raises(PermanentFailure) as raised:
            read(pool, [OLD_KEY], account_id)
        assert raised.value.code == "token_decryption_failed"


@pytest.fixture
def own_pool(postgres_server_url: str) -> Iterator:
    """A database of this test's own: rotation touches every row of the table."""
    with scratch_database(postgres_server_url) as url, make_pool(url, max_size=2) as pool:
        yield pool


def write_unbound(pool, key: str, account_id: AccountId) -> None:
    """What a row looked like before binding: the bare token, Fernet-encrypted."""
    fernet = Fernet(key)
    with pool.connection() as conn:
        conn.execute(
            "UPDATE salesforce_connections SET access_token_enc = %s, refresh_token_enc = %s"
            " WHERE account_id = %s",
            (
                fernet.encrypt(f"{ACCESS}-{account_id}".encode()),
                fernet.encrypt(f"{REFRESH}-{account_id}".encode()),
                account_id,
            ),
        )


@pytest.mark.integration
class TestRotateKeys:
    def test_rotate_then_drop_the_old_key_keeps_every_token_readable(self, own_pool):
        accounts = [connect(own_pool, [OLD_KEY]) for _ in range(5)]
        before = {a: read(own_pool, [OLD_KEY], a) for a in accounts}
        report = rotate_tokens(own_pool, TokenCipher([NEW_KEY, OLD_KEY]), batch=2)
        assert report == RotationReport(rotated=5, current=0, failed=())
        assert {a: read(own_pool, [NEW_KEY], a) for a in accounts} == before

    def test_a_rerun_only_does_what_is_left(self, own_pool):
        done = [connect(own_pool, [NEW_KEY]) for _ in range(3)]
        left = connect(own_pool, [OLD_KEY])
        report = rotate_tokens(own_pool, TokenCipher([NEW_KEY, OLD_KEY]), batch=2)
        assert report == RotationReport(rotated=1, current=3, failed=())
        again = rotate_tokens(own_pool, TokenCipher([NEW_KEY, OLD_KEY]), batch=2)
        assert again == RotationReport(rotated=0, current=4, failed=())
        assert read(own_pool, [NEW_KEY], left).access_token == f"{ACCESS}-{left}"
        assert all(read(own_pool, [NEW_KEY], a) for a in done)

    def test_unbound_rows_are_rewritten_bound(self, own_pool):
        account_id = connect(own_pool, [NEW_KEY])
        write_unbound(own_pool, NEW_KEY, account_id)
        report = rotate_tokens(own_pool, TokenCipher([NEW_KEY]))
        assert report == RotationReport(rotated=1, current=0, failed=())
        with own_pool.connection() as conn:
            access = conn.execute(
                "SELECT access_token_enc FROM salesforce_connections WHERE account_id = %s",
                (account_id,),
            ).fetchone()[0]
        with pytest.raises(PermanentFailure):  # bound now: it opens for its own row only
            TokenCipher([NEW_KEY]).decrypt(access, account_id="someone_else", kind="access")
        assert read(own_pool, [NEW_KEY], account_id).access_token == f"{ACCESS}-{account_id}"

    def test_tokens_no_key_opens_are_named_and_the_rest_rotated(self, own_pool):
        lost = connect(own_pool, [Fernet.generate_key().decode()], AccountId("acc_lost"))
        kept = connect(own_pool, [OLD_KEY], AccountId("acc_kept"))
        report = rotate_tokens(own_pool, TokenCipher([NEW_KEY, OLD_KEY]), batch=1)
        assert report == RotationReport(rotated=1, current=0, failed=(lost,))
        assert read(own_pool, [NEW_KEY], kept).refresh_token == f"{REFRESH}-{kept}"

    def test_vendor_tokens_are_rotated_too(self, own_pool):
        accounts = [link(own_pool, [OLD_KEY]) for _ in range(3)]
        connected = connect(own_pool, [OLD_KEY])
        report = rotate_tokens(own_pool, TokenCipher([NEW_KEY, OLD_KEY]), batch=2)
        assert report == RotationReport(rotated=4, current=0, failed=())
        for account_id in accounts:
            assert (
                read_link(own_pool, [NEW_KEY], account_id).account_token == f"vendor-{account_id}"
            )
        assert read(own_pool, [NEW_KEY], connected).access_token == f"{ACCESS}-{connected}"
        again = rotate_tokens(own_pool, TokenCipher([NEW_KEY, OLD_KEY]), batch=2)
        assert again == RotationReport(rotated=0, current=4, failed=())

    def test_an_account_whose_tokens_no_key_opens_is_named_once(self, own_pool):
        lost_key = Fernet.generate_key().decode()
        lost = connect(own_pool, [lost_key], AccountId("acc_lost"))
        with PsycopgUnitOfWork(own_pool, TokenCipher([lost_key])) as uow:
            uow.vendor_links.save(VendorLink(lost, "vendor-lost"))
            uow.commit()
        linked = link(own_pool, [OLD_KEY], AccountId("acc_linked"))
        report = rotate_tokens(own_pool, TokenCipher([NEW_KEY, OLD_KEY]))
        assert report == RotationReport(rotated=1, current=0, failed=(lost,))
        assert read_link(own_pool, [NEW_KEY], linked).account_token == "vendor-acc_linked"
