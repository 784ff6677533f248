"""`sfsync demo`: a full sync against the local emulator, end to end, in one command.

Migrations, the emulator seeded with Contacts, a demo account connected through the real
OAuth flow, a few mapped attributes, a worker, a sync.requested sent through RabbitMQ as the
web app would, progress while it runs, and the run report from the sync.completed event.

Typed in a production shell it still touches nothing of production's: it has its own
database (`sfsync_demo` on the server of DATABASE_URL, or SFSYNC_DEMO_DATABASE_URL), its own
queue prefix and events exchange (`demo`), its own key, and it refuses a database that holds
anything but the demo account.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sfsync.adapters.postgres.createdb import ensure_database, foreign_content
from sfsync.adapters.postgres.migrate import migrate
from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.rabbitmq.requests import send_message
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping, DeletionBehaviour
from sfsync.entrypoints.bootstrap import Container, build, events_exchange, oauth_app
from sfsync.entrypoints.codec import sync_request
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.entrypoints.settings import DEFAULT_DATABASE_URL, ConfigError, Settings, queue_name
from sfsync.services.accounts import add_attribute, save_settings
from sfsync_emulator.harness import run_emulator

ACCOUNT = AccountId("demo")
DEMO_DATABASE = "sfsync_demo"
DEMO_PREFIX = "demo"
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


def demo_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The demo's settings, whatever the shell holds: only the servers come from it.

    Every other SFSYNC_ variable is dropped (the production key and client app among them).
    """
    env = {k: v for k, v in environ.items() if not k.startswith("SFSYNC_")}
    env["DATABASE_URL"] = demo_database_url(environ)
    env["SFSYNC_QUEUE_PREFIX"] = DEMO_PREFIX
    env["SFSYNC_ENCRYPTION_KEYS"] = demo_key()
    return env


def demo_database_url(environ: Mapping[str, str]) -> str:
    """SFSYNC_DEMO_DATABASE_URL, else `sfsync_demo` on the server of DATABASE_URL."""
    url = environ.get("SFSYNC_DEMO_DATABASE_URL", "").strip()
    if url:
        if not url.startswith("postgres") or "://" not in url:
            raise ConfigError("SFSYNC_DEMO_DATABASE_URL must be a URL starting with postgres://")
        return url
    server = urlsplit(environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL)
    return urlunsplit(server._replace(path=f"/{DEMO_DATABASE}"))


def demo_key() -> str:
    """The demo's own token key, kept in .sfsync/demo.key."""
    from cryptography.fernet import Fernet

    STATE_DIR.mkdir(exist_ok=True)
    key_file = STATE_DIR / "demo.key"
    if not key_file.exists():
        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def refuse_a_foreign_database(database_url: str) -> None:
    """Stop, before anything is migrated or started, on a database that is not the demo's."""
    found = foreign_content(database_url, ACCOUNT)
    if found:
        name = urlsplit(database_url).path.lstrip("/")
        raise click.ClickException(
            f"the demo database {name} holds {found}: the demo runs only on a database of its"
            " own; set SFSYNC_DEMO_DATABASE_URL to an empty or demo-only database"
        )


def set_up_account(container: Container, emulator_url: str) -> None:
    uow = container.uow
    save_settings(uow(), AccountSettings(ACCOUNT, deletion_behaviour=DeletionBehaviour.UNSUBSCRIBE))
    app = oauth_app(container.settings, emulator_url)
    with salesforce_http(container.settings.sf_ca_bundle) as client:
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
    env = demo_environment(os.environ)
    settings = Settings.from_env(env)
    ensure_database(settings.database_url)
    refuse_a_foreign_database(settings.database_url)
    applied = migrate(settings.database_url)
    name = urlsplit(settings.database_url).path.lstrip("/")
    console.print(f"database {name} ready ({len(applied)} migration(s) applied)")
    args = ("--redirect-uri", settings.sf_redirect_uri, "--epoch-ms", str(DEMO_EPOCH_MS))
    with run_emulator(contacts=contacts, seed=seed, https=False, extra_args=args) as emu:
        console.print(f"emulator: {emu.base_url} with {contacts:,} Contacts (seed {seed})")
        env |= {
            "SFSYNC_SF_CLIENT_ID": emu.client_id,
            "SFSYNC_SF_CLIENT_SECRET": emu.client_secret,
            "SFSYNC_SF_ALLOWED_ORIGINS": emu.base_url,  # http, so it must be named
        }
        settings = Settings.from_env(env)
        container = build(settings, pool_size=2)
        worker = start_worker(env)
        try:
            set_up_account(container, emu.base_url)
            console.print(
                "account 'demo' connected through OAuth; attributes: "
                + ", ".join(m.name for m in MAPPINGS)
            )
            exchange = events_exchange(settings)
            with EventListener(settings.amqp_url, "sync.completed", exchange) as listener:
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
