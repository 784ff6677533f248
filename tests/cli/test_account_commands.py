"""account show and attribute add / list / remove as ops run them: real Postgres, and for a
connected account the emulator's describe over https."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping, MappingDirection
from sfsync.domain.ports import RunRecord, SalesforceConnection
from tests.cli.conftest import KEY
from tests.cli.test_cli import one_line, sfsync


@pytest.mark.parametrize(
    "command",
    [
        ["account", "set"],
        ["account", "show"],
        ["attribute", "add"],
        ["attribute", "list"],
        ["attribute", "remove"],
    ],
)
def test_every_command_has_help(command):
    result = sfsync(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_a_custom_field_needs_an_attribute_ending_in_c_before_anything_else():
    result = sfsync("attribute", "add", "acc_1", "favorite_color", "Favorite_Color__c")
    assert result.returncode == 1
    assert "must end in _c (for example favorite_color_c)" in one_line(result)


def mappings(database_url: str, account_id: str) -> list[AttributeMapping]:
    with make_pool(database_url, max_size=1) as pool:
        with PsycopgUnitOfWork(pool, TokenCipher([KEY])) as uow:
            return uow.accounts.mappings(AccountId(account_id))


@pytest.fixture(name="env")
def _env(cli_env, sf_org) -> dict[str, str]:
    return cli_env | {"SFSYNC_SF_CA_BUNDLE": sf_org.ca_path}


@pytest.mark.integration
class TestAddToAConnectedAccount:
    """The org's describe decides; a refusal saves nothing and names what to try."""

    def test_a_misspelt_field_is_refused_with_a_suggestion(self, env, connected):
        account_id, _ = connected
        result = sfsync("attribute", "add", account_id, "color_c", "Favourite_Color__c", **env)
        assert result.returncode == 1
        line = one_line(result)
        assert "field_missing" in line and "did you mean Favorite_Color__c" in line
        assert mappings(env["DATABASE_URL"], account_id) == []

    def test_the_wrong_case_is_refused_naming_the_exact_field(self, env, connected):
        account_id, _ = connected
        result = sfsync("attribute", "add", account_id, "email", "email", **env)
        assert result.returncode == 1
        assert "field_case" in one_line(result) and "did you mean Email?" in one_line(result)
        assert mappings(env["DATABASE_URL"], account_id) == []

    def test_a_compound_field_is_refused_naming_its_parts(self, env, connected):
        account_id, _ = connected
        result = sfsync("attribute", "add", account_id, "address", "MailingAddress", **env)
        assert result.returncode == 1
        line = one_line(result)
        assert "compound_field" in line and "MailingCity" in line
        assert mappings(env["DATABASE_URL"], account_id) == []

    def test_a_field_hidden_from_the_user_is_missing(self, env, sf_org, connected):
        account_id, _ = connected
        sf_org.admin.set_field_security(hidden=["Notes__c"])
        result = sfsync("attribute", "add", account_id, "notes_c", "Notes__c", **env)
        assert result.returncode == 1
        assert "field_missing" in one_line(result) and "field-level security" in one_line(result)

    def test_a_good_field_is_saved_listed_and_removed(self, env, connected):
        account_id, _ = connected
        added = sfsync(
            "attribute", "add", account_id, "favorite_color_c", "Favorite_Color__c", **env
        )
        assert added.returncode == 0, added.stderr
        assert "(picklist; checked against the org)" in added.stdout
        listed = sfsync("attribute", "list", account_id, **env)
        assert listed.stdout.split() == ["favorite_color_c", "Favorite_Color__c", "import"]
        as_json = json.loads(sfsync("attribute", "list", account_id, "--json", **env).stdout)
        assert as_json == [
            {"name": "favorite_color_c", "field": "Favorite_Color__c", "direction": "import"}
        ]
        removed = sfsync("attribute", "remove", account_id, "favorite_color_c", **env)
        assert removed.returncode == 0 and "candidates keep the values" in removed.stdout
        assert mappings(env["DATABASE_URL"], account_id) == []

    def test_a_failed_describe_saves_nothing_and_shows_no_salesforce_text(
        self,
        env,
        sf_org,
        connected,
    ):
        account_id, _ = connected
        sf_org.admin.add_fault(
            status=400, error_code="NOT_TODAY", message="Ada Lovelace", count=-1, path="/describe"
        )
        args = ("attribute", "add", account_id, "favorite_color_c", "Favorite_Color__c")
        result = sfsync(*args, **env)
        assert result.returncode == 1
        line = one_line(result)
        assert "describe_failed" in line and "--unchecked" in line and "Ada" not in line
        assert mappings(env["DATABASE_URL"], account_id) == []
        unchecked = sfsync(*args, "--unchecked", **env)
        assert unchecked.returncode == 0, unchecked.stderr
        assert "not checked against the org (--unchecked)" in unchecked.stdout
        assert mappings(env["DATABASE_URL"], account_id) == [
            AttributeMapping("favorite_color_c", "Favorite_Color__c")
        ]


