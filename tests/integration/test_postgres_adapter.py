"""Postgres-only behaviour: migrations, pooling failures, what is actually stored."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import errors as pgerrors

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.failures import translate
from sfsync.adapters.postgres.migrate import (
    available,
    check_database,
    current_version,
    migrate,
)
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.domain.errors import (
    Conflict,
    PermanentFailure,
    TransientFailure,
    UnknownAccount,
)
from sfsync.domain.model import AccountId, AccountSettings, Candidate

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_database_url(postgres_server_url: str, database_url: str) -> Iterator[str]:
    """A database of its own, for tests that migrate or tamper with the schema."""
    name = f"sfsync_migrate_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(postgres_server_url)._replace(path=f"/{name}"))
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pool(database_url: str) -> Iterator:
    migrate(database_url)
    with make_pool(database_url, max_size=2, timeout=1.0) as pool:
        yield pool


@pytest.fixture
def account(pool) -> AccountId:
    account_id = AccountId(f"acc_{secrets.token_hex(6)}")
    with PsycopgUnitOfWork(pool, TokenCipher([TokenCipher.generate_key()])) as uow:
        uow.accounts.save_settings(AccountSettings(account_id=account_id))
        uow.commit()
    return account_id


class TestMigrations:
    def test_migrating_twice_applies_nothing_the_second_time(self, empty_database_url):
        every = [m.version for m in available()]
        assert current_version(empty_database_url) is None
        assert migrate(empty_database_url) == every
        assert migrate(empty_database_url) == []
        assert current_version(empty_database_url) == every[-1]

    def test_concurrent_migrations_apply_each_file_once(self, empty_database_url):
        results: list[list[str]] = []

        def run() -> None:
            results.append(migrate(empty_database_url))

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(results) == [[], [m.version for m in available()]]

    def test_an_edited_applied_migration_is_refused(self, empty_database_url):
        migrate(empty_database_url)
        with psycopg.connect(empty_database_url, autocommit=True) as conn:
            conn.execute("UPDATE schema_migrations SET checksum = 'edited'")
        with pytest.raises(PermanentFailure, match="0001_initial was changed") as raised:
            migrate(empty_database_url)
        assert raised.value.code == "migration_checksum_mismatch"


class TestUnreachable:
    URL = "postgresql://postgres:hunter2@127.0.0.1:1/sfsync"

    @pytest.mark.parametrize("call", [check_database, migrate, current_version])
    def test_unreachable_database_is_a_clear_transient_failure(self, call):
        with pytest.raises(TransientFailure) as raised:
            call(self.URL)
        assert "127.0.0.1:1/sfsync" in raised.value.message
        assert "hunter2" not in raised.value.message

    def test_reachable_database_passes_the_check(self, database_url):
        check_database(database_url)

    def test_waiting_too_long_for_a_pooled_connection_is_transient(self, database_url):
        cipher = TokenCipher([TokenCipher.generate_key()])
        with make_pool(database_url, max_size=1, timeout=0.2) as small_pool:
            with PsycopgUnitOfWork(small_pool, cipher):
                with pytest.raises(TransientFailure), PsycopgUnitOfWork(small_pool, cipher):
                    pass


class TestErrorTranslation:
    @pytest.mark.parametrize(
        ("error", "family"),
        [
            (pgerrors.SerializationFailure, TransientFailure),
            (pgerrors.DeadlockDetected, TransientFailure),
            (pgerrors.QueryCanceled, TransientFailure),
            (psycopg.OperationalError, TransientFailure),
            (pgerrors.UniqueViolation, Conflict),
            (pgerrors.ForeignKeyViolation, UnknownAccount),
            (pgerrors.NumericValueOutOfRange, PermanentFailure),
            (pgerrors.UndefinedTable, PermanentFailure),
        ],
    )
    def test_psycopg_errors_map_to_failure_families(self, error, family):
        translated = translate(error("Key (email)=(ada@example.com) already exists"))
        assert type(translated) is family
        assert "ada@" not in translated.message


class TestStoredRows:
    def test_conflict_message_carries_no_personal_data(self, pool, account):
        cipher = TokenCipher([TokenCipher.generate_key()])
        email = "grace.hopper@example.com"
        with PsycopgUnitOfWork(pool, cipher) as uow:
            uow.candidates.add(Candidate(id=f"{account}_1", account_id=account, email=email))
            with pytest.raises(Conflict) as raised:
                uow.candidates.add(Candidate(id=f"{account}_2", account_id=account, email=email))
        assert "grace" not in str(raised.value)

    def test_deleted_candidate_leaves_no_row(self, pool, database_url, account):
        cipher = TokenCipher([TokenCipher.generate_key()])
        with PsycopgUnitOfWork(pool, cipher) as uow:
            uow.candidates.add(Candidate(id=f"{account}_1", account_id=account, email="a@b.org"))
            uow.candidates.delete(account, f"{account}_1")
            uow.commit()
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT * FROM candidates WHERE account_id = %s", (account,))
            assert rows.fetchall() == []


class TestPushTables:
    def test_consent_changes_are_append_only(self, pool, database_url, account):
        from datetime import UTC, datetime

        from sfsync.domain.push.consent import ConsentChange, ConsentSource

        cipher = TokenCipher([TokenCipher.generate_key()])
        with PsycopgUnitOfWork(pool, cipher) as uow:
            uow.candidates.add(Candidate(id=f"{account}_1", account_id=account, email="a@b.org"))
            change = ConsentChange(f"{account}_1", True, ConsentSource.SFSYNC, datetime.now(UTC))
            uow.consent.append(account, [change])
            uow.commit()
        with psycopg.connect(database_url) as conn, pytest.raises(pgerrors.RestrictViolation):
            conn.execute(
                "UPDATE consent_changes SET unsubscribed = false WHERE account_id = %s", (account,)
            )

    def test_a_mapping_direction_is_one_of_three(self, database_url, account):
        with psycopg.connect(database_url) as conn, pytest.raises(pgerrors.CheckViolation):
            conn.execute(
                "INSERT INTO attribute_mappings (account_id, name, field, direction)"
                " VALUES (%s, 'a_c', 'A__c', 'sideways')",
                (account,),
            )
