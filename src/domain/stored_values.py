"""Attribute values in their storage form (Postgres JSONB) and back, typed by their field."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from sfsync.domain.coercion import from_salesforce, reader
from sfsync.domain.errors import CoercionError
from sfsync.domain.model import FieldInfo, FieldType

_PLAIN = frozenset({str, bool, int, type(None)})


def attribute_to_json(value: Any) -> Any:
    """A JSON-safe form of an attribute value; dates, date-times and times become ISO text."""
    if type(value) in _PLAIN:  # the common case first: this runs per value of every row
        return value
    if isinstance(value, date | time):  # a datetime is a date too
        return value.isoformat()
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise CoercionError(f"an attribute value of type {type(value).__name__} cannot be stored")


_ISO_TYPES = frozenset({FieldType.DATE, FieldType.DATETIME, FieldType.TIME})


def stored_reader(field: FieldInfo) -> Callable[[Any], Any]:
    """Wire value -> the JSON form an attribute is stored in: what
    `attribute_to_json(from_salesforce(field, raw))` gives, with the type looked up once."""
    read = reader(field)
    if field.type not in _ISO_TYPES:
        return read  # str, bool, int, finite float, list of str: JSON as they are

    def read_iso(raw: Any) -> Any:
        value = read(raw)
        return None if value is None else value.isoformat()

    return read_iso


def _stored(field: FieldInfo, expected: str) -> CoercionError:
    return CoercionError(f"field {field.name} ({field.type}): expected a stored {expected}")


def _datetime_from_json(field: FieldInfo, data: Any) -> datetime:
    try:
        value = datetime.fromisoformat(data) if isinstance(data, str) else None
    except ValueError:
        value = None
    if value is None or value.utcoffset() is None:
        raise _stored(field, "ISO date-time with a time zone")
    return value


def _time_from_json(field: FieldInfo, data: Any) -> time:
    try:
        if isinstance(data, str):
            return time.fromisoformat(data)
    except ValueError:
        pass
    raise _stored(field, "ISO time")


def _list_from_json(field: FieldInfo, data: Any) -> list[str]:
    if isinstance(data, list) and all(isinstance(item, str) for item in data):
        return list(data)
    raise _stored(field, "list of values")


_FROM_JSON = {
    FieldType.DATETIME: _datetime_from_json,
    FieldType.TIME: _time_from_json,
    FieldType.MULTIPICKLIST: _list_from_json,
}


def attribute_from_json(field: FieldInfo, data: Any) -> Any:
    """The value `attribute_to_json` stored, typed by the field the attribute maps."""
    if data is None:
        return None
    convert = _FROM_JSON.get(field.type)
    return convert(field, data) if convert else from_salesforce(field, data)
