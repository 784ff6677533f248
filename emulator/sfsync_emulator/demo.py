"""`sfsync demo`: the whole loop against the local emulator, end to end, in one command.

Migrations, the emulator seeded with Contacts, a demo account connected through the real
OAuth flow, a few mapped attributes, a worker, a sync.requested sent through RabbitMQ as the
web app would, progress while it runs, and the run report from the sync.completed event.
Then a push: a few candidates changed in Postgres as the web app would (a study status, one
unsubscribe), a sync.requested with scope export, its report, and a Contact read back. Then
a sign-up: a candidate.signed_up published with plain pika, and the Contact's flag read back.

Typed in a production shell it still touches nothing of production's: it has its own
database (`sfsync_demo` on the server of DATABASE_URL, or SFSYNC_DEMO_DATABASE_URL), its own
queue prefix and events exchange (`demo`), its own key, and it refuses a database that holds
anything but the demo account.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import click
import pika
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sfsync.adapters.postgres.createdb import ensure_database, foreign_content
from sfsync.adapters.postgres.migrate import migrate
from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.rabbitmq.requests import send_message
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    DeletionBehaviour,
    MappingDirection,
)
from sfsync.entrypoints.bootstrap import Container, build, events_exchange, oauth_app
from sfsync.entrypoints.codec import sync_request
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.entrypoints.settings import DEFAULT_DATABASE_URL, ConfigError, Settings, queue_name
from sfsync.services.accounts import add_attribute, save_settings
from sfsync_emulator.harness import AdminClient, run_emulator

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
STATUS = AttributeMapping("study_status_c", "Study_Status__c", MappingDirection.EXPORT)
STATUSES = ("Invited", "Screened", "Enrolled", "Completed")
GIVEN_A_STATUS = 5  # candidates the "web app" gives a study status; the next one unsubscribes
SIGNUP_DELAY_MS = "0"  # the demo worker flushes sign-ups at once (5 s window by default)


def demo_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The demo's settings, whatever the shell holds: only the servers come from it.

    Every other SFSYNC_ variable is dropped (the production key and client app among them).
    """
    env = {k: v for k, v in environ.items() if not k.startswith("SFSYNC_")}
    env["DATABASE_URL"] = demo_database_url(environ)
    env["SFSYNC_QUEUE_PREFIX"] = demo_queue_prefix(env["DATABASE_URL"])
    env["SFSYNC_ENCRYPTION_KEYS"] = demo_key()
    env["SFSYNC_METRICS_PORT"] = "0"  # no port taken: a production worker may hold 9400
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


def demo_queue_prefix(database_url: str) -> str:
    """`demo`, or `demo_<database>` for a database of another name: two demos on two
    databases (a test run beside `make demo`) never take each other's messages."""
    name = urlsplit(database_url).path.lstrip("/")
    if name == DEMO_DATABASE:
        return DEMO_PREFIX
    return f"{DEMO_PREFIX}_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


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


