"""`sfsync demo`: a full sync against the local emulator, end to end, in one command.

Migrations, the emulator seeded with Contacts, a demo account connected through the real
OAuth flow, a few mapped attributes, a worker, a sync.requested sent through RabbitMQ as the
web app would, progress while it runs, and the run report from the sync.completed event.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sfsync.adapters.emulator.harness import run_emulator
from sfsync.adapters.postgres.createdb import ensure_database
from sfsync.adapters.postgres.migrate import migrate
from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.rabbitmq.requests import send_message
from sfsync.adapters.salesforce.auth import OAuthApp
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping, DeletionBehaviour
from sfsync.entrypoints.bootstrap import Container, build
from sfsync.entrypoints.commands import sync_request
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.entrypoints.settings import Settings
from sfsync.entrypoints.worker import queue_name
from sfsync.services.accounts import add_attribute, save_settings

ACCOUNT = AccountId("demo")
STATE_DIR = Path(".sfsync")
DEMO_EPOCH_MS = 1_790_000_000_000  # fixed "now" for the seed, so a rerun finds nothing new
MAPPINGS = (
    AttributeMapping("favorite_color_c", "Favorite_Color__c"),
    AttributeMapping("hobbies_c", "Hobbies__c"),
    AttributeMapping("age_c", "Age__c"),
    AttributeMapping("score_c", "Score__c"),
    AttributeMapping("signup_date_c", "Signup_Date__c"),
    AttributeMapping("newsletter_c", "Newsletter__c"),
    AttributeMapping("mailing_city", "MailingCity"),
)


def demo_environment(environ: dict[str, str]) -> dict[str, str]:
    """The demo's settings: local services, a demo queue, a key kept in .sfsync/."""
    env = dict(environ)
    env.setdefault("SFSYNC_QUEUE_PREFIX", "demo")
    if not env.get("SFSYNC_ENCRYPTION_KEYS"):
        from cryptography.fernet import Fernet

        STATE_DIR.mkdir(exist_ok=True)
        key_file = STATE_DIR / "demo.key"
        if not key_file.exists():
            key_file.write_text(Fernet.generate_key().decode())
            key_file.chmod(0o600)
        env["SFSYNC_ENCRYPTION_KEYS"] = key_file.read_text().strip()
    return env


def set_up_account(container: Container, emulator_url: str, client_id: str, secret: str) -> None:
    uow = container.uow
    save_settings(uow(), AccountSettings(ACCOUNT, deletion_behaviour=DeletionBehaviour.UNSUBSCRIBE))
    app = OAuthApp(emulator_url, client_id, secret, container.settings.sf_redirect_uri)
    with httpx.Client(timeout=30) as client:
        connect_without_browser(uow(), client, app, ACCOUNT)
    for mapping in MAPPINGS:
        add_attribute(uow(), ACCOUNT, mapping)


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(STATE_DIR / "worker.log", "ab")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, "-m", "sfsync.entrypoints.cli", "worker"], env=env, stdout=log, stderr=log
    )


def follow_run(
    container: Container,
    listener: EventListener,
    request_id: str,
    console: Console,
    timeout: float = 600,
) -> dict[str, Any]:
    """Show progress from the run row until the sync.completed event for `request_id` arrives."""
    deadline = time.monotonic() + timeout
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("import", total=None)
        while time.monotonic() < deadline:
            event = listener.next_for(request_id, wait=0.2)
            if event is not None:
                return event
            with container.uow() as uow:
                run = uow.runs.find_by_request(ACCOUNT, request_id)
            if run is not None:
                progress.update(task, completed=run.processed, total=run.expected)
    raise click.ClickException(f"no sync.completed after {timeout:.0f}s; see .sfsync/worker.log")


def print_report(event: dict[str, Any], seconds: float, console: Console) -> None:
    counts = event["counts"]
    table = Table(title=f"sync {event['status']} in {seconds:.1f}s (run {event['run_id']})")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in ("seen", "created", "updated", "unchanged", "deleted", "unsubscribed"):
        table.add_row(key, str(counts.get(key, 0)))
    for reason, number in sorted(counts.get("skipped", {}).items()):
        table.add_row(f"skipped: {reason}", str(number))
    table.add_row("errors", str(len(event.get("errors", []))))
    console.print(table)


@click.command("demo")
@click.option("--contacts", default=10_000, show_default=True, help="Contacts in the emulator.")
@click.option("--seed", default=7, show_default=True)
def demo(contacts: int, seed: int) -> None:
    """Set up, start the emulator and a worker, import through RabbitMQ, print the report."""
    console = Console()
    env = demo_environment(dict(os.environ))
    settings = Settings.from_env(env)
    ensure_database(settings.database_url)
    applied = migrate(settings.database_url)
    console.print(f"database ready ({len(applied)} migration(s) applied)")
    args = ("--redirect-uri", settings.sf_redirect_uri, "--epoch-ms", str(DEMO_EPOCH_MS))
    with run_emulator(contacts=contacts, seed=seed, https=False, extra_args=args) as emu:
        console.print(f"emulator: {emu.base_url} with {contacts:,} Contacts (seed {seed})")
        env |= {"SFSYNC_SF_CLIENT_ID": emu.client_id, "SFSYNC_SF_CLIENT_SECRET": emu.client_secret}
        settings = Settings.from_env(env)
        container = build(settings, pool_size=2)
        worker = start_worker(env)
        try:
            set_up_account(container, emu.base_url, emu.client_id, emu.client_secret)
            console.print(
                "account 'demo' connected through OAuth; attributes: "
                + ", ".join(m.name for m in MAPPINGS)
            )
            with EventListener(settings.amqp_url, "sync.completed") as listener:
                message = sync_request(ACCOUNT)
                started = time.monotonic()
                send_message(settings.amqp_url, queue_name(settings), message)
                console.print(
                    f"sync.requested {message['id']} sent to queue {queue_name(settings)}"
                )
                event = follow_run(container, listener, str(message["id"]), console)
            print_report(event, time.monotonic() - started, console)
        finally:
            worker.terminate()
            worker.wait(30)
            container.close()
