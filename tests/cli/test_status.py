"""`sfsync status ACCOUNT` against real Postgres (and the emulator for a connected org):
the org at a glance in text and JSON, ids and codes only, never a token or a record's data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from psycopg.types.json import Jsonb

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.domain.model import AccountId, AttributeMapping
from sfsync.domain.ports import ApiUsage
from sfsync_emulator.auth import ORG_ID
from sfsync_emulator.seed import USER_ID
from tests.cli.conftest import KEY
from tests.cli.test_account_commands import FAILED, a_run, access_token, store
from tests.cli.test_cli import one_line, sfsync

pytestmark = pytest.mark.integration
SEEN = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)


@pytest.fixture(name="env")
def _env(cli_env, sf_org) -> dict[str, str]:
    return cli_env | {"SFSYNC_SF_CA_BUNDLE": sf_org.ca_path}


def dead_letter(database_url: str, account_id: str, reason: str) -> None:
    """A sync.requested of `account_id` dead-lettered with `reason` (its body holds an email)."""
    body = {"type": "sync.requested", "account_id": account_id, "note": "ada@example.com"}
    with make_pool(database_url, max_size=1) as pool, pool.connection() as conn:
        conn.execute(
            "INSERT INTO dead_letters (queue, actor, message_id, reason, body)"
            " VALUES ('sfsync', 'sync.requested', %s, %s, %s)",
            (f"m-{account_id}-{reason}", reason, Jsonb(body)),
        )


def note_usage(database_url: str, account_id: str, used: int, limit: int) -> None:
    with make_pool(database_url, max_size=1) as pool:
        with PsycopgUnitOfWork(pool, TokenCipher([KEY])) as uow:
            uow.connections.note_usage(AccountId(account_id), ApiUsage(used, limit), SEEN)
            uow.commit()


def test_an_unknown_account_is_one_line_and_exit_1(cli_env):
    result = sfsync("status", "acc_nobody_here", **cli_env)
    assert result.returncode == 1 and result.stdout == ""
    assert "acc_nobody_here is not known" in one_line(result)


def test_json_has_the_connection_settings_runs_usage_and_dead_letters(env, connected):
    account_id, refresh = connected
    database_url = env["DATABASE_URL"]
    runs = [a_run(account_id, hour) for hour in range(6)]
    runs[5] = a_run(account_id, 5, **FAILED)
    store(
        database_url,
        runs=runs,
        mapping=(AccountId(account_id), AttributeMapping("age_c", "Age__c")),
    )
    note_usage(database_url, account_id, 1500, 15000)
    for reason in ("invalid_message: no account", "invalid_message: bad", "busy: held"):
        dead_letter(database_url, account_id, reason)
    dead_letter(database_url, "acc_someone_else", "unknown_account: not here")
    result = sfsync("status", account_id, "--json", **env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    connection = shown["connection"]
    assert (connection["org_id"], connection["user_id"]) == (ORG_ID, USER_ID)
    assert connection["connected_at"] is not None and connection["needs_reauth"] is False
    assert shown["settings"]["quota_share"] == 0.5
    assert shown["attributes"] == [{"name": "age_c", "field": "Age__c", "direction": "import"}]
    assert [r["id"] for r in shown["runs"]] == [f"run_{account_id}_{h}" for h in (5, 4, 3, 2, 1)]
    assert shown["runs"][0]["error_codes"] == {"INVALID_EMAIL": 2, "coercion_error": 1}
    assert set(shown["import"]) >= {"cursor", "settled_until", "reconciled_at"}
    assert shown["api_usage"] == {
        "used": 1500,
        "limit": 15000,
        "used_share": 0.1,
        "quota_share": 0.5,
        "seen_at": SEEN.isoformat(),
    }
    by_reason = {d["reason_code"]: d["total"] for d in shown["dead_letters"]}
    assert by_reason == {"invalid_message": 2, "busy": 1}
    for private in (refresh, access_token(database_url, account_id), "ada@", "Lovelace"):
        assert private not in result.stdout


def test_text_says_the_same_without_tokens_or_personal_data(env, connected):
    account_id, refresh = connected
    store(env["DATABASE_URL"], runs=[a_run(account_id, 0, **FAILED)])
    dead_letter(env["DATABASE_URL"], account_id, "busy: held")
    result = sfsync("status", account_id, **env)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert f"org_id: {ORG_ID}" in text and f"user_id: {USER_ID}" in text
    assert "needs_reauth: no" in text
    assert "api usage: not seen yet (a run records it; or pass --live)" in text
    assert "dead letters:" in text and "busy" in text
    assert "error codes: INVALID_EMAIL (2), coercion_error (1)" in text
    for private in (refresh, access_token(env["DATABASE_URL"], account_id), "ada@", "003AdaAAA"):
        assert private not in text


def test_live_reads_the_usage_from_salesforce_and_keeps_it(env, sf_org, connected):
    account_id, _ = connected
    before = json.loads(sfsync("status", account_id, "--json", **env).stdout)
    live = json.loads(sfsync("status", account_id, "--live", "--json", **env).stdout)
    kept = json.loads(sfsync("status", account_id, "--json", **env).stdout)
    assert before["api_usage"]["used"] is None
    usage = live["api_usage"]
    assert usage["limit"] > 0 and 0 < usage["used"] <= usage["limit"]
    assert kept["api_usage"] == usage


def test_an_unconnected_account_has_no_connection_and_no_usage(cli_env, account):
    result = sfsync("status", account, "--json", **cli_env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["connection"] is None and shown["api_usage"]["used"] is None
    assert shown["dead_letters"] == [] and shown["runs"] == []
    live = sfsync("status", account, "--live", **cli_env)
    assert live.returncode == 1 and "not_connected" in one_line(live)
