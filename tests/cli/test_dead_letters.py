"""`sfsync dead-letters`: list by filters, count, show masked, replay at most once, purge."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pika
import psycopg
import pytest
from cryptography.fernet import Fernet
from psycopg_pool import ConnectionPool

from sfsync.adapters.postgres.dead_letters import PsycopgDeadLetters
from sfsync.adapters.postgres.migrate import migrate
from sfsync.entrypoints.codec import sync_request
from tests.cli.test_cli import one_line, sfsync

pytestmark = pytest.mark.integration


@pytest.fixture
def store(migrated_database_url):
    with ConnectionPool(migrated_database_url, min_size=1, max_size=1) as pool:
        yield PsycopgDeadLetters(pool), pool


def env(database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "SFSYNC_ENCRYPTION_KEYS": Fernet.generate_key().decode()}


def recorded(store, **entry) -> str:
    letters, pool = store
    message_id = f"dl-{secrets.token_hex(4)}"
    letters.record({"queue": "q", "actor": "a", "message_id": message_id, "reason": "why", **entry})
    with pool.connection() as conn:
        row = conn.execute("SELECT id FROM dead_letters WHERE message_id = %s", (message_id,))
        return str(row.fetchone()[0])


def test_show_escapes_bytes_that_could_drive_the_terminal(store, migrated_database_url):
    raw = b'{"name": "\x1b[31mred\x00\xff\xe2\x80\xae"}'
    entry_id = recorded(store, raw=raw, raw_size=len(raw) + 10, raw_sha256="ab")
    result = sfsync("dead-letters", "show", entry_id, "--unmask", **env(migrated_database_url))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["raw_text"] == '{"name": "\x1b[31mred\x00\\xff\u202e"}'
    assert shown["raw_truncated"] is True and shown["body"] is None


def test_show_prints_a_json_body_when_unmasked(store, migrated_database_url):
    entry_id = recorded(store, body={"type": "sync.requested", "name": "Zoë"})
    shown = json.loads(
        sfsync("dead-letters", "show", entry_id, "--unmask", **env(migrated_database_url)).stdout
    )
    assert shown["body"] == {"type": "sync.requested", "name": "Zoë"}
    assert shown["masked"] is False


def test_replay_refuses_bytes_that_are_not_json(store, migrated_database_url):
    entry_id = recorded(store, raw=b"\x00", raw_size=1, raw_sha256="ab")
    result = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url))
    assert result.returncode == 1
    assert f"dead letter {entry_id} is not JSON sfsync can store (why)" in one_line(result)
    assert "use --body FILE" in one_line(result)


def test_replay_refuses_json_that_is_not_an_object(store, migrated_database_url):
    entry_id = recorded(store, body=[1, 2], raw_size=6, raw_sha256="ab")
    result = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url))
    assert result.returncode == 1
    assert "is not a JSON object; it cannot be replayed" in one_line(result)


def envelope_of(message: dict) -> dict:
    """A retry written by a worker before envelopes were signed, refused after the upgrade."""
    return {
        "queue_name": "sfsync",
        "actor_name": "sync.requested",
        "args": [],
        "kwargs": {"body": message},
        "options": {"retries": 2, "throws": "x"},
        "message_id": message["id"],
        "message_timestamp": 1,
    }


def new_account() -> str:
    return f"acc_{secrets.token_hex(4)}"


def signup(account: str, email: str = "ada.lovelace@example.com") -> dict:
    return {
        "type": "candidate.signed_up",
        "version": 1,
        "id": f"su-{secrets.token_hex(4)}",
        "occurred_at": "2026-12-01T10:00:00Z",
        "account_id": account,
        "candidate_id": "cand_1",
        "email": email,
        "study_id": "study_789",
    }


@pytest.fixture
def rabbit(amqp_url) -> Iterator[tuple[dict[str, str], callable]]:
    """Environment for a queue of the test's own, and a function draining it."""
    prefix = f"dl{secrets.token_hex(3)}"
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()

    def drain() -> list[dict]:
        bodies = []
        while True:
            _, _, data = channel.basic_get(f"{prefix}.sfsync", auto_ack=True)
            if data is None:
                return bodies
            bodies.append(json.loads(data))

    yield {"AMQP_URL": amqp_url, "SFSYNC_QUEUE_PREFIX": prefix}, drain
    for suffix in ("", ".DQ", ".XQ"):
        channel.queue_delete(f"{prefix}.sfsync{suffix}")
    connection.close()


