"""Account set-up and what ops see of it: settings, the Salesforce connection, attribute
mappings (checked against the org's Contact describe when the account is connected)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from sfsync.domain.errors import (
    DomainError,
    PermanentFailure,
    ReauthorizationRequired,
    UnknownAccount,
)
from sfsync.domain.mapping import (
    check_mapping,
    check_writable,
    close_names,
    did_you_mean,
    validate_attribute_name,
    validate_mapping,
)
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    ContactSchema,
    FieldInfo,
    SyncCursor,
    SyncMarks,
)
from sfsync.domain.ports import (
    ApiUsage,
    CacheStatus,
    ConnectionSummary,
    GatewayFactory,
    RunRecord,
    SalesforceConnection,
    UnitOfWork,
    VendorLink,
    VendorLinkSummary,
)
from sfsync.domain.push import PushRefusal, account_refusal
from sfsync.domain.schedule import time_zone


def save_settings(uow: UnitOfWork, settings: AccountSettings) -> None:
    """Create the account, or replace its settings. Push asked for outside direct API mode
    is refused (`not_direct_mode`): vendor mode leaves writing to Salesforce to the vendor;
    so is a time zone that is not an IANA name (`invalid_schedule`)."""
    time_zone(settings.time_zone)
    if settings.push_enabled and account_refusal(settings) == PushRefusal.NOT_DIRECT_MODE:
        raise PermanentFailure(
            f"the settings of account {settings.account_id} were not saved: push writes to"
            " Salesforce through its API, so it needs direct API mode; choose direct API"
            " mode or leave push off",
            code=PushRefusal.NOT_DIRECT_MODE.value,
        )
    with uow:
        uow.accounts.save_settings(settings)
        uow.commit()


def save_connection(uow: UnitOfWork, connection: SalesforceConnection) -> None:
    """Store a fresh connection (after OAuth); clears any 'needs re-authorisation' mark."""
    with uow:
        if uow.accounts.get_settings(connection.account_id) is None:
            raise UnknownAccount(f"account {connection.account_id} is not known to sfsync")
        uow.connections.save(connection)
        uow.commit()


def known_account(uow: UnitOfWork, account_id: AccountId) -> AccountSettings:
    """The account's settings; UnknownAccount when there are none (call it in `with uow`)."""
    settings = uow.accounts.get_settings(account_id)
    if settings is None:
        raise UnknownAccount(f"account {account_id} is not known to sfsync")
    return settings


def add_attribute(
    uow: UnitOfWork, account_id: AccountId, mapping: AttributeMapping
) -> AttributeMapping:
    """Map a candidate attribute to a Contact field (checked against the org by the caller,
    `add_checked_attribute`, or by the next import)."""
    validate_mapping(mapping)
    with uow:
        known_account(uow, account_id)
        uow.accounts.save_mapping(account_id, mapping)
        uow.commit()
    return mapping


@attrs.frozen
class AttributeAdded:
    mapping: AttributeMapping
    field: FieldInfo | None  # the describe's field; None: saved without the org's check
    connected: bool
    checked_with: str = "the org"  # whose describe: the org's, or the vendor's field classes


def add_checked_attribute(
    uow: Callable[[], UnitOfWork],
    gateways: GatewayFactory,
    account_id: AccountId,
    mapping: AttributeMapping,
    *,
    check: bool = True,
) -> AttributeAdded:
    """Save a mapping once the org's describe accepts it (MappingRefused otherwise).

    Without a connection only what needs no org is checked, and the next import checks the
    rest. A describe that cannot be read saves nothing (`describe_failed`), unless `check`
    is False: then the mapping is saved as a disconnected account's would be.
    """
    validate_mapping(mapping)
    with uow() as reading:
        settings = known_account(reading, account_id)
        if settings.direct_api:
            way: SalesforceConnection | VendorLink | None = reading.connections.get(account_id)
        else:  # vendor mode: the vendor's field classes are the describe
            way = reading.vendor_links.get(account_id)
    field = None
    if way is not None and check:
        field = check_mapping(mapping, _describe(gateways, way, settings))
        if settings.direct_api:  # only direct mode pushes
            check_writable(mapping, field)
    add_attribute(uow(), account_id, mapping)
    checked_with = "the org" if settings.direct_api else "the vendor's field classes"
    return AttributeAdded(mapping, field, way is not None, checked_with)


_HINTS = {  # what to do about a describe that failed, by the failure's code
    "reauthorization_required": "reconnect the account (sfsync connect)",
    "salesforce_auth_error": "check SFSYNC_SF_CLIENT_ID and its secret, or reconnect",
    "salesforce_host_refused": "the stored Salesforce host is not allowed here; reconnect",
    "tls_verification_failed": "set SFSYNC_SF_CA_BUNDLE to trust a private CA",
    "salesforce_unavailable": "try again later",
    "quota": "wait for the org's API allowance to recover",
    "vendor_link_invalid": "relink the account (sfsync connect ACCOUNT --vendor)",
    "vendor_not_configured": "set SFSYNC_VENDOR_BASE_URL and SFSYNC_VENDOR_API_KEY",
    "vendor_unavailable": "try again later",
}