@pytest.mark.integration
class TestDirection:
    """Export and two-way mappings push to their field, so the org must let the user edit it."""

    def test_a_two_way_mapping_is_saved_listed_and_shown(self, env, connected):
        account_id, _ = connected
        args = ("attribute", "add", account_id, "favorite_color_c", "Favorite_Color__c")
        added = sfsync(*args, "--direction", "two_way", **env)
        assert added.returncode == 0, added.stderr
        assert "reads and is pushed to Contact.Favorite_Color__c (picklist;" in added.stdout
        listed = sfsync("attribute", "list", account_id, **env)
        assert listed.stdout.split() == ["favorite_color_c", "Favorite_Color__c", "two_way"]
        assert mappings(env["DATABASE_URL"], account_id) == [
            AttributeMapping("favorite_color_c", "Favorite_Color__c", MappingDirection.TWO_WAY)
        ]
        shown = sfsync("account", "show", account_id, **env).stdout
        assert "favorite_color_c <-> Contact.Favorite_Color__c" in shown

    def test_export_to_a_read_only_field_is_refused_but_import_is_not(self, env, sf_org, connected):
        account_id, _ = connected
        sf_org.admin.set_field_security(read_only=["Favorite_Color__c"])
        args = ("attribute", "add", account_id, "favorite_color_c", "Favorite_Color__c")
        refused = sfsync(*args, "--direction", "export", **env)
        assert refused.returncode == 1
        assert "field_not_updateable" in one_line(refused)
        assert mappings(env["DATABASE_URL"], account_id) == []
        assert sfsync(*args, **env).returncode == 0
        assert mappings(env["DATABASE_URL"], account_id) == [
            AttributeMapping("favorite_color_c", "Favorite_Color__c")
        ]

    def test_an_unknown_direction_is_a_usage_error(self, cli_env, account):
        args = ("attribute", "add", account, "shoe_size_c", "Shoe_Size__c")
        result = sfsync(*args, "--direction", "sideways", **cli_env)
        assert result.returncode == 2 and "--direction" in result.stderr


def settings_of(database_url: str, account_id: str) -> AccountSettings | None:
    with make_pool(database_url, max_size=1) as pool:
        with PsycopgUnitOfWork(pool, TokenCipher([KEY])) as uow:
            return uow.accounts.get_settings(AccountId(account_id))