@pytest.fixture
def own_database(postgres_server_url) -> Iterator[str]:
    """A migrated database of the test's own, for commands over every dead letter."""
    name = f"sfsync_dl_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(postgres_server_url)._replace(path=f"/{name}"))
    migrate(url)
    yield url
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def replayed_at(store, entry_id: str):
    _, pool = store
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT replayed_at, replay_note, body FROM dead_letters WHERE id = %s", (entry_id,)
        ).fetchone()
    return row


@pytest.mark.parametrize("wrap", [dict, envelope_of], ids=["as-published", "inside-envelope"])
def test_replay_sends_the_request_with_a_fresh_start(store, migrated_database_url, rabbit, wrap):
    """The plain request goes out: no retries or options of the dead message come along."""
    environ, drain = rabbit
    message = sync_request(new_account())
    entry_id = recorded(store, body=wrap(message))
    result = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url), **environ)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"replayed dead letter {entry_id} (message {message['id']})"
    assert drain() == [{**message, "replay": True}]  # a failed run is carried on
    assert replayed_at(store, entry_id)[0] is not None


def test_a_dead_letter_is_replayed_once(store, migrated_database_url, rabbit):
    environ, drain = rabbit
    entry_id = recorded(store, body=signup(new_account()))
    first = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url), **environ)
    again = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url), **environ)
    assert first.returncode == 0, first.stderr
    assert again.returncode == 1
    assert f"dead letter {entry_id} was replayed already; nothing sent" in one_line(again)
    assert len(drain()) == 1


def test_a_claim_whose_message_was_not_sent_is_released(store, migrated_database_url, rabbit):
    environ, drain = rabbit
    entry_id = recorded(store, body=signup(new_account()))
    down = {**environ, "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}
    failed = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url), **down)
    assert failed.returncode == 1 and "could not declare queue" in failed.stderr
    assert replayed_at(store, entry_id)[0] is None
    retried = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url), **environ)
    assert retried.returncode == 0, retried.stderr
    assert len(drain()) == 1