def _describe(
    gateways: GatewayFactory, way: SalesforceConnection | VendorLink, settings: AccountSettings
) -> ContactSchema:
    """The Contact describe (the org's, or the vendor's field classes); a failure says only
    its code (Salesforce's text may hold data)."""
    if isinstance(way, SalesforceConnection) and way.needs_reauth:
        raise _not_described("reauthorization_required")
    try:
        if isinstance(way, VendorLink):
            with gateways.open_vendor(way, settings) as reader:
                return reader.describe_contact()
        with gateways.open(way, settings) as gateway:
            return gateway.describe_contact()
    except DomainError as err:
        raise _not_described(err.code) from err


def _not_described(code: str) -> PermanentFailure:
    return PermanentFailure(
        f"the mapping was not saved: the org's Contact describe could not be read to check it"
        f" ({code}); {_HINTS.get(code, 'try again')}, or pass --unchecked to save it now and"
        " let the next import check it",
        code="describe_failed",
    )


def list_attributes(uow: UnitOfWork, account_id: AccountId) -> list[AttributeMapping]:
    """The account's mappings, by attribute name."""
    with uow:
        known_account(uow, account_id)
        return uow.accounts.mappings(account_id)


def remove_attribute(uow: UnitOfWork, account_id: AccountId, name: str) -> None:
    """Forget a mapping. Candidates keep the values already imported for it."""
    validate_attribute_name(name)
    with uow:
        known_account(uow, account_id)
        if not uow.accounts.remove_mapping(account_id, name):
            names = [m.name for m in uow.accounts.mappings(account_id)]
            hint = did_you_mean(close_names(name, names))
            raise PermanentFailure(
                f"account {account_id} has no attribute {name}{hint}", code="unknown_attribute"
            )
        uow.commit()


RUNS_SHOWN = 5  # the last runs `show_account` returns unless asked for another number


@attrs.frozen
class AccountOverview:
    settings: AccountSettings
    connection: ConnectionSummary | None
    mappings: tuple[AttributeMapping, ...]
    cursor: SyncCursor | None  # where the next incremental import starts
    marks: SyncMarks
    runs: tuple[RunRecord, ...] = ()  # the last runs, newest first
    vendor_link: VendorLinkSummary | None = None  # vendor mode's link, never its token


def show_account(uow: UnitOfWork, account_id: AccountId, runs: int = RUNS_SHOWN) -> AccountOverview:
    """Settings, connection and vendor link (never their tokens), mappings, how far imports
    got and the last `runs` runs. Works when no configured key opens the tokens: the
    summaries say so."""
    with uow:
        settings = known_account(uow, account_id)
        return AccountOverview(
            settings,
            uow.connections.summary(account_id),
            tuple(uow.accounts.mappings(account_id)),
            uow.runs.cursor(account_id),
            uow.runs.marks(account_id),
            tuple(uow.runs.recent(account_id, runs)),
            uow.vendor_links.summary(account_id),
        )


def usable_connection(
    account_id: AccountId, connection: SalesforceConnection | None
) -> SalesforceConnection:
    """The account's connection, when one is stored and needs no new authorisation."""
    if connection is None:
        raise PermanentFailure(
            f"account {account_id} has no Salesforce connection", code="not_connected"
        )
    if connection.needs_reauth:
        raise ReauthorizationRequired("the Salesforce connection must be authorised again")
    return connection


def live_vendor_status(
    uow: Callable[[], UnitOfWork], gateways: GatewayFactory, account_id: AccountId
) -> CacheStatus | None:
    """The vendor's last Contact sync now (one vendor call); None when the source is no
    copy. PermanentFailure (not_connected) for an account not linked."""
    with uow() as reading:
        settings = known_account(reading, account_id)
        link = reading.vendor_links.get(account_id)
    if link is None:
        raise PermanentFailure(f"account {account_id} has no vendor link", code="not_connected")
    with gateways.open_vendor(link, settings) as reader:
        cache = reader.capabilities().cache
        return None if cache is None else cache.status()


def live_api_usage(
    uow: Callable[[], UnitOfWork], gateways: GatewayFactory, account_id: AccountId, now: datetime
) -> ApiUsage | None:
    """The org's API usage now, at the cost of one Salesforce call (the Contact describe),
    kept as a run's would be; None when Salesforce did not say."""
    with uow() as reading:
        settings = known_account(reading, account_id)
        connection = usable_connection(account_id, reading.connections.get(account_id))
    with gateways.open(connection, settings) as gateway:
        gateway.describe_contact()
        usage = gateway.api_usage()
    if usage is not None:
        with uow() as writing:
            writing.connections.note_usage(account_id, usage, now)
            writing.commit()
    return usage
