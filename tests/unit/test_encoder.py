"""The contract encoder: plain JSON in, signed envelopes for the worker's own retries only."""

from __future__ import annotations

import hashlib
import json

import orjson
import pytest
from cryptography.fernet import Fernet
from dramatiq import Message
from dramatiq.common import dq_name

from sfsync.adapters.rabbitmq.encoder import (
    INVALID_ACTOR,
    MAX_BODY_BYTES,
    ContractEncoder,
    Refused,
)

QUEUE = "t.sfsync"
KEY = Fernet.generate_key().decode()
OLD_KEY = Fernet.generate_key().decode()
TYPES = frozenset({"sync.requested"})
REFUSED_ENVELOPE = "dramatiq envelope from outside the worker refused"


def encoder(*keys: str) -> ContractEncoder:
    return ContractEncoder(QUEUE, TYPES, keys or (KEY,))


def request(**changes) -> dict:
    return {
        "type": "sync.requested",
        "version": 1,
        "id": "req-1",
        "requested_at": "2026-11-27T18:00:00Z",
        "account_id": "acc_1",
        "scope": "import",
        **changes,
    }


def retry_of(message: dict, **options) -> Message:
    """The message as Retries re-enqueues it: same body, options written by the middleware."""
    return Message(
        queue_name=QUEUE,
        actor_name="sync.requested",
        args=(),
        kwargs={"body": message},
        options=options,
        message_id=message["id"],
        message_timestamp=1_767_225_600_000,
    )


def _decode(enc: ContractEncoder, data: bytes) -> Message:
    fields = enc.decode(data)
    fields["args"] = tuple(fields["args"])
    return Message(**fields)


def refusal(data: bytes, enc: ContractEncoder | None = None) -> Refused:
    message = _decode(enc or encoder(), data)
    assert message.actor_name == INVALID_ACTOR
    refused = message.kwargs["refused"]
    assert isinstance(refused, Refused)
    return refused


def test_plain_contract_json_goes_to_its_actor():
    message = _decode(encoder(), json.dumps(request()).encode())
    assert (message.actor_name, message.queue_name, message.message_id) == (
        "sync.requested",
        QUEUE,
        "req-1",
    )
    assert message.kwargs == {"body": request()} and message.options == {}


def test_unhandled_type_goes_to_the_invalid_actor_with_its_body():
    message = _decode(encoder(), json.dumps(request(type="candidate.exploded")).encode())
    assert message.actor_name == INVALID_ACTOR
    assert message.kwargs == {"body": request(type="candidate.exploded")}


def test_a_retry_round_trips_through_the_signed_envelope():
    enc = encoder()
    original = retry_of(request(), retries=2, requeue_timestamp=5)
    wire = enc.encode(original.asdict())
    assert set(json.loads(wire)) == {"sfsync_envelope", "sig"}
    back = _decode(enc, wire)
    assert back == original


def test_the_delay_queue_envelope_keeps_its_eta():
    enc = encoder()
    delayed = retry_of(request(), retries=1, eta=1_767_225_605_000)
    delayed = delayed.copy(queue_name=f"{QUEUE}.DQ")
    assert _decode(enc, enc.encode(delayed.asdict())) == delayed


def test_the_traceback_and_other_options_never_leave_the_worker():
    enc = encoder()
    message = retry_of(
        request(), retries=1, traceback="Traceback ... fatima@example.com", sfsync_error="x"
    )
    wire = enc.encode(message.asdict())
    assert b"fatima" not in wire and b"sfsync_error" not in wire
    assert _decode(enc, wire).options == {"retries": 1}


def test_an_old_key_still_verifies_after_rotation():
    wire = encoder(OLD_KEY).encode(retry_of(request(), retries=1).asdict())
    assert _decode(encoder(KEY, OLD_KEY), wire).actor_name == "sync.requested"
    assert refusal(wire, encoder(KEY)).reason.startswith("envelope signature does not verify")


def forged(**changes) -> bytes:
    envelope = {
        "queue_name": QUEUE,
        "actor_name": "sync.requested",
        "args": [],
        "kwargs": {"body": request()},
        "options": {},
        "message_id": "forged-1",
        "message_timestamp": 1_767_225_600_000,
        **changes,
    }
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(
    "data",
    [
        forged(),
        forged(options={"throws": "x"}),
        forged(options={"pipe_target": {"queue_name": "billing"}}),
        forged(options={"on_failure": "sync.requested", "on_success": "sync.requested"}),
        forged(actor_name="nobody.knows"),
        json.dumps({**request(), "options": {}}).encode(),  # any envelope key is enough
    ],
)
def test_an_unsigned_envelope_is_refused(data):
    refused = refusal(data)
    assert refused.reason.startswith(REFUSED_ENVELOPE)
    assert "publish the plain contract JSON" in refused.reason
    assert refused.body == json.loads(data) and refused.raw is None


