"""Vendor mode: an account linked through a unified-CRM vendor reads its Contacts from the
vendor's copy of the org. Linking checks the linked account's token with the vendor first,
then stores it (encrypted by the store) and turns direct API mode off; unlinking tells the
vendor, then forgets the token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from sfsync.domain.errors import DomainError, PermanentFailure
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import CacheStatus, GatewayFactory, UnitOfWork, VendorLink
from sfsync.domain.push import PushRefusal
from sfsync.services.accounts import known_account

MAX_TOKEN_LENGTH = 4096  # far above any vendor's account token


def check_account_token(token: str) -> str:
    """The token, when it can be one: not empty, not too long, no whitespace or control
    character. The message never quotes it."""
    if not token:
        raise PermanentFailure("the vendor account token is empty", code="invalid_account_token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise PermanentFailure(
            f"the vendor account token is longer than {MAX_TOKEN_LENGTH} characters",
            code="invalid_account_token",
        )
    if any(c.isspace() or not c.isprintable() for c in token):
        raise PermanentFailure(
            "the vendor account token holds whitespace or control characters (give it alone,"
            " on one line)",
            code="invalid_account_token",
        )
    return token


@attrs.frozen
class VendorLinked:
    link: VendorLink = attrs.field(repr=False)
    cache: CacheStatus  # the vendor's copy of the org, as the check saw it
    replaced: bool  # the account had a vendor link before (its token is replaced)


def link_vendor(
    uow: Callable[[], UnitOfWork],
    gateways: GatewayFactory,
    account_id: AccountId,
    token: str,
    now: datetime,
) -> VendorLinked:
    """Check the token against the vendor (its cache status), then store the link and put
    the account in vendor mode. Nothing is stored when the vendor refuses it
    (`vendor_check_failed`), nor for an account that pushes (`not_direct_mode`)."""
    link = VendorLink(account_id, check_account_token(token), now)
    with uow() as reading:
        settings = _linkable(known_account(reading, account_id))
    try:
        with gateways.open_vendor(link, settings) as reader:
            cache = reader.capabilities().cache
            if cache is None:
                raise PermanentFailure("the source is not a vendor's copy", code="not_a_vendor")
            status = cache.status()
    except DomainError as err:
        raise PermanentFailure(
            f"account {account_id} was not linked: the vendor did not accept the account token"
            f" ({err.code}: {err.message}); nothing was saved",
            code="vendor_check_failed",
        ) from err
    with uow() as writing:
        current = _linkable(known_account(writing, account_id))
        writing.accounts.save_settings(current)
        replaced = writing.vendor_links.delete(account_id)  # its token need not open
        writing.vendor_links.save(link)
        writing.commit()
    return VendorLinked(link, status, replaced)


def _linkable(settings: AccountSettings) -> AccountSettings:
    """The settings in vendor mode; an account that pushes is refused (push needs the API)."""
    if settings.push_enabled:
        raise PermanentFailure(
            f"account {settings.account_id} pushes to Salesforce, which needs direct API"
            " mode: save its settings without --push before linking it through the vendor",
            code=PushRefusal.NOT_DIRECT_MODE.value,
        )
    return attrs.evolve(settings, direct_api=False)


@attrs.frozen
class Unlinked:
    told_vendor: bool  # False: forgotten here only (--forget); the token may still work
    reason: str = ""  # why the vendor was not told


def unlink_vendor(
    uow: Callable[[], UnitOfWork],
    gateways: GatewayFactory,
    account_id: AccountId,
    *,
    forget: bool = False,
) -> Unlinked | None:
    """Tell the vendor to unlink the account, then delete the link; None when the account
    has no vendor link. When the vendor cannot be told the link is kept (`unlink_failed`),
    unless `forget`: then it is deleted all the same and the result says so. The account
    stays in vendor mode."""
    try:
        with uow() as reading:
            link = reading.vendor_links.get(account_id)
        if link is None:
            return None
        gateways.unlink_vendor(link)
    except DomainError as err:
        if not forget:
            raise PermanentFailure(
                f"the vendor was not told to unlink account {account_id} ({err.code}:"
                f" {err.message}) and the link is kept; try again, or pass --forget to delete"
                " it here anyway",
                code="unlink_failed",
            ) from err
        outcome = Unlinked(told_vendor=False, reason=f"{err.code}: {err.message}")
    else:
        outcome = Unlinked(told_vendor=True)
    with uow() as writing:
        writing.vendor_links.delete(account_id)
        writing.commit()
    return outcome
