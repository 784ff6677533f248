"""`sfsync status ACCOUNT`: an org at a glance, from what the store keeps (no Salesforce call
unless --live): connection, settings, mappings, watermark, last runs, API usage, dead letters.

Ids, codes, counts and times only: never a token, a record value or a dead letter's body.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from sfsync.domain.model import AccountId
from sfsync.domain.ports import ApiUsage
from sfsync.entrypoints.account_view import overview_dict, overview_text
from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.dead_letter_view import row_dict, summary_text
from sfsync.entrypoints.terminal import JSON_OPTION, iso, visible


@click.command("status")
@click.argument("account_id")
@click.option(
    "--runs",
    type=click.IntRange(0, 50),
    default=5,
    show_default=True,
    help="How many of the last runs to show.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Read the org's API usage from Salesforce now (one API call) instead of the last"
    " run's reading; in vendor mode, the vendor's last Contact sync (one vendor call).",
)
@JSON_OPTION
@click.pass_obj
def status(container: Container, account_id: str, runs: int, live: bool, as_json: bool) -> None:
    """ACCOUNT_ID at a glance: its mode (direct, or vendor and since when linked), its
    Salesforce connection (org, user, when connected, whether it needs re-authorising),
    settings, attributes, watermark, last runs, the org's API usage against the account's
    quota share, and its dead letters by reason."""
    from sfsync.adapters.postgres.dead_letters import DeadLetterFilter
    from sfsync.services.accounts import live_api_usage, live_vendor_status, show_account

    account = AccountId(account_id)
    overview = show_account(container.uow(), account, runs)
    vendor_sync = None
    if live and not overview.settings.direct_api:
        vendor_sync = live_vendor_status(container.uow, container.gateways(), account)
    elif live:
        live_api_usage(container.uow, container.gateways(), account, datetime.now(UTC))
        overview = show_account(container.uow(), account, runs)
    shown = overview_dict(overview)
    if vendor_sync is not None:
        shown["vendor_sync"] = {
            "last_sync_finished": iso(vendor_sync.last_sync_finished),
            "last_sync_started": iso(vendor_sync.last_sync_started),
            "syncing": vendor_sync.syncing,
        }
    summary = overview.connection
    if summary is not None:
        shown["connection"] = {
            "org_id": summary.org_id,
            "user_id": summary.user_id,
            "connected_at": iso(summary.connected_at),
            **shown["connection"],
        }
    usage = None if summary is None else summary.api_usage
    seen_at = None if summary is None else summary.api_seen_at
    shown["api_usage"] = _usage(usage, seen_at, overview.settings.quota_share)
    rows = container.dead_letters().summary(DeadLetterFilter(account_id=account))
    shown["dead_letters"] = [row_dict(r) for r in rows]
    click.echo(json.dumps(shown, indent=2) if as_json else status_text(shown, rows))


def _usage(usage: ApiUsage | None, seen_at: datetime | None, share: float) -> dict[str, Any]:
    """The org's daily API calls as last seen, and how much of them the account may use."""
    used = None if usage is None or usage.limit <= 0 else round(usage.used / usage.limit, 4)
    return {
        "used": None if usage is None else usage.used,
        "limit": None if usage is None else usage.limit,
        "used_share": used,
        "quota_share": share,  # a run stops once the org's usage passes this share
        "seen_at": iso(seen_at),
    }


def status_text(shown: dict[str, Any], dead_letters: list[dict[str, Any]]) -> str:
    lines = [overview_text(shown)]
    usage = shown["api_usage"]
    if usage["used"] is None and shown["mode"] == "vendor":
        lines.append("api usage: none (vendor mode: sfsync calls no Salesforce API)")
    elif usage["used"] is None:
        lines.append("api usage: not seen yet (a run records it; or pass --live)")
    else:
        share = f"{usage['used_share']:.1%}" if usage["used_share"] is not None else "-"
        lines.append(
            f"api usage: {usage['used']} of {usage['limit']} calls today ({share}),"
            f" seen {usage['seen_at']}; the account may use up to {usage['quota_share']:.0%}"
        )
    if "vendor_sync" in shown:
        sync = shown["vendor_sync"]
        state = "syncing now" if sync["syncing"] else "idle"
        lines.append(f"vendor's last Contact sync: {sync['last_sync_finished']} ({state})")
    lines.append("dead letters:")
    lines += [f"  {line}" for line in summary_text(dead_letters).splitlines()]
    return visible("\n".join(lines), keep_newlines=True)


COMMANDS = (status,)
