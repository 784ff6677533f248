"""Values converted between Salesforce's wire forms and attribute values, per describe type.

Inbound values are REST JSON values or Bulk CSV strings; a blank string means "no value".
Outbound values are always the REST JSON form. Errors name the field and its type but never
echo the value: it may be personal data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from sfsync.domain.errors import CoercionError
from sfsync.domain.model import FieldInfo, FieldType

STRING_TYPES = frozenset(
    {
        FieldType.STRING,
        FieldType.TEXTAREA,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.PICKLIST,
        FieldType.COMBOBOX,
    }
)
INTEGER_TYPES = frozenset({FieldType.INT, FieldType.LONG})
NUMBER_TYPES = frozenset({FieldType.DOUBLE, FieldType.CURRENCY, FieldType.PERCENT})
ID_TYPES = frozenset({FieldType.ID, FieldType.REFERENCE})

_TRUE_WORDS = frozenset({"true", "1"})
_FALSE_WORDS = frozenset({"false", "0"})
INT_LIMITS = {FieldType.INT: 2**31, FieldType.LONG: 2**63}
_INT = re.compile(r"[+-]?\d{1,19}", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?", re.ASCII)
DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)(Z|[+-]\d{2}:?\d{2})", re.ASCII
)
_TIME = re.compile(r"(\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)Z?", re.ASCII)
SALESFORCE_ID_TEXT = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?", re.ASCII)
# Characters Salesforce (XML 1.0 underneath) refuses: C0 controls but tab/newline/CR,
# lone surrogates and the two non-characters.
UNSENDABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def is_flag_set(raw: Any) -> bool:
    """Whether a checkbox read off the wire is ticked: True, "true"/"TRUE", "1" or 1.

    Absent, None, blank and anything unrecognised count as not ticked.
    """
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return raw == 1
    return isinstance(raw, str) and raw.strip().lower() in _TRUE_WORDS


def _fail(field: FieldInfo, expected: str) -> CoercionError:
    return CoercionError(f"field {field.name} ({field.type}): expected {expected}")


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


# --- inbound: wire -> value ---------------------------------------------------------------


def _in_string(field: FieldInfo, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _fail(field, "a string")
    return raw


def _in_multipicklist(field: FieldInfo, raw: Any) -> list[str]:
    return _in_string(field, raw).split(";")


def _in_boolean(field: FieldInfo, raw: Any) -> bool:
    if isinstance(raw, int) and raw in (0, 1):  # bool is an int too
        return bool(raw)
    word = raw.strip().lower() if isinstance(raw, str) else None
    if word in _TRUE_WORDS or word in _FALSE_WORDS:
        return word in _TRUE_WORDS
    raise _fail(field, "true or false")


def _in_integer(field: FieldInfo, raw: Any) -> int:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        raw = int(text) if _INT.fullmatch(text) else raw
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _fail(field, "a whole number")
    if abs(raw) >= INT_LIMITS[field.type]:
        raise _fail(field, "a whole number in range")
    return raw


def _in_number(field: FieldInfo, raw: Any) -> float:
    if isinstance(raw, str):
        text = raw.strip()
        raw = float(text) if _NUMBER.fullmatch(text) else raw
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _fail(field, "a number")
    value = float(raw)
    if not math.isfinite(value):
        raise _fail(field, "a finite number")
    return value


def _in_date(field: FieldInfo, raw: Any) -> date:
    text = raw.strip() if isinstance(raw, str) else ""
    try:
        if DATE_TEXT.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise _fail(field, "a date YYYY-MM-DD")


def _in_datetime(field: FieldInfo, raw: Any) -> datetime:
    text = raw.strip() if isinstance(raw, str) else ""
    try:
        if _DATETIME.fullmatch(text):  # the shape; fromisoformat reads Z, +0000 and +00:00
            return datetime.fromisoformat(text)
    except ValueError:
        pass
    raise _fail(field, "a date-time with a time zone")


def _in_time(field: FieldInfo, raw: Any) -> time:
    match = _TIME.fullmatch(raw.strip()) if isinstance(raw, str) else None
    try:
        if match:
            return time.fromisoformat(match[1])
    except ValueError:
        pass
    raise _fail(field, "a time HH:MM:SS")


def _in_id(field: FieldInfo, raw: Any) -> str:
    if isinstance(raw, str) and SALESFORCE_ID_TEXT.fullmatch(raw.strip()):
        return raw.strip()
    raise _fail(field, "a 15 or 18 character Salesforce Id")


_INBOUND: dict[FieldType, Callable[[FieldInfo, Any], Any]] = {
    **dict.fromkeys(STRING_TYPES, _in_string),
    **dict.fromkeys(INTEGER_TYPES, _in_integer),
    **dict.fromkeys(NUMBER_TYPES, _in_number),
    **dict.fromkeys(ID_TYPES, _in_id),
    FieldType.MULTIPICKLIST: _in_multipicklist,
    FieldType.BOOLEAN: _in_boolean,
    FieldType.DATE: _in_date,
    FieldType.DATETIME: _in_datetime,
    FieldType.TIME: _in_time,
}


SUPPORTED_TYPES = frozenset(_INBOUND)


def _converter(
    table: dict[FieldType, Callable[[FieldInfo, Any], Any]], field: FieldInfo
) -> Callable[[FieldInfo, Any], Any]:
    try:
        return table[field.type]
    except KeyError:
        raise CoercionError(f"field {field.name}: type {field.type} is not supported") from None


def from_salesforce(field: FieldInfo, raw: Any) -> Any:
    """The attribute value of a wire value; None and blank strings give None."""
    convert = _converter(_INBOUND, field)
    return None if _blank(raw) else convert(field, raw)


def reader(field: FieldInfo) -> Callable[[Any], Any]:
    """`from_salesforce` for one field, its converter looked up once. Imports call it for
    every value of every row, so the usual wire values take a short path: text, JSON
    numbers and booleans as they come; anything else takes the general one."""
    convert = _converter(_INBOUND, field)

    def general(raw: Any) -> Any:
        return None if _blank(raw) else convert(field, raw)

    if convert is _in_string:

        def read_text(raw: Any) -> Any:
            if raw.__class__ is str:
                return raw if raw and not raw.isspace() else None
            return general(raw)

        return read_text
    if convert is _in_number:

        def read_number(raw: Any) -> Any:
            if raw.__class__ is float and math.isfinite(raw):
                return raw
            return general(raw)

        return read_number
    if convert is _in_integer:
        limit = INT_LIMITS[field.type]

        def read_integer(raw: Any) -> Any:
            if raw.__class__ is int and -limit < raw < limit:
                return raw
            return general(raw)

        return read_integer
    if convert is _in_boolean:

        def read_boolean(raw: Any) -> Any:
            return raw if raw.__class__ is bool else general(raw)

        return read_boolean
    return general


# --- outbound: value -> REST JSON wire ----------------------------------------------------


def _out_string(field: FieldInfo, value: Any) -> str:
    if not isinstance(value, str) or UNSENDABLE.search(value):
        raise _fail(field, "text without control characters")
    return value


def _out_multipicklist(field: FieldInfo, value: Any) -> str | None:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise _fail(field, "a list of values")
    items = [_out_string(field, item) for item in value]
    if any(item == "" or ";" in item for item in items):
        raise _fail(field, "values that are not blank and hold no ';'")
    return ";".join(items) or None  # an empty selection clears the field


def _out_boolean(field: FieldInfo, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(field, "true or false")
    return value


def _out_integer(field: FieldInfo, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, "a whole number")
    return _in_integer(field, value)  # range check


def _out_number(field: FieldInfo, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(field, "a number")
    return _in_number(field, value)  # finiteness check


def _out_date(field: FieldInfo, value: Any) -> str:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise _fail(field, "a date")
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def format_datetime(value: datetime) -> str:
    """Salesforce's REST form in UTC, milliseconds truncated: 2024-01-01T00:00:00.000+0000."""
    utc = value.astimezone(UTC)
    day = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
    return f"{day}T{utc:%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def _out_datetime(field: FieldInfo, value: Any) -> str:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise _fail(field, "a date-time with a time zone")  # never guess a zone
    try:
        return format_datetime(value)
    except OverflowError:
        raise _fail(field, "a date-time within the year range") from None


def _out_time(field: FieldInfo, value: Any) -> str:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise _fail(field, "a time without a time zone")
    return f"{value:%H:%M:%S}.{value.microsecond // 1000:03d}Z"


_OUTBOUND: dict[FieldType, Callable[[FieldInfo, Any], Any]] = {
    **dict.fromkeys(STRING_TYPES, _out_string),
    **dict.fromkeys(INTEGER_TYPES, _out_integer),
    **dict.fromkeys(NUMBER_TYPES, _out_number),
    **dict.fromkeys(ID_TYPES, _in_id),
    FieldType.MULTIPICKLIST: _out_multipicklist,
    FieldType.BOOLEAN: _out_boolean,
    FieldType.DATE: _out_date,
    FieldType.DATETIME: _out_datetime,
    FieldType.TIME: _out_time,
}


def to_salesforce(field: FieldInfo, value: Any) -> Any:
    """The REST JSON wire value of an attribute value; None clears a nillable field."""
    convert = _converter(_OUTBOUND, field)
    if value is None:
        if not field.nillable:
            raise CoercionError(f"field {field.name} ({field.type}) cannot be blank")
        return None
    return convert(field, value)
