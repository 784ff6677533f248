"""Ops commands for the push: the failures it keeps, a candidate's consent history."""

from __future__ import annotations

import json

import click

from sfsync.domain.model import AccountId
from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.push_view import consent_dict, consent_text, failure_dict, failures_text
from sfsync.entrypoints.terminal import JSON_OPTION


@click.command("push-failures")
@click.argument("account_id")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="How many failures to show.",
)
@click.option(
    "--given-up",
    is_flag=True,
    help="Only the failures the push no longer retries (a deleted Contact, too many attempts).",
)
@click.option(
    "--show-messages",
    is_flag=True,
    help="Also print Salesforce's message of each failure. It may quote the Contact's"
    " values (personal data), so it is left out unless asked for.",
)
@JSON_OPTION
@click.pass_obj
def push_failures(
    container: Container,
    account_id: str,
    limit: int,
    given_up: bool,
    show_messages: bool,
    as_json: bool,
) -> None:
    """The push failures kept for ACCOUNT_ID, the last seen first: candidate id, Contact Id,
    Salesforce's error code and fields, attempts in a row, retryable or given up, last seen.

    A given-up failure is not sent again while its candidate stays linked to that Contact.
    Salesforce's messages are printed only with --show-messages."""
    from sfsync.services.push_records import kept_failures

    kept = kept_failures(container.uow(), AccountId(account_id), limit, given_up=given_up)
    shown = [failure_dict(f, message=show_messages) for f in kept.failures]
    if as_json:
        click.echo(
            json.dumps({"account_id": account_id, "failures": shown, "more": kept.more}, indent=2)
        )
    else:
        click.echo(failures_text(account_id, shown, more=kept.more, given_up=given_up))


@click.command("consent")
@click.argument("candidate_id")
@click.option("--account", "account_id", default=None, help="Look for it in this account only.")
@JSON_OPTION
@click.pass_obj
def consent(container: Container, candidate_id: str, account_id: str | None, as_json: bool) -> None:
    """CANDIDATE_ID's consent history, oldest first, and whether it is unsubscribed now.

    Each change says its source: `salesforce` (the Contact's opt-out unsubscribed the
    candidate) or `sfsync` (sfsync pushed the candidate's unsubscribe and Salesforce
    acknowledged it; until then it is not listed)."""
    from sfsync.services.push_records import consent_history

    account = None if account_id is None else AccountId(account_id)
    shown = consent_dict(consent_history(container.uow(), candidate_id, account))
    click.echo(json.dumps(shown, indent=2) if as_json else consent_text(shown))


COMMANDS = (push_failures, consent)
