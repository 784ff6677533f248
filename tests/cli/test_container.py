"""The process's Container: commands get only what they ask for, and it is closed at exit."""

from __future__ import annotations

import json
import secrets

import pika
import pytest
from click.testing import CliRunner

from sfsync.adapters.postgres.dead_letters import PsycopgDeadLetters
from sfsync.entrypoints.bootstrap import Container, build
from sfsync.entrypoints.cli import cli
from sfsync.entrypoints.settings import ConfigError, Settings
from tests.cli.test_cli import one_line, sfsync

NOWHERE = "postgresql://postgres@127.0.0.1:1/nowhere"


def never_read() -> Settings:
    raise AssertionError("settings were read")


def never_built(container: Container) -> bool:
    """True when nothing ever built the pool: a closed container builds nothing new."""
    try:
        pool = container.pool
    except RuntimeError:
        return True
    pool.close()
    return False


class TestLaziness:
    def test_closing_an_unused_container_reads_and_opens_nothing(self):
        """A command that needs nothing (keygen, --help) costs no settings and no pool."""
        container = Container(never_read)
        container.close()
        container.close()
        assert never_built(container)

    def test_keygen_works_whatever_the_environment_holds(self):
        """Settings are read on first use: keygen never reads them."""
        result = sfsync("keygen", DATABASE_URL="mysql://somewhere/db")
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.strip()) == 44

    def test_a_unit_of_work_without_keys_fails_before_postgres_is_opened(self):
        """Tokens need the keys: the same ConfigError as before, and no pool is built."""
        container = build(Settings(database_url=NOWHERE), pool_size=1)
        with pytest.raises(ConfigError, match="SFSYNC_ENCRYPTION_KEYS is required"):
            container.uow()
        container.close()
        assert never_built(container)

    def test_the_worker_refuses_to_start_without_keys(self):
        """It reads tokens and signs envelopes: one clear line before any server is asked."""
        result = sfsync(
            "worker", DATABASE_URL=NOWHERE, AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F"
        )
        assert result.returncode == 2
        assert "SFSYNC_ENCRYPTION_KEYS is required" in one_line(result)

    def test_rotate_keys_asks_for_keys_before_opening_postgres(self):
        """Rotation reads tokens: without keys it is the configuration error."""
        container = build(Settings(database_url=NOWHERE), pool_size=1)
        result = CliRunner().invoke(cli, ["rotate-keys"], obj=container)
        assert isinstance(result.exception, ConfigError)
        assert never_built(container)

    def test_account_set_still_needs_keys(self):
        """Its unit of work holds the token store, so the keys are asked for."""
        result = sfsync("account", "set", "acc_1", DATABASE_URL=NOWHERE)
        assert result.returncode == 2
        assert "SFSYNC_ENCRYPTION_KEYS is required" in one_line(result)


@pytest.mark.integration
class TestWithServices:
    def test_dead_letters_work_without_token_keys(self, migrated_database_url):
        """Listing and showing dead letters never touch tokens."""
        container = build(Settings(database_url=migrated_database_url), pool_size=1)
        with container:
            PsycopgDeadLetters(container.pool).record(
                {"queue": "q", "actor": "a", "message_id": "m-nokeys", "reason": "no keys"}
            )
        listed = sfsync("dead-letters", "list", "--json", DATABASE_URL=migrated_database_url)
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        entry = next(row for row in rows if row["message_id"] == "m-nokeys")
        shown = sfsync("dead-letters", "show", str(entry["id"]), DATABASE_URL=migrated_database_url)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["reason"] == "no keys"

    def test_the_group_closes_the_pool_a_command_opened(self, migrated_database_url):
        """The Container in ctx.obj is closed when the command ends."""
        container = build(Settings(database_url=migrated_database_url), pool_size=1)
        result = CliRunner().invoke(cli, ["dead-letters", "list"], obj=container)
        assert result.exit_code == 0, result.output
        assert container.pool.closed

    def test_sync_opens_no_postgres_and_needs_no_keys(self, amqp_url):
        """A sync request only goes to RabbitMQ."""
        prefix = f"c{secrets.token_hex(4)}"
        settings = Settings(database_url=NOWHERE, amqp_url=amqp_url, queue_prefix=prefix)
        container = build(settings)
        result = CliRunner().invoke(cli, ["sync", "acc_1"], obj=container)
        assert result.exit_code == 0, result.output
        assert never_built(container)
        body = take_request(amqp_url, prefix)
        assert json.loads(body)["account_id"] == "acc_1"
        assert result.output == f"requested {json.loads(body)['id']}\n"

    @pytest.mark.parametrize("scope", ["import", "export", "full"])
    def test_sync_sends_the_scope_asked_for(self, amqp_url, scope):
        prefix = f"c{secrets.token_hex(4)}"
        container = build(Settings(database_url=NOWHERE, amqp_url=amqp_url, queue_prefix=prefix))
        result = CliRunner().invoke(cli, ["sync", "acc_1", "--scope", scope], obj=container)
        assert result.exit_code == 0, result.output
        body = take_request(amqp_url, prefix)
        assert json.loads(body)["scope"] == scope


def take_request(amqp_url: str, prefix: str) -> bytes:
    """The one message on the prefixed queue; the queues are deleted."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    _, _, body = channel.basic_get(f"{prefix}.sfsync", auto_ack=True)
    for suffix in ("", ".DQ", ".XQ"):
        channel.queue_delete(f"{prefix}.sfsync{suffix}")
    connection.close()
    return body
