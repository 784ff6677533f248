"""Value formats: datetimes as epoch ms inside, strings on the wire; write coercion."""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sfsync_emulator.errors import ApiError
from sfsync_emulator.fields import Field
from sfsync_emulator.ids import canonical

_EPOCH_ORD = date(1970, 1, 1).toordinal()
_DAYS: dict[int, str] = {}
DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:?\d{2})$"
)
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def format_datetime(ms: int, zone: str = "+0000") -> str:
    """`2024-01-01T00:00:00.000+0000` (REST) or, with zone='Z', the Bulk CSV form."""
    secs, milli = divmod(ms, 1000)
    day, sec = divmod(secs, 86400)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = date.fromordinal(_EPOCH_ORD + day).isoformat() + "T"
    hour, rest = divmod(sec, 3600)
    minute, sec = divmod(rest, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{sec:02d}.{milli:03d}{zone}"


def parse_datetime(text: str) -> int | None:
    """Epoch ms of an ISO datetime with Z / ±HH:MM / ±HHMM and 0–6 fractional digits."""
    m = DATETIME_RE.match(text)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        days = date(int(y), int(mo), int(d)).toordinal() - _EPOCH_ORD
    except ValueError:
        return None
    if int(h) > 23 or int(mi) > 59 or int(s) > 59:
        return None
    ms = ((days * 24 + int(h)) * 60 + int(mi)) * 60_000 + int(s) * 1000
    ms += int((frac or "0").ljust(3, "0")[:3])
    if zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        ms += sign * (int(digits[:2]) * 60 + int(digits[2:])) * 60_000
    return ms


def valid_date(text: str) -> bool:
    if not DATE_RE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _bad(f: Field, value: Any) -> ApiError:
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {f.type} from value {value!r} for field {f.name}",
    )


def _to_scale(f: Field, value: Any) -> float:
    """The number as Salesforce stores it: rounded half up to the field's scale."""
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        raise _bad(f, value) from None
    if not exact.is_finite():
        raise _bad(f, value)
    if f.precision:
        exact = exact.quantize(Decimal(1).scaleb(-f.scale), rounding=ROUND_HALF_UP)
    return float(exact)


def _in_range(f: Field, number: float, digits: int) -> Any:
    """NUMBER_OUTSIDE_VALID_RANGE when the integer part has more digits than the field."""
    if digits > 0 and abs(number) >= 10**digits:
        raise ApiError(
            400,
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"{f.label}: value outside of valid range on numeric field: {number}",
            [f.name],
        )
    return number


def coerce(f: Field, value: Any) -> Any:
    """A JSON or CSV input value as stored, or ApiError (reference §3.3 codes)."""
    if isinstance(value, str) and value == "" and f.type != "boolean":
        value = None
    if value is None:
        if f.type == "boolean":
            return False
        if not f.nillable:
            raise ApiError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{f.name}]", [f.name]
            )
        return None
    t = f.type
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise _bad(f, value)
    if t in ("int", "double", "currency", "percent"):
        if isinstance(value, bool):
            raise _bad(f, value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _bad(f, value) from None
        if t == "int":
            if not number.is_integer():
                raise _bad(f, value)
            return _in_range(f, int(number), f.digits)
        return _in_range(f, _to_scale(f, value), f.precision - f.scale)
    if not isinstance(value, str):
        if isinstance(value, (dict, list)):
            raise _bad(f, value)
        value = str(value).lower() if isinstance(value, bool) else str(value)
    if t == "datetime":
        ms = parse_datetime(value)
        if ms is None:
            raise _bad(f, value)
        return ms
    if t == "date":
        if not (valid_date(value) or parse_datetime(value) is not None):
            raise _bad(f, value)
        return value[:10]
    if t in ("reference", "id"):
        cid = canonical(value)
        if cid is None:
            raise ApiError(
                400, "MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [f.name]
            )
        return cid
    if f.length and len(value) > f.length:
        raise ApiError(
            400,
            "STRING_TOO_LONG",
            f"{f.label}: data value too large: {value[:50]} (max length={f.length})",
            [f.name],
        )
    if t == "email" and not EMAIL_RE.match(value):
        raise ApiError(
            400, "INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {value}", [f.name]
        )
    if f.restricted and t in ("picklist", "multipicklist"):
        for item in value.split(";") if t == "multipicklist" else [value]:
            if item not in f.picklist:
                raise ApiError(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{f.label}: bad value for restricted picklist field: {item}",
                    [f.name],
                )
    return value