def test_a_forged_signature_is_refused():
    inner = forged().decode()
    data = json.dumps({"sfsync_envelope": inner, "sig": "0" * 64}).encode()
    assert refusal(data).reason.startswith("envelope signature does not verify")


def test_a_signature_replayed_on_modified_bytes_is_refused():
    enc = encoder()
    wire = json.loads(enc.encode(retry_of(request(), retries=1).asdict()))
    wire["sfsync_envelope"] = wire["sfsync_envelope"].replace("acc_1", "acc_2")
    assert refusal(json.dumps(wire).encode()).reason.startswith(
        "envelope signature does not verify"
    )


@pytest.mark.parametrize("sig", [None, 3, "zz", "é" * 64, "0" * 63])
def test_a_malformed_signature_is_refused_not_raised(sig):
    data = json.dumps({"sfsync_envelope": forged().decode(), "sig": sig}).encode()
    assert refusal(data).reason.startswith("envelope signature does not verify")


@pytest.mark.parametrize(
    "options",
    [
        {"throws": "x"},
        {"retries": "1"},
        {"retries": True},
        {"retries": -1},
        {"eta": 5},  # eta only on the delay queue
        {"max_retries": 1000},
        {"pipe_target": {"queue_name": "billing"}},
    ],
)
def test_even_a_signed_envelope_carries_only_the_options_the_worker_writes(options):
    enc = encoder()
    message = retry_of(request())
    inner = json.dumps({**message.asdict(), "options": options})
    data = json.dumps({"sfsync_envelope": inner, "sig": enc.signer.sign(inner.encode())})
    assert "never writes" in refusal(data.encode(), enc).reason


@pytest.mark.parametrize(
    "changes",
    [
        {"queue_name": "billing"},
        {"actor_name": INVALID_ACTOR},
        {"args": [1]},
        {"kwargs": {"body": request(), "extra": 1}},
        {"kwargs": {"body": [1]}},
        {"message_timestamp": "now"},
        {"surprise": 1},
    ],
)
def test_a_signed_envelope_with_unexpected_fields_is_refused(changes):
    enc = encoder()
    inner = json.dumps({**retry_of(request()).asdict(), **changes})
    data = json.dumps({"sfsync_envelope": inner, "sig": enc.signer.sign(inner.encode())})
    assert "never writes" in refusal(data.encode(), enc).reason


def test_a_delay_queue_envelope_without_eta_is_refused():
    enc = encoder()
    inner = json.dumps({**retry_of(request()).asdict(), "queue_name": f"{QUEUE}.DQ"})
    data = json.dumps({"sfsync_envelope": inner, "sig": enc.signer.sign(inner.encode())})
    assert "never writes" in refusal(data.encode(), enc).reason


DEEP = b"[" * 10_000 + b"]" * 10_000


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "body is empty"),
        (b"{not json", "body is not valid JSON"),
        (b'{"a": "\xff\xfe"}', "body is not valid UTF-8"),
        (b'{"a": 1}\x00', "raw NUL byte"),
        (b'{"a": "x\x00y"}', "raw NUL byte"),
        (b'{"a": "\\u0000"}', "NUL character"),
        (b'{"a\\u0000": 1}', "NUL character"),
        (b'{"a": NaN}', "NaN, Infinity and -Infinity are not JSON"),
        (b'{"a": Infinity}', "NaN, Infinity and -Infinity are not JSON"),
        (b'{"a": -Infinity}', "NaN, Infinity and -Infinity are not JSON"),
        (b'{"a": 1e999}', "number too large"),
        (b'{"a": -1e999}', "number too large"),
        (b'{"a": "\\ud800"}', "lone surrogate"),
        (DEEP, "nested more than"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested more than"),
        (b"[1, 2]", "body is a JSON array, not an object"),
        (b"3", "body is a JSON number, not an object"),
        (b"null", "body is JSON null, not an object"),
        (b'"x"', "body is a JSON string, not an object"),
        (b"true", "body is a JSON boolean, not an object"),
    ],
)
def test_every_bad_body_gets_a_specific_reason(data, reason):
    refused = refusal(data)
    assert reason in refused.reason
    assert refused.size == len(data)
    assert refused.sha256 == hashlib.sha256(data).hexdigest()


def test_bodies_postgres_cannot_store_are_kept_as_bytes():
    for data in (b'{"a": "\\u0000"}', b'{"a": NaN}', b"\xff", DEEP):
        refused = refusal(data)
        assert refused.raw == data and refused.body is None


