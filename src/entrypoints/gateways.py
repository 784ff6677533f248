"""Part of the composition root: the Salesforce side, a gateway per connection (or a
reader of a vendor's copy per vendor link).

bootstrap.py hands these to the services; nothing else builds Salesforce adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import attrs

from sfsync.adapters.salesforce.auth import OAuthApp, RefreshTokenAuth, Tokens
from sfsync.adapters.salesforce.client import ClientSettings
from sfsync.adapters.salesforce.gateway import HttpxSalesforce, SalesforceSettings
from sfsync.adapters.salesforce.hosts import SalesforceHosts
from sfsync.adapters.salesforce.reads import ReadSettings
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.adapters.vendor.client import VendorClient
from sfsync.adapters.vendor.contacts import VendorContacts
from sfsync.adapters.vendor.settings import VendorSettings
from sfsync.adapters.vendor.transport import vendor_http
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountSettings
from sfsync.domain.ports import ApiUsage, Metrics, SalesforceConnection, UnitOfWork, VendorLink
from sfsync.entrypoints.settings import Settings


def salesforce_hosts(settings: Settings) -> SalesforceHosts:
    """Salesforce's own hosts plus the configured origins: who may receive credentials."""
    return SalesforceHosts(frozenset(settings.sf_allowed_origins))


def oauth_app(settings: Settings, login_url: str) -> OAuthApp:
    """The connected app on `login_url`; HostRefused when that host may not get secrets."""
    return OAuthApp(
        login_url,
        settings.sf_client_id,
        settings.sf_client_secret or None,
        settings.sf_redirect_uri,
        hosts=salesforce_hosts(settings),
    )


@attrs.frozen
class HttpxGatewayFactory:
    """Opens HttpxSalesforce for a connection; renewed tokens are saved at once, calls and
    the org's remaining API requests counted in `metrics`."""

    settings: Settings
    uow: Callable[[], UnitOfWork]
    metrics: Metrics

    @contextmanager
    def open(
        self, connection: SalesforceConnection, account: AccountSettings
    ) -> Iterator[HttpxSalesforce]:
        app = oauth_app(self.settings, connection.login_url)  # a stored bad host fails the run
        instance_url = app.hosts.instance_url(connection.instance_url)
        tokens = Tokens(connection.access_token, instance_url, connection.refresh_token)
        auth = RefreshTokenAuth(
            app,
            tokens,
            on_tokens=lambda new: self._save_tokens(connection, new),
            on_reauth_required=lambda: self._needs_reauth(connection),
        )
        config = SalesforceSettings(
            client=ClientSettings(
                api_version=self.settings.salesforce_api_version, max_share=account.quota_share
            ),
            reads=ReadSettings(bulk_threshold=self.settings.bulk_threshold),
            bulk_write_threshold=self.settings.bulk_write_threshold,
        )
        http = salesforce_http(self.settings.sf_ca_bundle, timeout=config.client.timeout)
        account_id = connection.account_id

        def on_usage(usage: ApiUsage) -> None:
            self.metrics.api_remaining(account_id, max(usage.limit - usage.used, 0))

        gateway = HttpxSalesforce(
            auth, config, http=http, on_call=self.metrics.salesforce_call, on_usage=on_usage
        )
        try:
            yield gateway
        finally:
            gateway.close()

    @contextmanager
    def open_vendor(self, link: VendorLink, account: AccountSettings) -> Iterator[VendorContacts]:
        contacts = self._vendor(link)
        try:
            yield contacts
        finally:
            contacts.close()

    def unlink_vendor(self, link: VendorLink) -> None:
        contacts = self._vendor(link)
        try:
            contacts.unlink()
        finally:
            contacts.close()

    def _vendor(self, link: VendorLink) -> VendorContacts:
        """PermanentFailure (vendor_not_configured) without the vendor's URL and key."""
        if not (self.settings.vendor_base_url and self.settings.vendor_api_key):
            raise PermanentFailure(
                "vendor mode needs SFSYNC_VENDOR_BASE_URL and SFSYNC_VENDOR_API_KEY",
                code="vendor_not_configured",
            )
        config = VendorSettings(
            self.settings.vendor_base_url,
            self.settings.vendor_api_key,
            rate_per_minute=self.settings.vendor_rate_per_minute,
        )
        http = vendor_http(self.settings.vendor_ca_bundle, timeout=config.timeout)
        client = VendorClient(
            config, link.account_token, http, on_call=self.metrics.salesforce_call
        )
        return VendorContacts(client)

    def _save_tokens(self, connection: SalesforceConnection, new: Tokens) -> None:
        with self.uow() as uow:
            current = uow.connections.get(connection.account_id) or connection
            uow.connections.save(
                attrs.evolve(
                    current,
                    access_token=new.access_token,
                    instance_url=new.instance_url,
                    refresh_token=new.refresh_token or current.refresh_token,
                    issued_at=datetime.now(UTC),
                )
            )
            uow.commit()

    def _needs_reauth(self, connection: SalesforceConnection) -> None:
        with self.uow() as uow:
            uow.connections.mark_needs_reauth(connection.account_id)
            uow.commit()
