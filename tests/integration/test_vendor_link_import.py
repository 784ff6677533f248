"""A vendor-linked account end to end below the CLI: linked through the real gateway factory
(the vendor emulator over https), its token sealed in Postgres, then imported from it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.locks import PostgresAccountLocks
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.domain.messages import Scope, SyncRequested, Trigger
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.entrypoints.gateways import HttpxGatewayFactory
from sfsync.entrypoints.settings import Settings
from sfsync.services.imports import ImportDeps, run_sync
from sfsync.services.vendor_links import link_vendor, unlink_vendor
from sfsync_emulator.harness import Emulator
from tests.fakes import (
    FixedClock,
    RecordingMetrics,
    RecordingPublisher,
    RecordingRunLog,
)

pytestmark = [pytest.mark.integration, pytest.mark.emulator]

ACCOUNT = AccountId(f"acc_{secrets.token_hex(6)}")
NOW = datetime.now(UTC)


def test_a_linked_account_imports_from_the_vendor_and_unlinks(
    migrated_database_url: str, vendor_org: Emulator
) -> None:
    access = vendor_org.vendor
    assert access is not None
    settings = Settings(
        database_url=migrated_database_url,
        encryption_keys=(TokenCipher.generate_key(),),
        vendor_base_url=access.base_url,
        vendor_api_key=access.api_key,
        vendor_ca_bundle=vendor_org.ca_path,
    )
    cipher = TokenCipher(settings.encryption_keys)
    with make_pool(migrated_database_url, max_size=4) as pool:
        uow = lambda: PsycopgUnitOfWork(pool, cipher)  # noqa: E731
        with uow() as tx:
            tx.accounts.save_settings(AccountSettings(ACCOUNT))
            tx.commit()
        metrics = RecordingMetrics()
        gateways = HttpxGatewayFactory(settings, uow, metrics)
        linked = link_vendor(uow, gateways, ACCOUNT, access.account_token, NOW)
        assert linked.cache.last_sync_finished is not None

        deps = ImportDeps(
            uow,
            gateways,
            RecordingPublisher(),
            FixedClock(NOW),
            PostgresAccountLocks(pool),
            RecordingRunLog(),
            metrics,
        )
        request = SyncRequested(
            "sync.requested",
            1,
            f"req-{NOW.timestamp()}",
            NOW,
            ACCOUNT,
            Scope.IMPORT,
            Trigger.MANUAL,
        )
        run = run_sync(request, deps)
        assert run.status == "succeeded", run.errors
        assert run.source["via"] == "vendor" and run.mode == "full"
        with uow() as tx:
            assert tx.candidates.count(ACCOUNT) == run.counts["created"] > 0

        assert unlink_vendor(uow, gateways, ACCOUNT) is not None
        with uow() as tx:
            assert tx.vendor_links.get(ACCOUNT) is None