def test_thirty_two_levels_are_enough():
    nested = b'{"a":' * 31 + b"[1]" + b"}" * 31
    assert _decode(encoder(), nested).actor_name == INVALID_ACTOR  # no type, but decoded
    assert "refused" not in _decode(encoder(), nested).kwargs
    assert "nested more than 32" in refusal(b"[" + nested + b"]").reason


def test_non_object_json_is_kept_as_json():
    refused = refusal(b"[1, 2]")
    assert refused.raw is None and refused.body == [1, 2]


def test_an_oversized_body_is_refused_unread_and_kept_in_part():
    data = json.dumps(request(id="x" * MAX_BODY_BYTES)).encode()
    refused = refusal(data)
    assert refused.reason == (
        f"body is {len(data):,} bytes; the contract allows at most {MAX_BODY_BYTES:,}"
    )
    assert refused.raw == data[: len(refused.raw)] and 0 < len(refused.raw) < len(data)
    assert refused.size == len(data)


def test_the_message_id_comes_from_the_body_only_when_it_is_a_plain_id():
    assert _decode(encoder(), json.dumps(request(id="a\nb")).encode()).message_id != "a\nb"
    assert len(_decode(encoder(), json.dumps(request(id="x" * 201)).encode()).message_id) < 201
    assert _decode(encoder(), b"[1]").message_id


def test_refused_repr_holds_no_body():
    refused = refusal(json.dumps(request(account_id="fatima@example.com", options={})).encode())
    assert "fatima" not in repr(refused) and "fatima" not in str(
        _decode(encoder(), json.dumps({"queue_name": "fatima"}).encode())
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "data",
    [
        json.dumps(request(account_id="a" * 10_000_000)).encode(),
        json.dumps(request(id="1" * 1_000_000)).encode(),
        json.dumps(request(note="é" * 500_000)).encode(),
        b'{"a":"' + b"\\u0000" * 150_000 + b'"}',
        b"[" * 500_000,
        b"[" + b"0," * 500_000 + b"0]",
        b'["' + b"[" * 40 + b'",' + b"[0]," * 250_000 + b"0]",
        b'{"a": "' + b"\xff" * 900_000 + b'"}',
    ],
)
def test_huge_bodies_never_hang_the_decoder(data):
    """A hang detector, not a timing assertion (bench/dead_letters.py measures)."""
    message = _decode(encoder(), data)
    assert message.actor_name in (INVALID_ACTOR, "sync.requested")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("6f1c1c2e-8a34-4c4b-9a57-0d1e2f3a4b5c", True),
        ("bad-acc_1-scope", True),
        ("ada.lovelace@example.com", False),
        ("Ada Lovelace", False),
        ("+1 202 555 0187", False),
    ],
)
def test_only_an_id_like_body_id_becomes_the_logged_message_id(given, kept):
    """The message id is on every log line of its message: an email in `id` never is."""
    encoder = ContractEncoder("q", frozenset({"sync.requested"}), [Fernet.generate_key().decode()])
    body = {"type": "sync.requested", "id": given}
    message_id = encoder.decode(orjson.dumps(body))["message_id"]
    assert (message_id == given) is kept


class TestInternalActors:
    """The sign-up flush is the worker's own message: signed, never taken as plain JSON."""

    def enc(self) -> ContractEncoder:
        return ContractEncoder(QUEUE, TYPES, (KEY,), frozenset({"sfsync.signup_flush"}))

    def flush(self, queue: str = QUEUE, **options) -> Message:
        return Message(
            queue_name=queue,
            actor_name="sfsync.signup_flush",
            args=(),
            kwargs={"body": {"account_id": "acc_1"}},
            options=options,
            message_id="3c1f0c1e-0b7d-4c1e-9a43-0d8e6f2b1c77",
            message_timestamp=1_767_225_600_000,
        )

    def test_a_signed_delayed_flush_is_accepted(self) -> None:
        enc = self.enc()
        delayed = self.flush(dq_name(QUEUE), eta=1_767_225_605_000)
        decoded = _decode(enc, enc.encode(delayed.asdict()))
        assert (decoded.actor_name, decoded.kwargs) == (delayed.actor_name, delayed.kwargs)

    def test_a_plain_body_naming_the_flush_is_refused(self) -> None:
        plain = orjson.dumps({"type": "sfsync.signup_flush", "account_id": "acc_1", "id": "x1"})
        assert self.enc().decode(plain)["actor_name"] == INVALID_ACTOR

    def test_without_it_listed_a_signed_flush_is_refused(self) -> None:
        signed = self.enc().encode(self.flush().asdict())
        assert encoder().decode(signed)["actor_name"] == INVALID_ACTOR
