"""push-failures and consent as ops run them, against real Postgres: ids, codes and times,
never a record's data unless asked for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.domain.model import AccountId, AccountSettings, Candidate, SalesforceId
from sfsync.domain.ports import PushFailure
from sfsync.domain.push.consent import ConsentChange, ConsentSource
from tests.cli.conftest import KEY
from tests.cli.test_cli import one_line, sfsync

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MESSAGE = "City: data value too large: Ada Lovelace, 12 Byron Street\x1b[2J"


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["push-failures"], "--show-messages"),
        (["consent"], "oldest first"),
    ],
)
def test_every_command_has_help(command, said):
    result = sfsync(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout
    assert said in result.stdout


def test_help_says_messages_may_hold_personal_data():
    text = " ".join(sfsync("push-failures", "--help").stdout.split())
    assert "It may quote the Contact's values (personal data)" in text


@pytest.fixture(name="env")
def _env(migrated_database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": migrated_database_url, "SFSYNC_ENCRYPTION_KEYS": KEY}


def store(database_url: str, account_id: str, failures=(), consent=()) -> dict[str, str]:
    """Candidates 0..2 of the account (with personal data), their failures at T0 + minutes
    and consent changes; returns the candidates' ids by number."""
    ids = {str(n): f"cand_{n}_{account_id}" for n in range(3)}
    account = AccountId(account_id)
    with make_pool(database_url, max_size=1) as pool:
        with PsycopgUnitOfWork(pool, TokenCipher([KEY])) as uow:
            for n, candidate_id in ids.items():
                uow.candidates.add(
                    Candidate(
                        candidate_id,
                        account,
                        f"ada{n}@example.com",
                        first_name="Ada",
                        salesforce_id=SalesforceId(f"003000000000{n}AAA"),
                        unsubscribed=n == "0",
                    )
                )
            for n, code, minutes, more in failures:
                contact = SalesforceId(f"003000000000{n}AAA")
                failure = PushFailure(ids[n], contact, code, **more)
                uow.push_failures.record(account, [failure], T0 + timedelta(minutes=minutes))
            for n, unsubscribed, source, minutes in consent:
                at = T0 + timedelta(minutes=minutes)
                change = ConsentChange(ids[n], unsubscribed, ConsentSource(source), at)
                uow.consent.append(account, [change])
            uow.commit()
    return ids


FAILURES = [
    ("0", "STRING_TOO_LONG", 0, {"fields": ("City__c", "Notes__c"), "message": MESSAGE}),
    ("1", "ENTITY_IS_DELETED", 10, {"retryable": False, "message": "entity is deleted"}),
    ("0", "STRING_TOO_LONG", 20, {"fields": ("City__c", "Notes__c"), "message": MESSAGE}),
    ("2", "UNABLE_TO_LOCK_ROW", 5, {"message": "unable to obtain exclusive access"}),
]


