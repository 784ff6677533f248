"""Ops commands: the worker, keys, sync requests, disconnecting and dead letters."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from sfsync.domain.model import AccountId
from sfsync.entrypoints.settings import Settings

if TYPE_CHECKING:
    from sfsync.entrypoints.bootstrap import Container


def _settings() -> Settings:
    from sfsync.entrypoints.cli import load_settings

    return load_settings()


@click.command("keygen")
def keygen() -> None:
    """Print a new token encryption key (for SFSYNC_ENCRYPTION_KEYS)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@click.command("worker")
def worker() -> None:
    """Consume sync requests from RabbitMQ until SIGTERM."""
    from sfsync.entrypoints.bootstrap import build
    from sfsync.entrypoints.logs import configure_logging
    from sfsync.entrypoints.worker import run_worker, tune_process

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    container = build(settings)
    try:
        tune_process()
        run_worker(container)
    finally:
        container.close()


@click.command("disconnect")
@click.argument("account_id")
@click.option(
    "--forget",
    is_flag=True,
    help="Delete the stored tokens even when Salesforce cannot be told to revoke them.",
)
def disconnect(account_id: str, forget: bool) -> None:
    """Revoke ACCOUNT_ID's tokens at Salesforce, then delete them (the account stays)."""
    from sfsync.adapters.salesforce.transport import salesforce_http
    from sfsync.entrypoints.bootstrap import oauth_app
    from sfsync.entrypoints.connect import disconnect_account

    with open_container() as container, salesforce_http(container.settings.sf_ca_bundle) as http:
        outcome = disconnect_account(
            container.uow,
            http,
            lambda login_url: oauth_app(container.settings, login_url),
            AccountId(account_id),
            forget=forget,
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
def rotate_keys(batch_size: int) -> None:
    """Re-encrypt every stored token with the first key of SFSYNC_ENCRYPTION_KEYS."""
    from sfsync.adapters.postgres.key_rotation import rotate_tokens

    with open_container() as container:
        report = rotate_tokens(container.pool, container.cipher, batch_size)
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
def sync(account_id: str, full: bool, candidate_id: str | None) -> None:
    """Request an import, as the web app's button does (a sync.requested message)."""
    from sfsync.adapters.rabbitmq.requests import send_message
    from sfsync.entrypoints.worker import queue_name

    settings = _settings()
    message = sync_request(account_id, full=full, candidate_id=candidate_id)
    send_message(settings.amqp_url, queue_name(settings), message)
    click.echo(f"requested {message['id']}")


def sync_request(
    account_id: str, *, full: bool = False, candidate_id: str | None = None, trigger: str = "manual"
) -> dict[str, object]:
    return {
        "type": "sync.requested",
        "version": 1,
        "id": str(uuid.uuid4()),
        "requested_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "account_id": account_id,
        "scope": "import",
        "candidate_id": candidate_id,
        "trigger": "candidate_page" if candidate_id else trigger,
        "full_resync": full,
    }


@click.group("dead-letters")
def dead_letters() -> None:
    """List, inspect and replay messages that were dead-lettered."""


@dead_letters.command("list")
@click.option("--limit", default=20, show_default=True)
def dead_letters_list(limit: int) -> None:
    """The most recent dead letters and why they failed (bodies are left out)."""
    from sfsync.adapters.postgres.dead_letters import PsycopgDeadLetters

    with open_container() as container:
        for row in PsycopgDeadLetters(container.pool).list(limit):
            click.echo(json.dumps(row, default=str))


@dead_letters.command("show")
@click.argument("entry_id", type=int)
def dead_letters_show(entry_id: int) -> None:
    """One dead letter with its message body (may hold personal data: handle with care).

    A body that was not storable JSON shows as `raw_text` (its bytes as text, undecodable
    bytes as \\xNN); control and invisible characters are escaped, so nothing in a
    body can drive the terminal.
    """
    from sfsync.adapters.postgres.dead_letters import PsycopgDeadLetters

    with open_container() as container:
        row = PsycopgDeadLetters(container.pool).get(entry_id)
    if row is None:
        raise click.ClickException(f"no dead letter {entry_id}")
    raw = row.pop("raw")
    if raw is not None:
        row["raw_text"] = bytes(raw).decode("utf-8", "backslashreplace")
        row["raw_truncated"] = len(raw) < (row["raw_size"] or 0)
    click.echo(_visible(json.dumps(row, default=str, indent=2, ensure_ascii=False)))


def _visible(text: str) -> str:
    """`text` with every non-printable character but newlines as a JSON escape."""
    return "".join(c if c.isprintable() or c == "\n" else json.dumps(c)[1:-1] for c in text)


@dead_letters.command("replay")
@click.argument("entry_id", type=int)
def dead_letters_replay(entry_id: int) -> None:
    """Send a dead letter's message to the queue again, once its cause is fixed."""
    from sfsync.adapters.postgres.dead_letters import PsycopgDeadLetters
    from sfsync.adapters.rabbitmq.requests import send_message
    from sfsync.entrypoints.worker import queue_name

    with open_container() as container:
        store = PsycopgDeadLetters(container.pool)
        row = store.get(entry_id)
        if row is None:
            raise click.ClickException(f"no dead letter {entry_id}")
        message = _request_in(row["body"])
        if row["raw"] is not None:
            raise click.ClickException(
                f"dead letter {entry_id} is not JSON sfsync can store ({row['reason']});"
                " it cannot be replayed"
            )
        if not isinstance(message, dict):
            raise click.ClickException(
                f"dead letter {entry_id} is not a JSON object; it cannot be replayed"
            )
        if message.get("type") == "sync.requested":
            message = {**message, "replay": True}  # a run that ended failed carries on
        send_message(container.settings.amqp_url, queue_name(container.settings), message)
        store.mark_replayed(entry_id)
    click.echo(f"replayed dead letter {entry_id} (message {row['message_id']})")


def _request_in(body: object) -> object:
    """The contract message a dead letter carries: the body itself, or, for a Dramatiq
    envelope refused at the door (a retry in flight across the upgrade that introduced
    signed envelopes), the request inside it."""
    if isinstance(body, dict) and "kwargs" in body and "options" in body:
        kwargs = body["kwargs"]
        if isinstance(kwargs, dict) and isinstance(kwargs.get("body"), dict):
            return kwargs["body"]
    return body


class open_container:
    """`with open_container() as c:` builds the adapters from the environment and closes them."""

    def __enter__(self) -> Container:
        from sfsync.entrypoints.bootstrap import build

        self.container = build(_settings(), pool_size=2)
        return self.container

    def __exit__(self, *exc: object) -> None:
        self.container.close()


COMMANDS = (keygen, worker, sync, dead_letters, disconnect, rotate_keys)