@pytest.mark.integration
class TestAccountSetForPush:
    def test_push_and_the_unsubscribe_field_are_saved(self, cli_env, account):
        result = sfsync(
            "account", "set", account, "--push", "--unsubscribe-field", "Opted_Out__c", **cli_env
        )
        assert result.returncode == 0, result.stderr
        assert settings_of(cli_env["DATABASE_URL"], account) == AccountSettings(
            AccountId(account), push_enabled=True, unsubscribe_field="Opted_Out__c"
        )
        shown = sfsync("account", "show", account, **cli_env).stdout
        assert "push_enabled: yes" in shown and "unsubscribe_field: Opted_Out__c" in shown

    def test_vendor_mode_without_push_is_saved(self, cli_env, account):
        result = sfsync("account", "set", account, "--vendor-mode", **cli_env)
        assert result.returncode == 0, result.stderr
        saved = settings_of(cli_env["DATABASE_URL"], account)
        assert saved is not None and (saved.direct_api, saved.push_enabled) == (False, False)

    def test_push_in_vendor_mode_is_refused_with_the_reason(self, cli_env, account):
        result = sfsync("account", "set", account, "--vendor-mode", "--push", **cli_env)
        assert result.returncode == 1
        line = one_line(result)
        assert "not_direct_mode" in line and "needs direct API mode" in line
        assert settings_of(cli_env["DATABASE_URL"], account) == AccountSettings(AccountId(account))

    def test_an_unsubscribe_field_that_is_no_api_name_is_refused(self, cli_env, account):
        result = sfsync("account", "set", account, "--unsubscribe-field", "Opted Out", **cli_env)
        assert result.returncode == 1 and "invalid_field_name" in one_line(result)
        assert settings_of(cli_env["DATABASE_URL"], account) == AccountSettings(AccountId(account))


@pytest.mark.integration
class TestWithoutAConnection:
    def test_add_saves_and_says_it_was_not_checked(self, cli_env, account):
        result = sfsync("attribute", "add", account, "shoe_size_c", "Shoe_Size__c", **cli_env)
        assert result.returncode == 0, result.stderr
        assert f"not checked against the org (account {account} is not connected)" in result.stdout
        assert "the next import checks it" in result.stdout

    def test_list_of_an_account_without_mappings_says_so(self, cli_env, account):
        result = sfsync("attribute", "list", account, **cli_env)
        assert result.stdout.strip() == f"account {account} has no attribute mappings"

    def test_removing_an_unknown_mapping_is_one_clear_line(self, cli_env, account):
        result = sfsync("attribute", "remove", account, "shoe_size_c", **cli_env)
        assert result.returncode == 1
        assert f"account {account} has no attribute shoe_size_c" in one_line(result)

    @pytest.mark.parametrize(
        "command", [["account", "show"], ["attribute", "list"], ["attribute", "remove"]]
    )
    def test_an_unknown_account_is_one_clear_line(self, cli_env, command):
        extra = ["shoe_size_c"] if command[-1] == "remove" else []
        result = sfsync(*command, "acc_nobody", *extra, **cli_env)
        assert result.returncode == 1
        assert "account acc_nobody is not known" in one_line(result)


def access_token(database_url: str, account_id: str) -> str:
    with make_pool(database_url, max_size=1) as pool:
        with PsycopgUnitOfWork(pool, TokenCipher([KEY])) as uow:
            connection = uow.connections.get(AccountId(account_id))
    assert connection is not None
    return connection.access_token


@pytest.mark.integration
class TestAccountShow:
    def test_settings_connection_and_mappings_without_a_token(self, env, sf_org, connected):
        account_id, refresh = connected
        sfsync("attribute", "add", account_id, "age_c", "Age__c", **env)
        result = sfsync("account", "show", account_id, **env)
        assert result.returncode == 0, result.stderr
        text = result.stdout
        assert f"account {account_id}" in text and "deletion_behaviour: keep" in text
        assert f"instance_url: {sf_org.base_url}" in text and "needs_reauth: no" in text
        assert "age_c <- Contact.Age__c" in text
        shown = json.loads(sfsync("account", "show", account_id, "--json", **env).stdout)
        assert shown["settings"]["quota_share"] == 0.5
        assert shown["connection"]["login_url"] == sf_org.base_url
        assert shown["attributes"] == [{"name": "age_c", "field": "Age__c", "direction": "import"}]
        assert shown["connection"]["tokens_readable"] is True and "tokens_readable: yes" in text
        token = access_token(env["DATABASE_URL"], account_id)
        for output in (text, json.dumps(shown)):
            assert refresh not in output and token not in output

    def test_an_unconnected_account_says_how_to_connect(self, cli_env, account):
        result = sfsync("account", "show", account, **cli_env)
        assert result.returncode == 0, result.stderr
        assert "connection: none (connect it: sfsync connect)" in result.stdout
        assert "attributes: none" in result.stdout