@pytest.mark.integration
class TestPushFailures:
    def test_the_last_seen_first_by_ids_codes_and_fields(self, env, account):
        ids = store(env["DATABASE_URL"], account, FAILURES)
        result = sfsync("push-failures", account, **env)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == f"account {account}: push failures, the last seen first"
        assert lines[1].split() == [
            "candidate", "contact", "code", "fields", "attempts", "state", "last", "seen"
        ]  # fmt: skip
        assert [line.split() for line in lines[2:]] == [
            [ids["0"], "0030000000000AAA", "STRING_TOO_LONG", "City__c,Notes__c", "2",
             "retryable", "2026-12-01T09:20:00+00:00"],
            [ids["1"], "0030000000001AAA", "ENTITY_IS_DELETED", "-", "1",
             "given", "up", "2026-12-01T09:10:00+00:00"],
            [ids["2"], "0030000000002AAA", "UNABLE_TO_LOCK_ROW", "-", "1",
             "retryable", "2026-12-01T09:05:00+00:00"],
        ]  # fmt: skip
        for private in ("Ada", "Byron", "example.com", "deleted", "exclusive"):
            assert private not in result.stdout

    def test_messages_only_when_asked_for_and_escaped(self, env, account):
        store(env["DATABASE_URL"], account, FAILURES)
        result = sfsync("push-failures", account, "--show-messages", **env)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[3] == (
            '  message: "City: data value too large: Ada Lovelace, 12 Byron Street\\u001b[2J"'
        )
        assert lines[5] == '  message: "entity is deleted"'
        assert "\x1b" not in result.stdout

    def test_json_given_up_and_limit(self, env, account):
        ids = store(env["DATABASE_URL"], account, FAILURES)
        result = sfsync("push-failures", account, "--json", "--given-up", **env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "account_id": account,
            "failures": [
                {
                    "candidate_id": ids["1"],
                    "contact_id": "0030000000001AAA",
                    "code": "ENTITY_IS_DELETED",
                    "fields": [],
                    "attempts": 1,
                    "retryable": False,
                    "first_seen": "2026-12-01T09:10:00+00:00",
                    "last_seen": "2026-12-01T09:10:00+00:00",
                }
            ],
            "more": False,
        }
        limited = sfsync("push-failures", account, "--json", "--limit", "1", **env)
        shown = json.loads(limited.stdout)
        assert [f["candidate_id"] for f in shown["failures"]] == [ids["0"]]
        assert shown["more"] is True and "message" not in shown["failures"][0]
        assert shown["failures"][0]["first_seen"] == "2026-12-01T09:00:00+00:00"
        text = sfsync("push-failures", account, "--limit", "1", **env).stdout
        assert text.splitlines()[-1] == "(more are kept: raise --limit to see them)"
        messages = sfsync("push-failures", account, "--json", "--show-messages", **env).stdout
        assert json.loads(messages)["failures"][0]["message"] == MESSAGE

    def test_an_account_without_failures_says_so(self, env, account):
        store(env["DATABASE_URL"], account, FAILURES[3:])
        result = sfsync("push-failures", account, "--given-up", **env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"account {account} has no given-up push failures kept"

    def test_an_unknown_account_is_one_clear_line(self, env):
        result = sfsync("push-failures", "acc_nobody", **env)
        assert result.returncode == 1
        assert (
            one_line(result) == "error (unknown_account): account acc_nobody is not known to sfsync"
        )

    def test_a_limit_out_of_range_is_a_usage_error(self, env, account):
        result = sfsync("push-failures", account, "--limit", "0", **env)
        assert result.returncode == 2 and "--limit" in result.stderr


CONSENT = [("0", True, "sfsync", 30), ("0", False, "salesforce", 0), ("1", True, "sfsync", 0)]


@pytest.mark.integration
class TestConsent:
    def test_history_oldest_first_with_source_and_the_state_now(self, env, account):
        ids = store(env["DATABASE_URL"], account, consent=CONSENT)
        result = sfsync("consent", ids["0"], **env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            f"candidate {ids['0']}",
            f"  account: {account}",
            "  contact: 0030000000000AAA",
            "  unsubscribed: yes",
            "consent changes (oldest first):",
            "  2026-12-01T09:00:00+00:00  subscribed    source salesforce",
            "  2026-12-01T09:30:00+00:00  unsubscribed  source sfsync",
        ]
        assert "ada" not in result.stdout.lower()

    def test_json_in_its_account(self, env, account):
        ids = store(env["DATABASE_URL"], account, consent=CONSENT)
        result = sfsync("consent", ids["1"], "--account", account, "--json", **env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "candidate_id": ids["1"],
            "account_id": account,
            "contact_id": "0030000000001AAA",
            "unsubscribed": False,
            "changes": [
                {"at": "2026-12-01T09:00:00+00:00", "unsubscribed": True, "source": "sfsync"}
            ],
        }

    def test_no_changes_says_so(self, env, account):
        ids = store(env["DATABASE_URL"], account)
        result = sfsync("consent", ids["2"], **env)
        assert result.returncode == 0, result.stderr
        assert "  unsubscribed: no\nconsent changes: none" in result.stdout

    def test_an_unknown_candidate_is_one_clear_line(self, env, account):
        result = sfsync("consent", "cand_nobody", **env)
        assert result.returncode == 1
        assert one_line(result) == (
            "error (unknown_candidate): candidate cand_nobody is not known to sfsync"
        )

    def test_a_candidate_of_another_account_is_not_found_there(self, env, account):
        ids = store(env["DATABASE_URL"], account, consent=CONSENT)
        other = f"{account}_other"
        with make_pool(env["DATABASE_URL"], max_size=1) as pool:
            with PsycopgUnitOfWork(pool, TokenCipher([KEY])) as uow:
                uow.accounts.save_settings(AccountSettings(AccountId(other)))
                uow.commit()
        result = sfsync("consent", ids["0"], "--account", other, **env)
        assert result.returncode == 1
        assert f"candidate {ids['0']} is not known to sfsync in account {other}" in one_line(result)
        unknown = sfsync("consent", ids["0"], "--account", "acc_nobody", **env)
        assert unknown.returncode == 1 and "account acc_nobody is not known" in one_line(unknown)
