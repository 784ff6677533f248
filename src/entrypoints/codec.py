"""The edge of the contract: a body is checked against its JSON Schema (validation.py), then
structured by cattrs into a message class; errors name fields and rules, never values.

`sync_request` builds the JSON another service would send (the CLI, the demo, benchmarks).

A reason is built only from the schema (validation.py), texts we wrote (InvalidField, raised by
our structure hooks and the messages' validators) and field paths; any other exception shows
as its kind.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError

from sfsync.domain.errors import InvalidMessage
from sfsync.domain.messages import (
    CandidateSignedUp,
    InvalidField,
    Scope,
    SyncRequested,
    Trigger,
)
from sfsync.entrypoints.validation import parse_timestamp, problems

T = TypeVar("T")
MESSAGE_TYPES: dict[str, type[Any]] = {
    "sync.requested": SyncRequested,
    "candidate.signed_up": CandidateSignedUp,
}

converter = cattrs.Converter(forbid_extra_keys=False)


def _datetime(value: Any, _: type) -> datetime:
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidField("expected a timestamp with a time zone, such as 2026-11-27T18:00:00Z")
    return parsed


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise InvalidField("expected true or false")
    return value


def _strict_int(value: Any, _: type) -> int:
    # 1.0 is the number 1 to JSON Schema (and to JavaScript): accepted, as the schemas do
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField("expected a whole number")
    return value


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise InvalidField("expected a string")
    return value


converter.register_structure_hook(datetime, _datetime)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(str, _strict_str)
for _enum in (Scope, Trigger):
    converter.register_structure_hook(_enum, lambda value, cls: _enum_value(value, cls))


def _enum_value(value: Any, cls: type[Any]) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise InvalidField(f"expected one of {[member.value for member in cls]}") from None


def _reasons(err: BaseException) -> list[str]:
    if isinstance(err, ClassValidationError):
        return cattrs.transform_error(err, format_exception=_describe)
    return [_describe(err, None)]


def _describe(exc: BaseException, _: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, InvalidField):
        return str(exc)
    return f"invalid value ({type(exc).__name__})"


def decode(body: bytes | str | dict[str, Any]) -> SyncRequested | CandidateSignedUp:
    """Parse a contract message; raise InvalidMessage with a reason a human can act on."""
    if isinstance(body, dict):
        data = body
    else:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidMessage(f"body is not valid JSON ({type(err).__name__})") from None
    if not isinstance(data, dict):
        raise InvalidMessage("body must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        raise InvalidMessage(f"unknown message type; expected one of {sorted(MESSAGE_TYPES)}")
    cls = MESSAGE_TYPES[kind]
    broken = problems(kind, data)
    if broken:
        raise InvalidMessage(f"invalid {kind} message: " + "; ".join(broken))
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, ValueError, TypeError) as err:
        # attrs validators raise plain ValueError outside cattrs' error group
        raise InvalidMessage(f"invalid {kind} message: " + "; ".join(_reasons(err))) from None


def sync_request(
    account_id: str,
    *,
    scope: str = "import",
    full: bool = False,
    candidate_id: str | None = None,
    trigger: str = "manual",
) -> dict[str, object]:
    """A sync.requested message as the web app sends it."""
    return {
        "type": "sync.requested",
        "version": 1,
        "id": str(uuid.uuid4()),
        "requested_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "account_id": account_id,
        "scope": scope,
        "candidate_id": candidate_id,
        "trigger": "candidate_page" if candidate_id else trigger,
        "full_resync": full,
    }
