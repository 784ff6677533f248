"""The worker's dramatiq encoder: plain contract JSON in, signed envelopes for its own retries.

Publishers send `{"type": "sync.requested", ...}` and never learn dramatiq's envelope. An
envelope read from the queue could set options that run code paths we never use (`throws`,
`pipe_target`, callbacks), so the only envelopes accepted are the ones this worker wrote:
Retries' re-enqueues and the delay queue's messages. `encode` signs them (HMAC-SHA256 over
the exact inner JSON text, key derived from the first token encryption key, any configured
key verifies, so a key rotation does not refuse retries in flight) and keeps only the
options our middleware writes; `traceback` is dropped (exception text may hold personal
data, and nothing reads it).

Everything else becomes a message for the invalid-message actor with a specific reason and
the body kept for the dead-letter record (as JSON when Postgres can store it, else as
bytes), so nothing is dropped unrecorded and no body reaches dramatiq's own error lines.
Every step is linear in the body's size, and bodies over the contract's 1 MiB are not read.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from dramatiq import Message
from dramatiq.common import dq_name
from dramatiq.encoder import Encoder, MessageData

from sfsync.domain.errors import PermanentFailure
from sfsync.domain.messages import is_identifier

INVALID_ACTOR = "sfsync.invalid_message"
MAX_BODY_BYTES = 1 << 20  # the contract's size cap
MAX_KEPT_BYTES = 64 << 10  # bytes kept of a body Postgres cannot store as JSON
MAX_DEPTH = 32  # contract messages are flat; deeper JSON is refused (and kept as bytes)
ENVELOPE_FIELDS = frozenset(field.name for field in dataclasses.fields(Message))
SIGNED_FIELDS = frozenset({"sfsync_envelope", "sig"})
FOREIGN_ENVELOPE = (
    "dramatiq envelope from outside the worker refused; publish the plain contract JSON"
)
BAD_SIGNATURE = (
    "envelope signature does not verify (not written by this worker);"
    " publish the plain contract JSON"
)
NUL_CHARACTER = "body has a NUL character (\\u0000), which Postgres cannot store"
_HKDF_INFO = b"sfsync queue envelope signature v1"


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _millis(value: Any) -> bool:
    return type(value) in (int, float) and value >= 0


# The options dramatiq writes on our path: Retries (`retries`, `requeue_timestamp`) and the
# broker's delay (`eta`, on the delay queue only). `traceback` is dropped on purpose.
OPTIONS: dict[str, Callable[[Any], bool]] = {"retries": _count, "requeue_timestamp": _count}
DELAY_OPTIONS = {**OPTIONS, "eta": _millis}


@attrs.frozen
class Refused:
    """A body the worker will not run, with what the dead-letter record keeps of it.

    `raw` is None when `body` is the parsed JSON (Postgres can store it); otherwise `raw`
    holds the first MAX_KEPT_BYTES bytes received. The repr shows no body.
    """

    reason: str
    size: int | None  # of the bytes received (None: only the decoded message was at hand)
    sha256: str | None
    body: Any = attrs.field(default=None, repr=False)
    raw: bytes | None = attrs.field(default=None, repr=False)


class EnvelopeSigner:
    """HMAC-SHA256 under keys derived (HKDF) from the token encryption keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise PermanentFailure(
                "the worker signs its retries with SFSYNC_ENCRYPTION_KEYS: set at least one",
                code="invalid_encryption_key",
            )
        self._keys = [_derive(key) for key in keys]

    def sign(self, inner: bytes) -> str:
        return hmac.new(self._keys[0], inner, hashlib.sha256).hexdigest()

    def verify(self, inner: bytes, sig: Any) -> bool:
        if not isinstance(sig, str) or len(sig) != 64 or not sig.isascii():
            return False
        return any(
            hmac.compare_digest(hmac.new(key, inner, hashlib.sha256).hexdigest(), sig)
            for key in self._keys
        )


