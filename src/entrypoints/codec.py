"""cattrs at the edge: contract JSON <-> message classes; errors name fields, never values."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError

from sfsync.domain.errors import InvalidMessage
from sfsync.domain.messages import CandidateSignedUp, Scope, SyncRequested, Trigger

T = TypeVar("T")
MESSAGE_TYPES: dict[str, type[Any]] = {
    "sync.requested": SyncRequested,
    "candidate.signed_up": CandidateSignedUp,
}

converter = cattrs.Converter(forbid_extra_keys=False)


def _datetime(value: Any, _: type) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("expected an ISO 8601 timestamp such as 2026-11-27T18:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a time zone (Z or +00:00)")
    return parsed


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected a whole number")
    return value


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
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
        raise ValueError(f"expected one of {[member.value for member in cls]}") from None


def _reasons(err: BaseException) -> list[str]:
    if isinstance(err, ClassValidationError):
        return cattrs.transform_error(err, format_exception=_describe)
    if isinstance(err, ForbiddenExtraKeysError):
        return [f"unexpected fields: {sorted(err.extra_fields)}"]
    return [str(err)]


def _describe(exc: BaseException, _: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    return str(exc) or type(exc).__name__


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
    cls = MESSAGE_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidMessage(f"unknown message type; expected one of {sorted(MESSAGE_TYPES)}")
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, ForbiddenExtraKeysError, ValueError, TypeError) as err:
        # attrs validators raise plain ValueError outside cattrs' error group
        raise InvalidMessage(f"invalid {kind} message: " + "; ".join(_reasons(err))) from None