STARTED = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def a_run(account_id: str, hour: int, **changes: object) -> RunRecord:
    values: dict[str, object] = {
        "id": f"run_{account_id}_{hour}",
        "account_id": AccountId(account_id),
        "request_id": f"req_{hour}",
        "scope": "import",
        "status": "succeeded",
        "started_at": STARTED + timedelta(hours=hour),
        "finished_at": STARTED + timedelta(hours=hour, minutes=5),
        "processed": 10,
        "expected": 10,
        "mode": "incremental",
        "counts": {"seen": 10, "created": 0, "updated": 10, "skipped": {}, "errors": 0},
    }
    return RunRecord(**{**values, **changes})  # type: ignore[arg-type]


def store(database_url: str, *, key: str = KEY, runs=(), connection=None, mapping=None):
    with make_pool(database_url, max_size=1) as pool:
        with PsycopgUnitOfWork(pool, TokenCipher([key])) as uow:
            for run in runs:
                uow.runs.start(run)
            if connection is not None:
                uow.connections.save(connection)
            if mapping is not None:
                account_id, attribute = mapping
                uow.accounts.save_mapping(account_id, attribute)
            uow.commit()


FAILED = {
    "status": "partial",
    "mode": "full",
    "processed": 3,
    "expected": 4,
    "counts": {"seen": 3, "created": 1, "skipped": {"no_email": 1}, "errors": 3},
    "errors": (
        {"code": "INVALID_EMAIL", "message": "ada@example.com", "salesforce_id": "003AdaAAA"},
        {"code": "INVALID_EMAIL", "message": "Ada Lovelace", "salesforce_id": "003BobAAA"},
        {"code": "coercion_error", "message": "age_c: Lovelace", "fields": ["Age__c"]},
    ),
}


