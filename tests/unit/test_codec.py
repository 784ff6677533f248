"""The message contract at the edge: plain JSON in, a clear reason out when it is wrong."""

import attrs
import pytest

from sfsync.domain.errors import InvalidMessage
from sfsync.domain.messages import Scope, SyncRequested
from sfsync.entrypoints.codec import decode

GOOD = {
    "type": "sync.requested",
    "version": 1,
    "id": "r-1",
    "requested_at": "2026-11-27T18:00:00Z",
    "account_id": "acc_123",
    "scope": "import",
    "candidate_id": None,
    "trigger": "manual",
    "full_resync": False,
}


def test_a_contract_message_decodes():
    request = decode(GOOD)
    assert isinstance(request, SyncRequested) and request.scope is Scope.IMPORT
    assert request.requested_at.tzinfo is not None


def test_optional_extra_fields_are_allowed():
    assert decode({**GOOD, "note": "added by a newer publisher"}).id == "r-1"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "JSON object"),
        ({**GOOD, "type": "sync.exploded"}, "unknown message type"),
        ({**GOOD, "version": 2}, "speaks version 1"),
        ({**GOOD, "scope": "everything"}, "$.scope"),
        (
            {k: v for k, v in GOOD.items() if k != "account_id"},
            "required field missing @ $.account_id",
        ),
        ({**GOOD, "requested_at": "yesterday"}, "$.requested_at"),
        ({**GOOD, "requested_at": "2026-11-27T18:00:00"}, "time zone"),
        ({**GOOD, "full_resync": "yes"}, "$.full_resync"),
        ({**GOOD, "id": ""}, "$.id: must be an id of 1 to 200 characters"),
        ({**GOOD, "id": "ada@example.com"}, "$.id: must be an id of 1 to 200 characters"),
        ({**GOOD, "account_id": 7}, "$.account_id"),
    ],
)
def test_a_bad_message_is_refused_with_a_reason(body, reason):
    with pytest.raises(InvalidMessage) as info:
        decode(body)
    assert reason in info.value.message


ADA = "ada.lovelace@example.com"


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "account_id": f"{ADA}\x00", "id": f"{ADA}\x00"},
        {**GOOD, "version": 4155550143},
        {**GOOD, "scope": ADA},
        {**GOOD, "trigger": [ADA]},
        {**GOOD, "full_resync": ADA},
        {**GOOD, "requested_at": ADA},
        {**GOOD, "candidate_id": {"email": ADA}},
        {**GOOD, "id": ADA * 100},
        {**GOOD, "type": ADA},
        {"type": "candidate.signed_up", "version": 1, "id": "c1", "email": 4155550143},
        f'{{"type": "sync.requested", "email": "{ADA}"'.encode(),
    ],
)
def test_the_reason_never_echoes_a_value(body):
    with pytest.raises(InvalidMessage) as info:
        decode(body)
    assert "ada.lovelace" not in info.value.message and "4155550143" not in info.value.message


def test_the_type_check_names_the_field_not_the_value():
    with pytest.raises(ValueError) as info:
        attrs.evolve(decode(GOOD), type=ADA)
    assert "type must be 'sync.requested'" in str(info.value) and "ada" not in str(info.value)