def set_up_account(container: Container, emulator_url: str, admin: AdminClient) -> None:
    """Direct mode, push on; the seeded mappings, and an export-only study status on a
    custom field the demo adds to the emulator (its state is gone on every start)."""
    uow = container.uow
    settings = AccountSettings(
        ACCOUNT, deletion_behaviour=DeletionBehaviour.UNSUBSCRIBE, push_enabled=True
    )
    save_settings(uow(), settings)
    app = oauth_app(container.settings, emulator_url)
    with salesforce_http(container.settings.sf_ca_bundle) as client:
        connect_without_browser(uow(), client, app, ACCOUNT)
    admin.add_field(STATUS.field, "picklist", length=40, picklist=STATUSES, restricted=True)
    for mapping in (*MAPPINGS, STATUS):
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
    columns = (TextColumn("running"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
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


def request_and_follow(container: Container, scope: str, console: Console) -> dict[str, Any]:
    """Send a sync.requested of `scope` as the web app would; print its report; return it."""
    settings = container.settings
    with EventListener(settings.amqp_url, "sync.completed", events_exchange(settings)) as listener:
        message = sync_request(ACCOUNT, scope=scope)
        started = time.monotonic()
        send_message(settings.amqp_url, queue_name(settings), message)
        console.print(f"sync.requested {message['id']} (scope {scope}) sent")
        event = follow_run(container, listener, str(message["id"]), console)
    print_report(event, time.monotonic() - started, console)
    return event


REPORTED = {
    "import": ("seen", "created", "updated", "unchanged", "deleted", "unsubscribed"),
    "export": ("pushed", "push_failed", "push_conflicts"),
}


def print_report(event: dict[str, Any], seconds: float, console: Console) -> None:
    counts = event["counts"]
    run = str(event["run_id"])[:8]
    title = f"{event['scope']} {event['status']} in {seconds:.1f}s (run {run})"
    table = Table(title=title, min_width=len(title) + 4)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in REPORTED[event["scope"]]:
        table.add_row(key, str(counts.get(key, 0)))
    for reason, number in sorted(counts.get("skipped", {}).items()):
        table.add_row(f"skipped: {reason}", str(number))
    table.add_row("errors", str(len(event.get("errors", []))))
    console.print(table)


def change_candidates(database_url: str) -> tuple[list[str], str | None]:
    """Give the first linked candidates (by Contact Id) a study status and unsubscribe the
    next one, in Postgres, as the web app would. The same candidates and values every run,
    so a second demo changes nothing. Returns their Contact Ids and the unsubscribed one's."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, salesforce_id FROM candidates c WHERE account_id = %s"
            " AND salesforce_id IS NOT NULL AND NOT EXISTS (SELECT FROM consent_changes"
            " WHERE candidate_id = c.id AND source = 'salesforce')"  # opted out there already
            " ORDER BY salesforce_id LIMIT %s",
            (ACCOUNT, GIVEN_A_STATUS + 1),
        ).fetchall()
        for (candidate, _), status in zip(rows[:GIVEN_A_STATUS], itertools.cycle(STATUSES)):
            conn.execute(
                "UPDATE candidates SET attributes ="
                " attributes || jsonb_build_object(%s::text, %s::text) WHERE id = %s",
                (STATUS.name, status, candidate),
            )
        if len(rows) <= GIVEN_A_STATUS:
            return [contact for _, contact in rows], None
        candidate, unsubscribed = rows[-1]
        conn.execute("UPDATE candidates SET unsubscribed = true WHERE id = %s", (candidate,))
    return [contact for _, contact in rows[:-1]], unsubscribed


def push(container: Container, admin: AdminClient, console: Console) -> None:
    given, unsubscribed = change_candidates(container.settings.database_url)
    console.print(
        f"web app: {STATUS.name} set on {len(given)} candidates,"
        f" {int(unsubscribed is not None)} unsubscribed"
    )
    event = request_and_follow(container, "export", console)
    if not event["counts"].get("pushed"):
        console.print("nothing changed since Salesforce last acknowledged it: no write call")
        return
    table = Table(title="read back from the emulator")
    for column in ("Contact", STATUS.field, "HasOptedOutOfEmail"):
        table.add_column(column)
    for contact in (given[0], unsubscribed) if unsubscribed else given[:1]:
        fields = admin.get_contact(contact)
        table.add_row(contact, str(fields[STATUS.field]), str(fields["HasOptedOutOfEmail"]))
    console.print(table)


def signup_candidate(database_url: str, admin: AdminClient) -> tuple[str, str, str] | None:
    """A linked candidate (id, email, Contact Id) whose Contact is not flagged yet."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, email, salesforce_id FROM candidates WHERE account_id = %s"
            " AND salesforce_id IS NOT NULL ORDER BY salesforce_id OFFSET %s LIMIT 50",
            (ACCOUNT, GIVEN_A_STATUS + 1),
        ).fetchall()
    for candidate, email, contact in rows:
        if not admin.get_contact(contact)["gq_import__c"]:
            return candidate, email, contact
    return None


def publish_signup(amqp_url: str, queue: str, candidate: str, email: str) -> str:
    """Publish a candidate.signed_up as the study sign-up service does: plain pika."""
    message = {
        "type": "candidate.signed_up",
        "version": 1,
        "id": str(uuid4()),
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "account_id": ACCOUNT,
        "candidate_id": candidate,
        "email": email,
        "study_id": "demo_study",
    }
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")
        body = json.dumps(message).encode()
        channel.basic_publish("", queue, body, properties, mandatory=True)
    finally:
        connection.close()
    return message["id"]


def sign_up(container: Container, admin: AdminClient, console: Console) -> None:
    settings = container.settings
    found = signup_candidate(settings.database_url, admin)
    if found is None:
        console.print("sign-up: no unflagged Contact to sign up")
        return
    candidate, email, contact = found
    started = time.monotonic()
    message_id = publish_signup(settings.amqp_url, queue_name(settings), candidate, email)
    console.print(f"candidate.signed_up sent with plain pika (the candidate of {contact})")
    outcome = wait_for_signup(settings.database_url, message_id)
    flag = admin.get_contact(contact)["gq_import__c"]
    console.print(
        f"sign-up {outcome} in {time.monotonic() - started:.1f}s:"
        f" Contact {contact} gq_import__c = {flag}"
    )


def wait_for_signup(database_url: str, message_id: str, timeout: float = 60) -> str:
    """The sign-up's outcome once the worker's flush has recorded one."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT outcome FROM signups WHERE message_id = %s", (message_id,)
            ).fetchone()
            if row is not None and row[0] != "pending":
                return str(row[0])
            time.sleep(0.1)
    raise click.ClickException(f"no sign-up outcome after {timeout:.0f}s; see .sfsync/worker.log")


def scheduled(env: dict[str, str], container: Container, console: Console) -> None:
    """`sfsync scheduler --fast-clock`: from a minute before the next slot, 120 times as
    fast, it publishes the account's 23:30 export and midnight import (Pacific); each run's
    report is shown as its sync.completed arrives."""
    settings = container.settings
    command = [sys.executable, "-m", "sfsync.entrypoints.cli", "scheduler", "--fast-clock"]
    exchange = events_exchange(settings)
    with EventListener(settings.amqp_url, "sync.completed", exchange) as listener:
        quiet = env | {"SFSYNC_LOG_LEVEL": "warning"}
        scheduler = subprocess.Popen(command, env=quiet, stdout=subprocess.PIPE, text=True)
        seen: set[str] = set()
        try:
            assert scheduler.stdout is not None
            while seen != {"export", "import"}:
                line = scheduler.stdout.readline()
                if not line:
                    raise click.ClickException("the scheduler stopped; see its output above")
                said, _, request = line.strip().partition(" (request ")
                console.print(f"scheduler: {said}")
                if said.startswith("published") and f" of {ACCOUNT} " in said:
                    started = time.monotonic()
                    event = follow_run(container, listener, request.rstrip(")"), console)
                    print_report(event, time.monotonic() - started, console)
                    seen.add(line.split()[1])
        finally:
            scheduler.terminate()
            scheduler.wait(30)


@click.command("demo")
@click.option("--contacts", default=10_000, show_default=True, help="Contacts in the emulator.")
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--schedule",
    is_flag=True,
    help="Then run `sfsync scheduler --fast-clock`: one scheduled export and import.",
)
def demo(contacts: int, seed: int, schedule: bool) -> None:
    """Import, push and a sign-up through RabbitMQ against the emulator, with reports."""
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
            "SFSYNC_SIGNUP_DELAY_MS": SIGNUP_DELAY_MS,
        }
        settings = Settings.from_env(env)
        container = build(settings, pool_size=2)
        worker = start_worker(env)
        try:
            set_up_account(container, emu.base_url, emu.admin)
            console.print(
                "account 'demo' connected through OAuth, push on; attributes: "
                + ", ".join(m.name for m in MAPPINGS)
                + f", {STATUS.name} (export)"
            )
            console.print(f"queue {queue_name(settings)}")
            request_and_follow(container, "import", console)
            push(container, emu.admin, console)
            sign_up(container, emu.admin, console)
            if schedule:
                scheduled(env, container, console)
        finally:
            worker.terminate()
            worker.wait(30)
            container.close()
