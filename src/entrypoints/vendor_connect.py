"""`sfsync connect ACCOUNT --vendor` and the vendor side of `sfsync disconnect`: vendor mode,
an account linked through a unified-CRM vendor by the linked account's token.

The token is read from a file or stdin (a hidden prompt on a terminal), never from the
command line, where the process list and shell history would keep it; nothing printed
holds it. The use cases are in services/vendor_links.py.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId
from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.terminal import iso
from sfsync.services.accounts import known_account
from sfsync.services.vendor_links import MAX_TOKEN_LENGTH, link_vendor, unlink_vendor

# Read at most this much: a token longer than MAX_TOKEN_LENGTH is refused either way.
_READ = MAX_TOKEN_LENGTH + 2


def read_account_token(path: str | None) -> str:
    """The token in `path` (its first line ending dropped), else stdin's: a hidden prompt on
    a terminal, the first line from a pipe."""
    if path is not None:
        try:
            with open(path, encoding="utf-8") as file:
                return _line(file.read(_READ))
        except (OSError, UnicodeDecodeError) as err:
            raise PermanentFailure(
                f"the account token file cannot be read ({type(err).__name__})",
                code="invalid_account_token",
            ) from err
    if sys.stdin.isatty():
        return str(click.prompt("Vendor account token", hide_input=True, err=True))
    return _line(sys.stdin.readline(_READ))


def _line(text: str) -> str:
    return text.removesuffix("\n").removesuffix("\r")


def connect_vendor(container: Container, account_id: AccountId, token_file: str | None) -> None:
    with container.uow() as uow:
        known_account(uow, account_id)  # before anyone types a token
    token = read_account_token(token_file)
    gateways = container.gateways()
    linked = link_vendor(container.uow, gateways, account_id, token, datetime.now(UTC))
    last_sync = linked.cache.last_sync_finished
    again = " (its previous link is replaced)" if linked.replaced else ""
    click.echo(
        f"account {account_id} is linked through the vendor{again}: vendor mode, imports read"
        f" the vendor's copy of the org (last vendor sync: {iso(last_sync) or 'none yet'})"
    )


def disconnect_vendor(container: Container, account_id: AccountId, forget: bool) -> bool:
    """Unlink the account at the vendor and forget its link; False when it had none."""
    outcome = unlink_vendor(container.uow, container.gateways(), account_id, forget=forget)
    if outcome is None:
        return False
    if outcome.told_vendor:
        click.echo(f"account {account_id} is unlinked: the vendor was told and the link deleted")
    else:
        click.echo(
            f"account {account_id} is unlinked here, but the vendor was not told"
            f" ({outcome.reason}): its account token may keep working until it is unlinked"
            " at the vendor"
        )
    return True
