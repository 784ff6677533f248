"""A dramatiq encoder that also accepts the plain contract JSON other services publish.

Publishers send `{"type": "sync.requested", ...}` to our queue and never learn dramatiq's
envelope. Bodies that are already dramatiq envelopes (our own retries) pass through.
Anything else, even bytes that are not JSON, becomes a message for the invalid-message
actor, so it is dead-lettered with a reason instead of failing inside the consumer (where
dramatiq would log the raw body, which may hold personal data).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from dramatiq.encoder import JSONEncoder, MessageData

INVALID_ACTOR = "sfsync.invalid_message"
ENVELOPE_KEYS = {"queue_name", "actor_name", "args", "kwargs", "options"}
MAX_KEPT_BYTES = 64_000


class ContractEncoder(JSONEncoder):
    def __init__(self, queue_name: str, message_types: frozenset[str]) -> None:
        self.queue_name = queue_name
        self.message_types = message_types

    def decode(self, data: bytes) -> MessageData:
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            return self._wrap(
                INVALID_ACTOR,
                {
                    "error": f"body is not valid JSON ({type(err).__name__})",
                    "raw": data[:MAX_KEPT_BYTES].decode("utf-8", "replace"),
                },
            )
        if isinstance(parsed, dict) and ENVELOPE_KEYS <= parsed.keys():
            return parsed
        kind = parsed.get("type") if isinstance(parsed, dict) else None
        actor = kind if isinstance(kind, str) and kind in self.message_types else INVALID_ACTOR
        message_id = parsed.get("id") if isinstance(parsed, dict) else None
        return self._wrap(actor, {"body": parsed}, message_id)

    def _wrap(self, actor: str, kwargs: dict[str, Any], message_id: Any = None) -> MessageData:
        if not isinstance(message_id, str) or not 0 < len(message_id) <= 200:
            message_id = str(uuid.uuid4())
        return {
            "queue_name": self.queue_name,
            "actor_name": actor,
            "args": [],
            "kwargs": kwargs,
            "options": {},
            "message_id": message_id,
            "message_timestamp": int(time.time() * 1000),
        }
