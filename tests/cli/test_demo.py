"""`sfsync demo` typed in a production shell: its own database, queues and key, or a refusal."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from cryptography.fernet import Fernet

from sfsync.entrypoints.settings import ConfigError
from sfsync_emulator.demo import demo_environment
from tests.cli.test_cli import one_line, sfsync
from tests.scratch_db import scratch_database

PRODUCTION = {
    "DATABASE_URL": "postgresql://app:pw@db.prod.example:6432/sfsync",
    "SFSYNC_QUEUE_PREFIX": "prod",
    "SFSYNC_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "SFSYNC_SF_CLIENT_ID": "prod-client",
    "SFSYNC_SF_ALLOWED_ORIGINS": "https://sf-proxy.prod.example",
    "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
    "PATH": "/usr/bin",
}


class TestDemoEnvironment:
    @pytest.fixture(autouse=True)
    def _in_tmp(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)  # the demo keeps its key in ./.sfsync/

    def test_uses_sfsync_demo_on_the_server_of_database_url(self):
        env = demo_environment(PRODUCTION)
        assert env["DATABASE_URL"] == "postgresql://app:pw@db.prod.example:6432/sfsync_demo"

    def test_its_own_queue_prefix_and_key_and_nothing_else_of_production(self):
        env = demo_environment(PRODUCTION)
        assert env["SFSYNC_QUEUE_PREFIX"] == "demo"
        assert env["SFSYNC_ENCRYPTION_KEYS"] != PRODUCTION["SFSYNC_ENCRYPTION_KEYS"]
        assert {k for k in env if k.startswith("SFSYNC_")} == {
            "SFSYNC_QUEUE_PREFIX",
            "SFSYNC_ENCRYPTION_KEYS",
        }
        assert env["AMQP_URL"] == PRODUCTION["AMQP_URL"] and env["PATH"] == "/usr/bin"
        assert (
            demo_environment(PRODUCTION)["SFSYNC_ENCRYPTION_KEYS"] == env["SFSYNC_ENCRYPTION_KEYS"]
        )

    def test_sfsync_demo_database_url_wins(self):
        url = "postgresql://postgres@127.0.0.1:5432/my_demo"
        env = demo_environment(PRODUCTION | {"SFSYNC_DEMO_DATABASE_URL": url})
        assert env["DATABASE_URL"] == url

    def test_a_bad_demo_database_url_names_its_variable(self):
        with pytest.raises(ConfigError, match="SFSYNC_DEMO_DATABASE_URL"):
            demo_environment({"SFSYNC_DEMO_DATABASE_URL": "mysql://x/y"})


@pytest.fixture
def database(postgres_server_url: str) -> Iterator[str]:
    with scratch_database(postgres_server_url) as url:
        yield url


def demo_on(database: str, tmp_path) -> object:
    return sfsync(
        "demo",
        "--contacts",
        "10",
        cwd=tmp_path,
        SFSYNC_DEMO_DATABASE_URL=database,
        SFSYNC_QUEUE_PREFIX="prod",
    )


@pytest.mark.integration
class TestDemoGuard:
    def test_refuses_a_database_with_other_accounts_before_starting_anything(
        self, database, tmp_path
    ):
        with psycopg.connect(database) as conn:
            conn.execute("INSERT INTO accounts (id) VALUES ('demo'), ('acc_prod_1')")
        result = demo_on(database, tmp_path)
        assert result.returncode == 1
        line = one_line(result)
        assert "holds other accounts (acc_prod_1)" in line
        assert "SFSYNC_DEMO_DATABASE_URL" in line
        assert "emulator" not in result.stdout and "migration" not in result.stdout

    def test_refuses_a_database_of_another_application_without_migrating_it(
        self, postgres_server_url, tmp_path
    ):
        with scratch_database(postgres_server_url, migrated=False) as url:
            with psycopg.connect(url) as conn:
                conn.execute("CREATE TABLE invoices (id int)")
            result = demo_on(url, tmp_path)
            with psycopg.connect(url) as conn:
                migrated = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
        assert result.returncode == 1
        assert "holds 1 table(s) that are not sfsync's" in one_line(result)
        assert migrated is None
