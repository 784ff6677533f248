"""One trust for every Salesforce client: system roots + certifi + SFSYNC_SF_CA_BUNDLE on top."""

from __future__ import annotations

import ssl

import certifi
import pytest

from sfsync.adapters.salesforce.errors import SalesforceTlsError
from sfsync.adapters.salesforce.hosts import parse_origin
from sfsync.adapters.salesforce.transport import trust_context
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import SalesforceConnection
from sfsync.entrypoints.bootstrap import HttpxGatewayFactory
from sfsync.entrypoints.settings import Settings
from sfsync_emulator.harness import Emulator
from tests.fakes import InMemoryUnitOfWork, RecordingMetrics

pytestmark = pytest.mark.emulator


def subjects(context: ssl.SSLContext) -> set[tuple]:
    return {cert["subject"] for cert in context.get_ca_certs()}


def test_the_extra_ca_is_added_to_the_public_roots_not_instead(sf_emulator: Emulator):
    plain, extended = trust_context(None), trust_context(sf_emulator.ca_path)
    added = subjects(extended) - subjects(plain)
    assert subjects(plain) < subjects(extended)
    assert [dict(part[0] for part in subject)["organizationName"] for subject in added] == [
        "sfsync emulator CA"
    ]
    assert plain.cert_store_stats()["x509_ca"] + 1 == extended.cert_store_stats()["x509_ca"]


def test_public_roots_include_certifi_and_the_system_store():
    context = trust_context(None)
    from_certifi = ssl.create_default_context(cafile=certifi.where())
    assert subjects(from_certifi) <= subjects(context)
    system = ssl.create_default_context()
    assert subjects(system) <= subjects(context)


def test_the_context_is_built_once_per_process(sf_emulator: Emulator):
    assert trust_context(sf_emulator.ca_path) is trust_context(sf_emulator.ca_path)


def worker_settings(emu: Emulator, **changes) -> Settings:
    values = {
        "sf_client_id": emu.client_id,
        "sf_client_secret": emu.client_secret,
        "sf_allowed_origins": (parse_origin(emu.base_url),),
        "sf_ca_bundle": emu.ca_path,
    }
    return Settings(**{**values, **changes})


def a_connection(emu: Emulator) -> SalesforceConnection:
    minted = emu.admin.mint_token(refresh=True)
    return SalesforceConnection(
        account_id=AccountId("acc_tls"),
        instance_url=minted["instance_url"],
        login_url=emu.base_url,
        access_token=minted["access_token"],
        refresh_token=minted["refresh_token"],
    )


class TestWorkerGateway:
    def test_with_the_ca_bundle_the_worker_reaches_the_emulator(self, sf_org: Emulator):
        factory = HttpxGatewayFactory(
            worker_settings(sf_org), InMemoryUnitOfWork, RecordingMetrics()
        )
        with factory.open(a_connection(sf_org), AccountSettings(AccountId("acc_tls"))) as sf:
            assert sf.describe_contact().get("Email") is not None

    def test_without_it_the_error_says_tls_and_how_to_fix_it(self, sf_org: Emulator):
        """Not "unreachable", and not retried: a certificate does not fix itself."""
        factory = HttpxGatewayFactory(
            worker_settings(sf_org, sf_ca_bundle=None), InMemoryUnitOfWork, RecordingMetrics()
        )
        sf_org.admin.clear_requests()
        with factory.open(a_connection(sf_org), AccountSettings(AccountId("acc_tls"))) as sf:
            with pytest.raises(SalesforceTlsError) as failed:
                sf.describe_contact()
        host = sf_org.base_url.removeprefix("https://")
        assert failed.value.message.startswith(f"TLS certificate verification failed for {host}")
        assert "set SFSYNC_SF_CA_BUNDLE to trust a private CA" in failed.value.message
        assert failed.value.code == "tls_verification_failed"
