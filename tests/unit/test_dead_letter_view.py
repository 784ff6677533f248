"""The masking rule of `dead-letters show`: routing values kept, personal data masked."""

from __future__ import annotations

import pytest

from sfsync.entrypoints.dead_letter_view import MASK, health_line, mask_email, masked


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("ada@example.com", "a***@e***.com"),
        (" Ada.Lovelace@mail.example.co.uk ", "A***@m***.uk"),
        ("x@localhost", "x***@l***"),
        ("not an email", None),
        ("a@b@c.com", None),
    ],
)
def test_mask_email(text, shown):
    assert mask_email(text) == shown


def test_routing_fields_are_kept_only_when_they_are_ids_or_timestamps():
    body = {
        "type": "sync.requested",
        "version": 1,
        "id": "r-1",
        "requested_at": "2026-11-27T18:00:00+00:00",
        "account_id": "acc_1",
        "scope": "import",
        "full_resync": False,
        "candidate_id": "Ada Lovelace",
        "trigger": None,
    }
    assert masked(body) == {**body, "candidate_id": MASK}


def test_everything_else_is_masked_at_any_depth():
    body = {
        "first_name": "Ada",
        "email": "ada@example.com",
        "age": 36,
        "tags": ["Ada", "grace@example.org", True],
        "kwargs": {"body": {"id": "r-2", "note": "free text", "email": "nope"}},
    }
    assert masked(body) == {
        "first_name": MASK,
        "email": "a***@e***.com",
        "age": MASK,
        "tags": [MASK, "g***@e***.org", True],
        "kwargs": {"body": {"id": "r-2", "note": MASK, "email": MASK}},
    }


def test_bodies_that_are_not_objects():
    assert masked(["ada@example.com", 3]) == ["a***@e***.com", MASK]
    assert masked("Ada") == MASK and masked(None) is None


def test_health_line():
    rows = [
        {"reason_code": "invalid_message", "not_replayed": 2},
        {"reason_code": "busy", "not_replayed": 0},
    ]
    assert health_line(rows) == (
        "dead letters: 2 not replayed (invalid_message 2): sfsync dead-letters summary"
    )
    assert health_line(rows[1:]) == "dead letters: none waiting"
