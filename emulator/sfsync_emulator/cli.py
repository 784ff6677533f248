"""`sfsync emulator`: run the local Salesforce emulator (see docs/emulator.md)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress

import click

from sfsync_emulator.server import serve
from sfsync_emulator.state import Config
from sfsync_emulator.vendor_state import VendorConfig

EXPOSED = (
    "warning: --host {host} is not a loopback address. The emulator has no real security: it"
    " hands out fake credentials (the client secret, tokens) and its admin API, which can"
    " change every record, to anyone on the network who can reach this port."
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


@click.command("emulator")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind; anything but loopback exposes it to the network (warned).",
)
@click.option(
    "--port",
    default=8085,
    show_default=True,
    type=int,
    help="Port to bind; 0 picks a free one (printed in the ready line).",
)
@click.option(
    "--contacts", default=1000, show_default=True, type=int, help="Synthetic Contacts to seed."
)
@click.option("--seed", default=1, show_default=True, type=int, help="Seed for the data.")
@click.option(
    "--https/--http",
    default=True,
    show_default=True,
    help="Serve TLS with a locally generated CA (simple-salesforce needs https).",
)
@click.option(
    "--cert-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write ca.pem (default: a temp dir).",
)
@click.option("--client-id", default="sfsync-emulator-client", show_default=True)
@click.option("--client-secret", default="sfsync-emulator-secret", show_default=True)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    default=["http://localhost:8765/callback"],
    show_default=True,
    help="Allowed OAuth redirect URI (repeatable).",
)
@click.option(
    "--api-quota", default=100_000, show_default=True, type=int, help="Daily API request allowance."
)
@click.option(
    "--session-seconds", default=7200, show_default=True, type=int, help="Access token lifetime."
)
@click.option(
    "--epoch-ms",
    default=None,
    type=int,
    help="Fixed 'now' (ms since 1970) the seeded SystemModstamps lead up to, so two "
    "runs with the same seed serve identical data. Default: the real time.",
)
@click.option(
    "--admin-token",
    envvar="SFSYNC_EMULATOR_ADMIN_TOKEN",
    default=None,
    help="Bearer token the admin API requires (default: a new random one, in the ready line).",
)
@click.option(
    "--vendor/--no-vendor",
    default=False,
    show_default=True,
    help="Also serve a unified-CRM vendor's API on /api/crm/v1 (docs/vendor-emulator.md).",
)
@click.option(
    "--vendor-rate",
    default=100,
    show_default=True,
    type=int,
    help="Vendor requests per minute per account token; 0 lifts the limit.",
)
@click.option(
    "--vendor-delete-every",
    default=1,
    show_default=True,
    type=int,
    help="The vendor sees deletes only on every Nth of its syncs.",
)
def emulator(
    host: str,
    port: int,
    contacts: int,
    seed: int,
    https: bool,
    cert_dir: str | None,
    client_id: str,
    client_secret: str,
    redirect_uris: tuple[str, ...],
    api_quota: int,
    session_seconds: int,
    epoch_ms: int | None,
    admin_token: str | None,
    vendor: bool,
    vendor_rate: int,
    vendor_delete_every: int,
) -> None:
    """Run a local Salesforce org emulator (REST, Bulk 2.0, OAuth, admin API; --vendor)."""
    if not is_loopback(host):
        click.echo(EXPOSED.format(host=host), err=True)
    config = Config(
        host=host,
        port=port,
        https=https,
        cert_dir=cert_dir,
        contacts=contacts,
        seed=seed,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uris=list(redirect_uris),
        api_quota=api_quota,
        session_seconds=session_seconds,
        epoch_ms=epoch_ms,
    )
    if admin_token:
        config.admin_token = admin_token
    if vendor:
        config.vendor = VendorConfig(rate_per_minute=vendor_rate, delete_every=vendor_delete_every)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config))


if __name__ == "__main__":
    emulator()