def test_an_invalid_body_is_not_sent_until_corrected(
    store, migrated_database_url, rabbit, tmp_path
):
    """Fixed: the corrected body is validated, sent, and noted on the kept dead letter."""
    environ, drain = rabbit
    broken = {**sync_request(new_account()), "scope": "everything"}
    entry_id = recorded(store, body=broken, reason="invalid_message: invalid sync.requested")
    refused = sfsync("dead-letters", "replay", entry_id, **env(migrated_database_url), **environ)
    assert refused.returncode == 1
    line = one_line(refused)
    assert f"dead letter {entry_id} is still invalid" in line and "scope" in line
    assert "--body FILE" in line and replayed_at(store, entry_id)[0] is None

    still_bad = tmp_path / "still_bad.json"
    still_bad.write_text(json.dumps({**broken, "scope": "import", "version": 7}))
    result = sfsync(
        "dead-letters", "replay", entry_id, "--body", str(still_bad),
        **env(migrated_database_url), **environ,
    )  # fmt: skip
    assert result.returncode == 1 and "the corrected body is invalid" in one_line(result)
    assert "version" in one_line(result) and replayed_at(store, entry_id)[0] is None

    fixed = {**broken, "scope": "import"}
    path = tmp_path / "fixed.json"
    path.write_text(json.dumps(fixed))
    result = sfsync(
        "dead-letters", "replay", entry_id, "--body", str(path),
        **env(migrated_database_url), **environ,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "with a corrected body" in result.stdout and "import" not in result.stdout
    assert drain() == [{**fixed, "replay": True}]
    when, note, kept = replayed_at(store, entry_id)
    assert when is not None and kept == broken  # the original stays as it was
    assert note.startswith(f"replaced by a corrected body: message {fixed['id']}, sha256 ")


def test_body_needs_one_entry(migrated_database_url, tmp_path):
    path = tmp_path / "b.json"
    path.write_text("{}")
    result = sfsync(
        "dead-letters", "replay", "--all", "--body", str(path), **env(migrated_database_url)
    )
    assert result.returncode == 2 and "--body replaces the body of one dead letter" in result.stderr


def test_replay_needs_one_choice(migrated_database_url):
    for args in ([], ["1", "--all"], ["--all", "--account", "acc_1"]):
        result = sfsync("dead-letters", "replay", *args, **env(migrated_database_url))
        assert result.returncode == 2
        assert "give one of: an ENTRY_ID, --all, or filter options" in result.stderr


def set_age(store, entry_id: str, hours: float) -> None:
    _, pool = store
    with pool.connection() as conn:
        conn.execute(
            "UPDATE dead_letters SET created_at = now() - make_interval(secs => %s) WHERE id = %s",
            (hours * 3600, entry_id),
        )


def listed(database_url: str, *args: str) -> list[int]:
    result = sfsync("dead-letters", "list", "--json", *args, **env(database_url))
    assert result.returncode == 0, result.stderr
    return [row["id"] for row in json.loads(result.stdout)]


def test_list_filters(store, migrated_database_url):
    account, other = new_account(), new_account()
    request = recorded(store, body=sync_request(account), reason="unknown_account: x")
    su = recorded(store, body=signup(account), reason="invalid_message: email: y")
    old = recorded(store, body=signup(account), reason="busy: another run")
    foreign = recorded(store, body=sync_request(other), reason="unknown_account: x")
    set_age(store, old, 50)
    mine = ["--account", account]
    assert listed(migrated_database_url, *mine) == [int(old), int(su), int(request)]
    assert listed(migrated_database_url, "--account", other) == [int(foreign)]
    by_type = listed(migrated_database_url, *mine, "--type", "candidate.signed_up")
    assert by_type == [int(old), int(su)]
    assert listed(migrated_database_url, *mine, "--reason", "unknown_account") == [int(request)]
    assert listed(migrated_database_url, *mine, "--reason", "INVALID") == [int(su)]
    assert listed(migrated_database_url, *mine, "--older-than", "2d") == [int(old)]
    assert listed(migrated_database_url, *mine, "--newer-than", "1h") == [int(su), int(request)]
    assert listed(migrated_database_url, *mine, "--limit", "1") == [int(old)]


def test_list_filters_on_replays(store, migrated_database_url, rabbit):
    environ, _ = rabbit
    account = new_account()
    done = recorded(store, body=signup(account))
    waiting = recorded(store, body=signup(account))
    sfsync("dead-letters", "replay", done, **env(migrated_database_url), **environ)
    mine = ["--account", account]
    assert listed(migrated_database_url, *mine, "--replayed") == [int(done)]
    assert listed(migrated_database_url, *mine, "--not-replayed") == [int(waiting)]


def test_list_never_prints_bodies(store, migrated_database_url):
    account = new_account()
    recorded(store, body=signup(account, "secret.person@example.org"), reason="invalid_message: z")
    recorded(store, body={"account_id": "ada@example.org", "note": "Ada Lovelace"})
    for args in ([], ["--json"], ["--account", account]):
        result = sfsync("dead-letters", "list", *args, **env(migrated_database_url))
        assert result.returncode == 0, result.stderr
        for secret in ("secret.person", "ada@example", "Lovelace", "study_789"):
            assert secret not in result.stdout
    text = sfsync("dead-letters", "list", "--account", account, **env(migrated_database_url))
    assert (
        f"candidate.signed_up  account={account}  not replayed  invalid_message: z" in text.stdout
    )


def test_an_account_that_is_not_an_id_is_not_kept(store, migrated_database_url):
    """A publisher's email in `account_id` is never a list column."""
    entry_id = recorded(store, body={**signup("x"), "account_id": "ada@example.org"})
    row = json.loads(sfsync("dead-letters", "show", entry_id, **env(migrated_database_url)).stdout)
    assert row["account_id"] is None and row["message_type"] == "candidate.signed_up"


def test_list_rejects_a_bad_age(migrated_database_url):
    result = sfsync("dead-letters", "list", "--older-than", "3 days", **env(migrated_database_url))
    assert result.returncode == 2 and "such as 2h or 3d" in result.stderr


def test_show_masks_personal_data(store, migrated_database_url):
    account = new_account()
    body = {
        **signup(account, "Ada.Lovelace@example.co.uk"),
        "first_name": "Ada",
        "note": "call me on Tuesday",
        "candidate_id": "grace@example.org",
        "age": 36,
    }
    entry_id = recorded(store, body=body, reason="invalid_message: w")
    result = sfsync("dead-letters", "show", entry_id, **env(migrated_database_url))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["masked"] is True
    assert shown["body"] == {
        "type": "candidate.signed_up",
        "version": 1,
        "id": body["id"],
        "occurred_at": "2026-12-01T10:00:00Z",
        "account_id": account,
        "candidate_id": "g***@e***.org",
        "email": "A***@e***.uk",
        "study_id": "study_789",
        "first_name": "[masked]",
        "note": "[masked]",
        "age": "[masked]",
    }
    for secret in ("Lovelace", "Ada", "Tuesday", "grace"):
        assert secret not in result.stdout.replace(account, "")


def test_show_masks_bytes(store, migrated_database_url):
    raw = b'{"email": "ada@example.org", \xff}'
    entry_id = recorded(store, raw=raw, raw_size=len(raw), raw_sha256="ab")
    shown = json.loads(
        sfsync("dead-letters", "show", entry_id, **env(migrated_database_url)).stdout
    )
    assert shown["raw_text"] == f"[masked: {len(raw)} bytes]"


def test_show_help_says_why_it_masks():
    result = sfsync("dead-letters", "show", "--help")
    assert "personal data" in result.stdout and "--unmask" in result.stdout


def test_replay_by_filter_sends_each_valid_message_once(store, migrated_database_url, rabbit):
    environ, drain = rabbit
    account = new_account()
    requests = [sync_request(account) for _ in range(3)]
    ids = [recorded(store, body=r) for r in requests]
    su = recorded(store, body=signup(account))
    invalid = recorded(store, body={**sync_request(account), "scope": "everything"})
    unparseable = recorded(store, raw=b"\x00", raw_size=1, raw_sha256="ab")
    result = sfsync(
        "dead-letters", "replay", "--account", account, "--type", "sync.requested",
        **env(migrated_database_url), **environ,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"replayed 3 dead letter(s): {', '.join(ids)}",
        f"1 still invalid, not sent: {invalid} (correct each with `show ID --unmask`,"
        " then `replay ID --body FILE`)",
    ]
    assert sorted(m["id"] for m in drain()) == sorted(r["id"] for r in requests)
    assert replayed_at(store, invalid)[0] is None and replayed_at(store, su)[0] is None
    assert replayed_at(store, unparseable)[0] is None
    again = sfsync(
        "dead-letters", "replay", "--account", account, **env(migrated_database_url), **environ
    )
    assert again.stdout.splitlines()[0] == f"replayed 1 dead letter(s): {su}"
    assert [m["id"] for m in drain()] == [signup_id(store, su)]


def signup_id(store, entry_id: str) -> str:
    return replayed_at(store, entry_id)[2]["id"]


def test_two_operators_replaying_at_once_send_each_message_once(
    store, migrated_database_url, rabbit
):
    environ, drain = rabbit
    account = new_account()
    letters, pool = store
    with pool.connection() as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO dead_letters (queue, actor, message_id, reason, body)"
            " VALUES ('q', 'a', %s, 'busy: x', %s)",
            [(f"m{i}", json.dumps(signup(account))) for i in range(250)],
        )
    command = [sys.executable, "-m", "sfsync.entrypoints.cli", "dead-letters", "replay"]
    environ = {**env(migrated_database_url), **environ, "PATH": ""}
    operators = [
        subprocess.Popen(
            [*command, "--account", account], env=environ, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in operators]
    assert [p.returncode for p in operators] == [0, 0]
    counts = [int(out.split()[1]) for out in outputs]
    assert sum(counts) == 250
    sent = [m["id"] for m in drain()]
    assert len(sent) == 250 and len(set(sent)) == 250


def test_summary_and_health_count_by_reason(own_database, rabbit):
    environ, _ = rabbit
    with ConnectionPool(own_database, min_size=1, max_size=1) as pool:
        store = (PsycopgDeadLetters(pool), pool)
        for reason in ("invalid_message: a", "invalid_message: b", "unknown_account: c"):
            recorded(store, body=signup("acc_1"), reason=reason)
        done = recorded(store, body=signup("acc_1"), reason="busy: d")
        sfsync("dead-letters", "replay", done, **env(own_database), **environ)
    text = sfsync("dead-letters", "summary", **env(own_database)).stdout.splitlines()
    assert text[0].split()[:6] == ["invalid_message", "2", "in", "all", "2", "not"]
    assert text[1].split()[:5] == ["unknown_account", "1", "in", "all", "1"]
    assert text[2].split() == ["busy", "1", "in", "all", "0", "not", "replayed"]
    rows = json.loads(sfsync("dead-letters", "summary", "--json", **env(own_database)).stdout)
    assert [(r["reason_code"], r["total"], r["not_replayed"]) for r in rows] == [
        ("invalid_message", 2, 2),
        ("unknown_account", 1, 1),
        ("busy", 1, 0),
    ]
    health = sfsync("health", **env(own_database), **environ)
    assert health.returncode == 0, health.stderr
    assert (
        "dead letters: 3 not replayed (invalid_message 2, unknown_account 1):"
        " sfsync dead-letters summary"
    ) in health.stdout.splitlines()


def test_replay_all_and_purge(own_database, rabbit):
    environ, drain = rabbit
    with ConnectionPool(own_database, min_size=1, max_size=1) as pool:
        store = (PsycopgDeadLetters(pool), pool)
        for account in ("acc_1", "acc_2"):
            recorded(store, body=signup(account))
        recorded(store, raw=b"\x00", raw_size=1, raw_sha256="ab")
    result = sfsync("dead-letters", "replay", "--all", **env(own_database), **environ)
    assert result.stdout.startswith("replayed 2 dead letter(s)") and len(drain()) == 2

    purge = ["dead-letters", "purge"]
    assert sfsync(*purge, **env(own_database)).returncode == 2  # nothing chosen
    declined = subprocess.run(
        [sys.executable, "-m", "sfsync.entrypoints.cli", *purge, "--replayed"],
        input="n\n", capture_output=True, text=True, env=env(own_database), timeout=60,
    )  # fmt: skip
    assert "delete 2 dead letter(s)? [y/N]" in declined.stdout and declined.returncode != 0
    assert len(listed(own_database)) == 3
    result = sfsync(*purge, "--replayed", "--yes", **env(own_database))
    assert result.stdout.strip() == "deleted 2 dead letter(s)"
    assert len(listed(own_database)) == 1
    result = sfsync(*purge, "--all", "--yes", **env(own_database))
    assert result.stdout.strip() == "deleted 1 dead letter(s)"
    assert sfsync(*purge, "--all", **env(own_database)).stdout.strip() == (
        "no dead letters match; nothing deleted"
    )
