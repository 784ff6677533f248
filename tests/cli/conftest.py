"""Fixtures of the CLI tests: an operator's environment, an account, a connected account."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.entrypoints.gateways import oauth_app
from sfsync.entrypoints.settings import Settings
from sfsync_emulator.harness import Emulator

KEY = Fernet.generate_key().decode()


@pytest.fixture
def cli_env(migrated_database_url: str, sf_emulator: Emulator) -> dict[str, str]:
    """What an operator would export to use the emulator as their org, minus the CA."""
    return {
        "DATABASE_URL": migrated_database_url,
        "SFSYNC_ENCRYPTION_KEYS": KEY,
        "SFSYNC_SF_CLIENT_ID": sf_emulator.client_id,
        "SFSYNC_SF_CLIENT_SECRET": sf_emulator.client_secret,
        "SFSYNC_SF_REDIRECT_URI": sf_emulator.redirect_uri,
        "SFSYNC_SF_ALLOWED_ORIGINS": sf_emulator.base_url,
    }


@pytest.fixture
def account(migrated_database_url: str) -> AccountId:
    account_id = AccountId(f"acc_{secrets.token_hex(4)}")
    with make_pool(migrated_database_url, max_size=1) as pool:
        with PsycopgUnitOfWork(pool, TokenCipher([KEY])) as uow:
            uow.accounts.save_settings(AccountSettings(account_id))
            uow.commit()
    return account_id


@pytest.fixture
def connected(cli_env, sf_org, account) -> Iterator[tuple[AccountId, str]]:
    """`account` connected to the emulator; yields it with its refresh token."""
    settings = Settings.from_env(cli_env | {"SFSYNC_SF_CA_BUNDLE": sf_org.ca_path})
    with make_pool(cli_env["DATABASE_URL"], max_size=1) as pool:
        uow = lambda: PsycopgUnitOfWork(pool, TokenCipher([KEY]))  # noqa: E731
        with salesforce_http(sf_org.ca_path) as http:
            app = oauth_app(settings, sf_org.base_url)
            connection = connect_without_browser(uow(), http, app, account)
    yield account, connection.refresh_token
    sf_org.admin.clear_faults()
