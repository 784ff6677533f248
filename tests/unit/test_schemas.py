"""The contract's JSON Schemas: valid 2020-12, loaded as the worker loads them, true to the
mission's examples, in step with what the worker decodes, and reasons that quote no value."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from sfsync.domain.errors import InvalidMessage
from sfsync.entrypoints.codec import MESSAGE_TYPES, decode
from sfsync.entrypoints.validation import path, problems, schema_file, validators

ROOT = Path(__file__).resolve().parents[2]
TYPES = ["candidate.signed_up", "sync.requested", "sync.completed"]

# The examples of the mission's "Message contract" section, as written there.
MISSION = {
    "candidate.signed_up": """
{"type": "candidate.signed_up", "version": 1, "id": "<uuid, unique per message>",
 "occurred_at": "2026-11-27T18:00:00Z", "account_id": "acc_123",
 "candidate_id": "cand_456", "email": "ada@example.com", "study_id": "study_789"}
""",
    "sync.requested": """
{"type": "sync.requested", "version": 1, "id": "<uuid; the same id twice is one request>",
 "requested_at": "2026-11-27T18:00:00Z", "account_id": "acc_123",
 "scope": "import | export | full", "candidate_id": null,
 "trigger": "schedule | manual | candidate_page", "full_resync": false}
""",
    "sync.completed": """
{"type": "sync.completed", "version": 1, "id": "<uuid>", "run_id": "<uuid>",
 "request_id": "<the sync.requested id>", "account_id": "acc_123", "scope": "import",
 "status": "succeeded | partial | failed | quota", "started_at": "...", "finished_at": "...",
 "counts": {"seen": 0, "created": 0, "updated": 0, "unchanged": 0, "skipped": {"<reason>": 0},
            "deleted": 0, "unsubscribed": 0, "pushed": 0, "push_failed": 0},
 "errors": [{"code": "...", "message": "...", "salesforce_id": "..."}]}
