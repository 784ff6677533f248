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
            "SFSYNC_METRICS_PORT",
        }
        assert env["SFSYNC_METRICS_PORT"] == "0"
        assert env["AMQP_URL"] == PRODUCTION["AMQP_URL"] and env["PATH"] == "/usr/bin"
        assert (
            demo_environment(PRODUCTION)["SFSYNC_ENCRYPTION_KEYS"] == env["SFSYNC_ENCRYPTION_KEYS"]
        )

    def test_sfsync_demo_database_url_wins_and_names_the_queues(self):
        url = "postgresql://postgres@127.0.0.1:5432/my.demo"
        env = demo_environment(PRODUCTION | {"SFSYNC_DEMO_DATABASE_URL": url})
        assert env["DATABASE_URL"] == url
        assert env["SFSYNC_QUEUE_PREFIX"] == "demo_my_demo"  # a test run beside `make demo`

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


def counts(database: str, scope: str) -> list[tuple[str, dict]]:
    """Status and counts of the account's runs of `scope`, oldest first."""
    with psycopg.connect(database) as conn:
        return conn.execute(
            "SELECT status, counts FROM sync_runs WHERE scope = %s ORDER BY started_at",
            (scope,),
        ).fetchall()


@pytest.fixture(scope="module")
def runs(postgres_server_url, tmp_path_factory):
    """Two demos on one database: (its URL, the first's result, the second's)."""
    cwd = tmp_path_factory.mktemp("demo")
    with scratch_database(postgres_server_url) as url:
        first, second = (
            sfsync("demo", "--contacts", "300", cwd=cwd, SFSYNC_DEMO_DATABASE_URL=url)
            for _ in range(2)
        )
        yield url, first, second


@pytest.mark.integration
class TestDemoLoop:
    """One demo shows the import, a push and a sign-up; a second one finds nothing to do."""

    def test_both_runs_succeed(self, runs):
        _, first, second = runs
        assert first.returncode == 0, first.stderr
        assert second.returncode == 0, second.stderr

    def test_the_push_sends_the_web_apps_changes_and_the_contact_holds_them(self, runs):
        database, first, _ = runs
        (status, pushed), _ = counts(database, "export")
        assert status == "succeeded"
        assert (pushed["pushed"], pushed["push_failed"]) == (6, 0)  # 5 statuses, 1 unsubscribe
        with psycopg.connect(database) as conn:
            acknowledged = conn.execute(  # the import's read-backs of opt-outs left out
                "SELECT acknowledged FROM push_state p WHERE NOT EXISTS (SELECT FROM"
                " consent_changes WHERE candidate_id = p.candidate_id AND source = 'salesforce')"
                " ORDER BY contact_id"
            ).fetchall()
            consent = conn.execute(
                "SELECT unsubscribed, source FROM consent_changes WHERE source = 'sfsync'"
            ).fetchall()
        assert [a["Study_Status__c"] for (a,) in acknowledged[:5]] == [
            "Invited",
            "Screened",
            "Enrolled",
            "Completed",
            "Invited",
        ]
        assert acknowledged[5][0] == {"HasOptedOutOfEmail": True}
        assert consent == [(True, "sfsync")]
        read_back = first.stdout.split("read back from the emulator")[1]
        rows = [line.split("│")[1:4] for line in read_back.splitlines() if "│ 003" in line]
        assert [[cell.strip() for cell in row][1:] for row in rows] == [
            ["Invited", "False"],
            ["None", "True"],
        ]

    def test_the_sign_up_flags_the_contact(self, runs):
        database, first, _ = runs
        with psycopg.connect(database) as conn:
            signups = conn.execute(
                "SELECT outcome, contact_ids FROM signups ORDER BY received_at"
            ).fetchall()
        assert [outcome for outcome, _ in signups] == ["flagged", "flagged"]  # one per run
        contact = signups[0][1][0]
        assert "sign-up flagged in" in first.stdout
        assert f"Contact {contact} gq_import__c = True" in first.stdout

    def test_a_second_demo_imports_nothing_new_and_pushes_nothing(self, runs):
        database, _, second = runs
        imports, pushes = counts(database, "import"), counts(database, "export")
        assert imports[1][1]["seen"] == 0 and imports[0][1]["seen"] == 300
        assert pushes[1] == ("succeeded", pushes[1][1]) and pushes[1][1]["pushed"] == 0
        assert "nothing changed since Salesforce last acknowledged it" in second.stdout