@pytest.mark.integration
class TestAccountShowRuns:
    def test_the_last_five_runs_newest_first_by_codes_and_counts(self, cli_env, account):
        runs = [a_run(account, hour) for hour in range(6)]
        runs[5] = a_run(account, 5, **FAILED)
        store(cli_env["DATABASE_URL"], runs=runs)
        result = sfsync("account", "show", account, **cli_env)
        assert result.returncode == 0, result.stderr
        text = result.stdout
        assert text.index(f"run_{account}_5") < text.index(f"run_{account}_4")
        assert f"run_{account}_0" not in text  # the sixth newest
        assert f"  run_{account}_5  import  full  partial" in text
        assert "    processed 3 of 4" in text
        assert "    counts: seen 3, created 1, skipped.no_email 1, errors 3" in text
        assert "    error codes: INVALID_EMAIL (2), coercion_error (1)" in text
        for private in ("ada@", "Lovelace", "003AdaAAA", "003BobAAA"):
            assert private not in text

    def test_json_has_the_same_and_runs_sets_how_many(self, cli_env, account):
        store(cli_env["DATABASE_URL"], runs=[a_run(account, 0), a_run(account, 1, **FAILED)])
        result = sfsync("account", "show", account, "--json", "--runs", "1", **cli_env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["runs"] == [
            {
                "id": f"run_{account}_1",
                "scope": "import",
                "mode": "full",
                "status": "partial",
                "started_at": "2026-11-27T19:00:00+00:00",
                "finished_at": "2026-11-27T19:05:00+00:00",
                "processed": 3,
                "expected": 4,
                "counts": FAILED["counts"],
                "error_codes": {"INVALID_EMAIL": 2, "coercion_error": 1},
            }
        ]
        assert "Lovelace" not in result.stdout and "003Ada" not in result.stdout

    def test_no_runs_and_out_of_range_runs(self, cli_env, account):
        assert "runs: none" in sfsync("account", "show", account, **cli_env).stdout
        refused = sfsync("account", "show", account, "--runs", "51", **cli_env)
        assert refused.returncode == 2 and "--runs" in refused.stderr


@pytest.mark.integration
def test_tokens_under_a_dropped_key_still_show_everything_else(cli_env, account):
    """The admin needs `account show` most when the keys changed: it shows all but the tokens
    and says what to do."""
    connection = SalesforceConnection(
        AccountId(account),
        "https://acme.my.salesforce.com",
        "https://login.salesforce.com",
        "00D!access-token-under-the-old-key",
        "5Aep-refresh-token-under-the-old-key",
        issued_at=STARTED,
    )
    old_key = TokenCipher.generate_key()
    store(
        cli_env["DATABASE_URL"],
        key=old_key,
        runs=[a_run(account, 0)],
        connection=connection,
        mapping=(account, AttributeMapping("age_c", "Age__c")),
    )
    result = sfsync("account", "show", account, **cli_env)  # configured: KEY, not old_key
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "deletion_behaviour: keep" in text and "age_c <- Contact.Age__c" in text
    assert "instance_url: https://acme.my.salesforce.com" in text
    assert "tokens_readable: no" in text
    assert "add the key they were written with to SFSYNC_ENCRYPTION_KEYS" in text
    assert "or reconnect (sfsync connect)" in text
    assert f"run_{account}_0  import  incremental  succeeded" in text
    assert "token-under" not in text
    shown = json.loads(sfsync("account", "show", account, "--json", **cli_env).stdout)
    assert shown["connection"]["tokens_readable"] is False
    with_old_key = sfsync(
        "account", "show", account, **cli_env | {"SFSYNC_ENCRYPTION_KEYS": f"{KEY},{old_key}"}
    )
    assert "tokens_readable: yes" in with_old_key.stdout


@pytest.mark.integration
def test_a_connection_salesforce_refused_says_to_reconnect(cli_env, account):
    refused = SalesforceConnection(
        AccountId(account),
        "https://acme.my.salesforce.com",
        "https://login.salesforce.com",
        "00D!access",
        "5Aep-refresh",
        needs_reauth=True,
    )
    store(cli_env["DATABASE_URL"], connection=refused)
    result = sfsync("account", "show", account, **cli_env)
    assert "needs_reauth: yes" in result.stdout and "tokens_readable: yes" in result.stdout
    assert "! Salesforce refused the tokens: reconnect (sfsync connect)" in result.stdout


@pytest.mark.integration
class TestScheduleSettings:
    """Each account's daily export and import: its own time zone and local times."""

    def test_a_time_zone_and_times_are_saved_and_shown(self, cli_env, account):
        result = sfsync(
            "account",
            "set",
            account,
            "--time-zone",
            "Europe/Berlin",
            "--import-at",
            "06:15",
            **cli_env,
        )
        assert result.returncode == 0, result.stderr
        shown = json.loads(sfsync("account", "show", account, "--json", **cli_env).stdout)
        settings = shown["settings"]
        assert (settings["time_zone"], settings["import_at"], settings["export_at"]) == (
            "Europe/Berlin",
            "06:15",
            "23:30",
        )
        text = sfsync("account", "show", account, **cli_env).stdout
        assert "time_zone: Europe/Berlin" in text and "import_at: 06:15" in text

    def test_an_unknown_time_zone_is_refused_by_name_and_nothing_is_saved(self, cli_env, account):
        result = sfsync("account", "set", account, "--time-zone", "Pacific/Atlantis", **cli_env)
        assert result.returncode == 1
        assert "error (invalid_schedule): unknown time zone 'Pacific/Atlantis'" in one_line(result)
        assert "America/Los_Angeles" in one_line(result)
        shown = json.loads(sfsync("account", "show", account, "--json", **cli_env).stdout)
        assert shown["settings"]["time_zone"] == "America/Los_Angeles"

    def test_a_time_that_is_not_hh_mm_is_refused(self, cli_env, account):
        result = sfsync("account", "set", account, "--export-at", "25:00", **cli_env)
        assert result.returncode == 2 and "--export-at" in result.stderr


def test_the_scheduler_refuses_a_jitter_as_long_as_the_grace_period(cli_env):
    env = cli_env | {"SFSYNC_SCHEDULE_GRACE_MINUTES": "1", "SFSYNC_SCHEDULE_JITTER_SECONDS": "60"}
    result = sfsync("scheduler", **env)
    assert result.returncode == 2
    assert "SFSYNC_SCHEDULE_JITTER_SECONDS must be shorter than" in result.stderr