def _derive(key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return hkdf.derive(base64.urlsafe_b64decode(key))


class ContractEncoder(Encoder):
    """`message_types`: the contract types publishers send (each its actor's name);
    `internal`: actors whose messages only the worker writes (signed, never plain)."""

    def __init__(
        self,
        queue_name: str,
        message_types: frozenset[str],
        keys: Sequence[str],
        internal: frozenset[str] = frozenset(),
    ):
        self.queue_name = queue_name
        self.delay_queue = dq_name(queue_name)
        self.message_types = message_types
        self.signed_actors = message_types | internal
        self.signer = EnvelopeSigner(keys)

    def encode(self, data: MessageData) -> bytes:
        options = data["options"]
        kept = {name: options[name] for name in DELAY_OPTIONS if name in options}
        inner = orjson.dumps({**data, "options": kept})
        return orjson.dumps({"sfsync_envelope": inner.decode(), "sig": self.signer.sign(inner)})

    def decode(self, data: bytes) -> MessageData:
        try:
            return self._decode(bytes(data))
        except Exception as err:  # never drop a message unrecorded, whatever went wrong
            return self._refuse(bytes(data), f"body could not be decoded ({type(err).__name__})")

    def _decode(self, data: bytes) -> MessageData:
        if len(data) > MAX_BODY_BYTES:
            return self._refuse(
                data, f"body is {len(data):,} bytes; the contract allows at most {MAX_BODY_BYTES:,}"
            )
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as err:
            return self._refuse(data, _not_json(data, err))
        problem = _unstorable(data, parsed)
        if problem is not None:
            return self._refuse(data, problem)
        if not isinstance(parsed, dict):
            return self._refuse(data, f"body is {_kind(parsed)}, not an object", parsed, True)
        if parsed.keys() & SIGNED_FIELDS:
            return self._open(data, parsed)
        if parsed.keys() & ENVELOPE_FIELDS:
            return self._refuse(data, FOREIGN_ENVELOPE, parsed, True)
        kind = parsed.get("type")
        actor = kind if isinstance(kind, str) and kind in self.message_types else INVALID_ACTOR
        return self._wrap(actor, {"body": parsed}, parsed.get("id"))

    def _open(self, data: bytes, parsed: dict[str, Any]) -> MessageData:
        inner = parsed.get("sfsync_envelope")
        if (
            parsed.keys() != SIGNED_FIELDS
            or not isinstance(inner, str)
            or not self.signer.verify(inner.encode(), parsed.get("sig"))
        ):
            return self._refuse(data, BAD_SIGNATURE, parsed, True)
        fields = orjson.loads(inner)
        problem = self._envelope_problem(fields)
        if problem is not None:
            reason = f"signed envelope holds {problem} the worker never writes"
            return self._refuse(data, reason, parsed, True)
        return fields

    def _envelope_problem(self, fields: Any) -> str | None:
        if not isinstance(fields, dict) or fields.keys() != ENVELOPE_FIELDS:
            return "fields"
        queue, kwargs, options = fields["queue_name"], fields["kwargs"], fields["options"]
        if queue not in (self.queue_name, self.delay_queue):
            return "a queue"
        if fields["actor_name"] not in self.signed_actors or fields["args"] != []:
            return "an actor or arguments"
        if not (isinstance(kwargs, dict) and kwargs.keys() == {"body"}):
            return "arguments"
        if not isinstance(kwargs["body"], dict) or not is_identifier(fields["message_id"]):
            return "a body or message id"
        if not _count(fields["message_timestamp"]):
            return "a timestamp"
        allowed = DELAY_OPTIONS if queue == self.delay_queue else OPTIONS
        if not isinstance(options, dict) or not all(
            name in allowed and allowed[name](value) for name, value in options.items()
        ):
            return "options"
        if queue == self.delay_queue and "eta" not in options:
            return "a delay without eta"
        return None

    def _refuse(
        self, data: bytes, reason: str, parsed: Any = None, storable: bool = False
    ) -> MessageData:
        refused = Refused(
            reason=reason,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            body=parsed if storable else None,
            raw=None if storable else data[:MAX_KEPT_BYTES],
        )
        message_id = parsed.get("id") if storable and isinstance(parsed, dict) else None
        return self._wrap(INVALID_ACTOR, {"refused": refused}, message_id)

    def _wrap(self, actor: str, kwargs: dict[str, Any], message_id: Any = None) -> MessageData:
        return {
            "queue_name": self.queue_name,
            "actor_name": actor,
            "args": [],
            "kwargs": kwargs,
            "options": {},
            # on every log line of the message: an id from the body only when it is one
            "message_id": message_id if is_identifier(message_id) else str(uuid.uuid4()),
            "message_timestamp": int(time.time() * 1000),
        }


def _not_json(data: bytes, err: orjson.JSONDecodeError) -> str:
    """Why orjson refused `data`, in words an operator can act on (no body content)."""
    if not data.strip():
        return "body is empty"
    if b"\x00" in data:
        return "body has a raw NUL byte, which JSON does not allow"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"body is not valid UTF-8 (byte {bad.start})"
    if "depth" in err.msg:
        return f"body is nested more than {MAX_DEPTH} levels deep"
    if "infinity" in err.msg:
        return "body has a number too large for a double (such as 1e999)"
    if "surrogate" in err.msg:
        return "body has a lone surrogate escape (such as \\ud800), which is not text"
    near = text[max(err.pos - 1, 0) : err.pos + 9]
    if "NaN" in near or "Infinity" in near:
        return "body is not valid JSON: NaN, Infinity and -Infinity are not JSON"
    return f"body is not valid JSON (at character {err.pos}: {err.msg})"


def _unstorable(data: bytes, value: Any) -> str | None:
    """Why Postgres' jsonb would refuse `value` (NUL characters, depth), else None."""
    # A NUL can only come from a \u0000 escape, and depth needs brackets: most bodies
    # are cleared by two scans of their bytes, without walking what they parsed to.
    if b"\\u0000" not in data and data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return None
    stack = [(value, 0)] if type(value) in (str, dict, list) else []
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return NUL_CHARACTER
            continue
        if depth >= MAX_DEPTH:
            return f"body is nested more than {MAX_DEPTH} levels deep"
        if isinstance(item, dict):
            if any("\x00" in key for key in item):
                return NUL_CHARACTER
            item = item.values()
        for member in item:
            if type(member) in (str, dict, list):
                stack.append((member, depth + 1))
    return None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | float):
        return "a JSON number"
    if isinstance(value, str):
        return "a JSON string"
    return "JSON null"
