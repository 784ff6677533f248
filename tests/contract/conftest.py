"""Storage contract fixtures: one factory of fresh units of work per implementation.

The Postgres branch migrates the session database once and isolates tests by fresh account
ids instead of truncating tables.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import UnitOfWork
from tests.fakes import InMemoryState, InMemoryUnitOfWork

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture(scope="session")
def postgres_uow_factory(migrated_database_url: str) -> Iterator[UowFactory]:
    from sfsync.adapters.postgres.crypto import TokenCipher
    from sfsync.adapters.postgres.pool import make_pool
    from sfsync.adapters.postgres.uow import PsycopgUnitOfWork

    cipher = TokenCipher([TokenCipher.generate_key()])
    with make_pool(migrated_database_url, max_size=4) as pool:
        yield lambda: PsycopgUnitOfWork(pool, cipher)


@pytest.fixture(params=["memory", "postgres"])
def new_uow(request: pytest.FixtureRequest) -> UowFactory:
    """Makes units of work over one store: the fake, or the session's Postgres database."""
    if request.param == "memory":
        state = InMemoryState()
        return lambda: InMemoryUnitOfWork(state)
    return request.getfixturevalue("postgres_uow_factory")


@pytest.fixture
def new_account_id() -> Callable[[], AccountId]:
    """Fresh account ids, so tests never see each other's rows."""
    return lambda: AccountId(f"acc_{secrets.token_hex(6)}")


@pytest.fixture
def account(new_uow: UowFactory, new_account_id: Callable[[], AccountId]) -> AccountId:
    """A registered account (its default settings saved)."""
    account_id = new_account_id()
    with new_uow() as uow:
        uow.accounts.save_settings(AccountSettings(account_id=account_id))
        uow.commit()
    return account_id