""",
}
PLACEHOLDERS = {  # the mission's placeholders, by field, as a publisher fills them in
    "id": "6f1c1c2e-8a34-4c4b-9a57-0d1e2f3a4b5c",
    "run_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "request_id": "0b7c4a9e-1f2d-4e5a-8b6c-7d8e9f0a1b2c",
    "started_at": "2026-11-27T18:00:01Z",
    "finished_at": "2026-11-27T18:00:09Z",
    "code": "field_missing",
    "message": "Contact field Favorite_Color__c does not exist",
    "salesforce_id": "003000000000001AAA",
    "<reason>": "no_email",
}


def filled(value: Any, field: str = "") -> list[Any]:
    """Every concrete message the example stands for: a placeholder filled in, each
    alternative of `a | b | c` taken once."""
    if isinstance(value, dict):
        keys = [PLACEHOLDERS[k] if k.startswith("<") else k for k in value]
        options = [filled(v, k) for k, v in value.items()]
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*options)]
    if isinstance(value, list):
        return [list(combo) for combo in itertools.product(*(filled(v, field) for v in value))]
    if isinstance(value, str) and (value == "..." or value.startswith("<")):
        return [PLACEHOLDERS[field]]
    if isinstance(value, str) and " | " in value:
        return value.split(" | ")
    return [value]


def schema_path(kind: str) -> Path:
    return ROOT / "schemas" / schema_file(kind, 1)


@pytest.mark.parametrize("kind", TYPES)
def test_each_schema_is_valid_draft_2020_12(kind):
    schema = json.loads(schema_path(kind).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_the_worker_loads_every_schema_in_the_repository():
    """validators() reads the installed package `sfsync.schemas`: the same files as schemas/."""
    shipped = {name.name for name in (ROOT / "schemas").glob("*.json")}
    assert {schema_file(*key) for key in validators()} == shipped
    assert set(validators()) == {(kind, 1) for kind in TYPES}


@pytest.mark.parametrize("kind", TYPES)
def test_the_mission_s_example_validates(kind):
    examples = filled(json.loads(MISSION[kind]))
    assert len(examples) == {"sync.requested": 9, "sync.completed": 4}.get(kind, 1)
    for example in examples:
        assert problems(kind, example) == []
        if kind in MESSAGE_TYPES:
            assert decode(example).id == example["id"]


@pytest.mark.parametrize("kind", TYPES)
def test_the_schema_s_own_examples_validate(kind):
    schema = json.loads(schema_path(kind).read_text())
    assert schema["examples"]
    for example in schema["examples"]:
        assert problems(kind, example) == []


def test_every_example_in_the_messages_page_validates():
    page = (ROOT / "docs" / "messages.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", page, flags=re.DOTALL)]
    checked = {b["type"] for b in blocks if b.get("type") in TYPES and problems(b["type"], b) == []}
    assert checked == set(TYPES)
    assert all(problems(b["type"], b) == [] for b in blocks if b.get("type") in TYPES)


REQUEST = json.loads(
    MISSION["sync.requested"]
    .replace(" | export | full", "")
    .replace(" | manual | candidate_page", "")
    .replace("<uuid; the same id twice is one request>", "r-1")
)


# Bodies at the edges of what the worker takes: the schema and the decoder agree on each.
@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ({}, True),
        ({"note": "a field a newer publisher added"}, True),
        ({"trigger": None}, False),
        ({"full_resync": None}, False),
        ({"candidate_id": "cand_456"}, True),
        ({"candidate_id": "ada@example.com"}, False),
        ({"id": "r-1\n"}, False),
        ({"id": "x" * 200}, True),
        ({"id": "x" * 201}, False),
        ({"id": "-r"}, False),
        ({"version": 1.0}, True),
        ({"version": True}, False),
        ({"version": "1"}, False),
        ({"requested_at": "2026-11-27T18:00:00+01:00"}, True),
        ({"requested_at": "2026-11-27T18:00:00.123456Z"}, True),
        ({"requested_at": "2026-11-27T18:00:00"}, False),
        ({"requested_at": "2026-11-27"}, False),
        ({"requested_at": 1764266400}, False),
        ({"scope": "IMPORT"}, False),
        ({"replay": True}, True),
    ],
)
def test_the_schema_accepts_what_the_worker_decodes(changes, accepted):
    body = {**REQUEST, **changes}
    assert (problems("sync.requested", body) == []) is accepted
    try:
        decode(body)
        decoded = True
    except InvalidMessage:
        decoded = False
    assert decoded is accepted


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"scope": "everything"}, '$.scope: must be one of ["import", "export", "full"] (enum)'),
        ({"full_resync": "yes"}, "$.full_resync: must be true or false (type)"),
        ({"version": "1"}, "$.version: must be 1 (const)"),
        ({"version": 2}, "unsupported version; this worker speaks version 1"),
        ({"account_id": 7}, "$.account_id: must be a string (type)"),
        ({"requested_at": "2026-11-27T18:00:00"}, "$.requested_at: must be a date-time"),
        ({"id": "r 1"}, "$.id: must be an id of 1 to 200 characters"),
        ({"candidate_id": "c 1"}, "$.candidate_id: must be null or an id"),
    ],
)
def test_a_reason_names_the_path_and_the_rule(changes, reason):
    with pytest.raises(InvalidMessage) as info:
        decode({**REQUEST, **changes})
    assert info.value.message.startswith("invalid sync.requested message: ")
    assert reason in info.value.message


def test_every_missing_field_is_named_and_a_long_list_is_cut():
    with pytest.raises(InvalidMessage) as info:
        decode({"type": "sync.requested", "version": 1})
    assert info.value.message == (
        "invalid sync.requested message: required field missing @ $.id;"
        " required field missing @ $.requested_at; required field missing @ $.account_id;"
        " and 1 more"
    )


MARKER = "ada.lovelace+MARKER-7f3a@example.com"


@pytest.mark.parametrize(
    "changes",
    [
        {"id": MARKER},
        {"account_id": MARKER * 300_000},  # about 10 MB
        {"scope": MARKER},
        {"version": MARKER},
        {"trigger": [MARKER]},
        {"requested_at": MARKER},
        {"candidate_id": {"email": MARKER}},
        {"full_resync": MARKER},
        {"type": "candidate.signed_up", "email": {MARKER: MARKER}, "candidate_id": MARKER},
        {"type": "candidate.signed_up", "occurred_at": MARKER, "study_id": [MARKER]},
    ],
)
def test_a_reason_never_quotes_the_value(changes):
    with pytest.raises(InvalidMessage) as info:
        decode({**REQUEST, **changes})
    assert "MARKER" not in info.value.message and "ada.lovelace" not in info.value.message
    assert len(info.value.message) < 500


def test_a_key_that_is_not_a_plain_name_is_not_shown():
    assert path(["counts", "skipped", MARKER, 0]) == "$.counts.skipped[?][0]"
    event = filled(json.loads(MISSION["sync.completed"]))[0]
    event["counts"]["skipped"] = {MARKER: -1}
    assert problems("sync.completed", event) == [
        "$.counts.skipped[?]: must meet minimum 0 (minimum)"
    ]
