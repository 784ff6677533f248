"""Ops commands: the worker, keys, connections and sync requests.

Each command takes the process's Container (`click.pass_obj`; the `sfsync` group makes it
and closes it at exit) and asks it for the adapters it needs, built on first use.
"""

from __future__ import annotations

import os
import sys

import click

from sfsync.adapters.salesforce.auth import authorize_url, check_login_host
from sfsync.domain.errors import PermanentFailure, UnknownAccount
from sfsync.domain.messages import Scope
from sfsync.domain.model import AccountId
from sfsync.entrypoints.bootstrap import Container, build
from sfsync.entrypoints.codec import sync_request
from sfsync.entrypoints.connect import (
    code_from_redirect,
    disconnect_account,
    finish_connection,
    wait_for_callback,
)
from sfsync.entrypoints.endpoints import SCHEDULER_PORT
from sfsync.entrypoints.health import serve_endpoints
from sfsync.entrypoints.logs import configure_logging
from sfsync.entrypoints.scheduler import fast_clock, run_scheduler
from sfsync.entrypoints.vendor_connect import connect_vendor, disconnect_vendor
from sfsync.entrypoints.worker import run_worker, tune_process
from sfsync.services.scheduler import Tick


@click.command("keygen")
def keygen() -> None:
    """Print a new token encryption key (for SFSYNC_ENCRYPTION_KEYS)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@click.command("worker")
@click.pass_obj
def worker(container: Container) -> None:
    """Consume sync requests from RabbitMQ until SIGTERM, then stop within
    SFSYNC_SHUTDOWN_GRACE_SECONDS: a running import ends after its page in hand and is
    carried on by the next worker."""
    settings = container.settings
    configure_logging(settings.log_format, settings.log_level)
    with build(settings) as sized:  # a container of its own: a pool sized for its threads
        tune_process()
        if not run_worker(sized):
            # Past the grace time: leave as a crash would (Postgres rolls back an open page,
            # RabbitMQ redelivers what was not acked).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)


@click.command("scheduler")
@click.option(
    "--fast-clock",
    "fast",
    is_flag=True,
    help="Demo: a clock that starts a minute before the next slot and runs --speed times"
    " as fast; slots are kept in this process only, so no real slot is taken.",
)
@click.option("--speed", type=click.FloatRange(1, 3600), default=120, show_default=True)
@click.pass_obj
def scheduler(container: Container, fast: bool, speed: float) -> None:
    """Publish each connected account's daily export and import (sync.requested, trigger
    schedule) when due, until SIGTERM; run one or more (each slot goes out once)."""
    import signal
    import threading
    from datetime import timedelta

    settings = container.settings
    configure_logging(settings.log_format, settings.log_level)
    clock = fast_clock(container, speed, timedelta(minutes=1)) if fast else None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    interval = 0.25 if fast else settings.schedule_tick_seconds
    if clock is not None:
        click.echo(f"fast clock: starts at {clock.now():%Y-%m-%d %H:%M} UTC, {speed:g}x")

    daily = container.scheduler(clock, fast=fast)

    def on_tick(tick: Tick) -> None:
        container.metrics.slots(published=len(tick.published), missed=tick.missed)
        for slot in tick.published if fast else ():
            click.echo(
                f"published {slot.kind} of {slot.account_id} for {slot.at:%H:%M} UTC"
                f" (request {slot.request_id(daily.id_salt)})",
            )

    endpoints = serve_endpoints(container, SCHEDULER_PORT, list)  # alive while it answers
    try:
        run_scheduler(daily, stop, interval, on_tick)
    finally:
        if endpoints is not None:
            endpoints.close()


@click.command("disconnect")
@click.argument("account_id")
@click.option(
    "--forget",
    is_flag=True,
    help="Delete the stored tokens even when Salesforce (or the vendor) cannot be told to"
    " revoke them.",
)
@click.option("--vendor", "vendor_only", is_flag=True, help="Only forget the vendor link.")
@click.pass_obj
def disconnect(container: Container, account_id: str, forget: bool, vendor_only: bool) -> None:
    """Revoke ACCOUNT_ID's tokens at Salesforce, then delete them; a vendor link is unlinked
    at the vendor, then deleted (the account stays)."""
    account = AccountId(account_id)
    unlinked = disconnect_vendor(container, account, forget)
    if vendor_only and not unlinked:
        raise PermanentFailure(f"account {account_id} has no vendor link", code="not_linked")
    if unlinked:
        with container.uow() as uow:
            if vendor_only or uow.connections.summary(account) is None:
                return
    with container.salesforce_http() as http:
        outcome = disconnect_account(
            container.uow, http, container.oauth_app, AccountId(account_id), forget=forget
        )
    if outcome.revoked:
        click.echo(
            f"account {account_id} is disconnected: tokens revoked at Salesforce and deleted"
        )
    else:
        click.echo(
            f"account {account_id} is disconnected here, but its tokens were not revoked"
            f" ({outcome.reason}): they may stay valid at Salesforce until revoked there"
            " (Setup > Connected Apps OAuth Usage)"
        )


@click.command("rotate-keys")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.pass_obj
def rotate_keys(container: Container, batch_size: int) -> None:
    """Re-encrypt every stored token (Salesforce connections and vendor links, each counted
    as a connection) with the first key of SFSYNC_ENCRYPTION_KEYS."""
    report = container.rotate_keys(batch_size)
    click.echo(
        f"re-encrypted {report.rotated} connection(s); {report.current} already current;"
        f" {len(report.failed)} could not be decrypted"
    )
    if report.failed:
        raise click.ClickException(
            "no configured key opens the tokens of: "
            + ", ".join(report.failed)
            + " (add the key they were written with, or reconnect those accounts)"
        )


@click.command("sync")
@click.argument("account_id")
@click.option("--full", is_flag=True, help="Re-read every Contact instead of what changed.")
@click.option("--candidate", "candidate_id", default=None, help="Sync only this candidate.")
@click.option(
    "--scope",
    type=click.Choice([s.value for s in Scope]),
    default="import",
    show_default=True,
    help="import; export (push); full (import, then push).",
)
@click.pass_obj
def sync(
    container: Container, account_id: str, full: bool, candidate_id: str | None, scope: str
) -> None:
    """Request a sync, as the web app's button does (a sync.requested message)."""
    message = sync_request(account_id, scope=scope, full=full, candidate_id=candidate_id)
    container.send_request(message)
    click.echo(f"requested {message['id']}")


@click.command("connect")
@click.argument("account_id")
@click.option(
    "--login-url",
    default="https://login.salesforce.com",
    show_default=True,
    help="https://test.salesforce.com for a sandbox, or your My Domain URL.",
)
@click.option("--no-browser", is_flag=True, help="Only print the login URL; open it yourself.")
@click.option(
    "--vendor",
    is_flag=True,
    help="Link through the unified-CRM vendor instead (vendor mode), with the linked"
    " account's token from stdin or --account-token-file.",
)
@click.option(
    "--account-token-file",
    "token_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="With --vendor: read the linked account's token from this file.",
)
@click.pass_obj
def connect(
    container: Container,
    account_id: str,
    login_url: str,
    no_browser: bool,
    vendor: bool,
    token_file: str | None,
) -> None:
    """Connect ACCOUNT_ID to Salesforce (opens the login page, waits for the redirect), or
    with --vendor link it through the vendor (the token is never taken from the command
    line)."""
    if vendor:
        connect_vendor(container, AccountId(account_id), token_file)
        return
    if token_file is not None:
        raise click.UsageError("--account-token-file goes with --vendor")
    app = container.oauth_app(login_url)  # a bad login URL stops here, before anything waits
    with container.uow() as uow:
        if uow.accounts.get_settings(AccountId(account_id)) is None:
            raise UnknownAccount(
                f"account {account_id} is not known to sfsync (create it: sfsync account set)"
            )
    with container.salesforce_http() as http:
        check_login_host(http, app)  # TLS or network trouble shows before anyone logs in
        request = authorize_url(app)
        click.echo(f"Open this URL and log in:\n{request.url}")
        if not no_browser:
            click.launch(request.url)
        code = code_from_redirect(wait_for_callback(container.settings.sf_redirect_uri), request)
        finish_connection(container.uow(), http, app, AccountId(account_id), request, code)
    click.echo(f"account {account_id} is connected")


COMMANDS = (
    keygen,
    worker,
    scheduler,
    sync,
    connect,
    disconnect,
    rotate_keys,
)
