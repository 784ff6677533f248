"""Whether an attribute value fits a Contact field, and the JSON value to send if it does.

Checked before anything is written (the preflight), so a value Salesforce would refuse is
reported by field and code instead of failing its record. `canonical` converts by type
only (for comparing values, Salesforce's included); `fit_value` also checks the field's
limits (length, restricted picklist values, precision and scale).

Wire values are JSON-native (str, bool, int, float, None), so they can be stored as the
last acknowledged values and compared as they are: a number is an int when it is whole,
otherwise the float whose shortest form is exactly its decimal digits.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import attrs

from sfsync.domain.coercion import (
    DATE_TEXT,
    ID_TYPES,
    INT_LIMITS,
    INTEGER_TYPES,
    NUMBER_TYPES,
    SALESFORCE_ID_TEXT,
    STRING_TYPES,
    UNSENDABLE,
    format_datetime,
)
from sfsync.domain.model import FieldInfo, FieldType

Wire = str | bool | int | float | None


class Misfit(enum.StrEnum):
    """Why one value cannot be written to its field (the report's code)."""

    TYPE_MISMATCH = "type_mismatch"
    NO_TIME_ZONE = "no_time_zone"  # a date-time without an offset: never guess a zone
    NOT_A_DATE = "not_a_date"  # a date-time with a time of day, for a date field
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"  # more whole digits than the field holds
    TOO_MANY_DECIMALS = "too_many_decimals"  # more decimal places than the field's scale
    TOO_LONG = "too_long"
    INVALID_CHARACTERS = "invalid_characters"  # control characters Salesforce refuses
    NOT_IN_PICKLIST = "not_in_picklist"
    MULTIPICKLIST_VALUE_NOT_ALLOWED = "multipicklist_value_not_allowed"
    REQUIRED = "required"  # no value, for a field that cannot be blank
    UNSUPPORTED_TYPE = "unsupported_type"


@attrs.frozen
class Fits:
    wire: Wire


@attrs.frozen
class DoesNotFit:
    misfit: Misfit


ValueFit = Fits | DoesNotFit


class _Refused(Exception):
    def __init__(self, misfit: Misfit) -> None:
        self.misfit = misfit


MAX_DIGITS = 18  # Salesforce's largest number precision
_TEXT_TYPES = STRING_TYPES | {FieldType.MULTIPICKLIST}


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Refused(Misfit.TYPE_MISMATCH)
    if UNSENDABLE.search(value):
        raise _Refused(Misfit.INVALID_CHARACTERS)
    return value


def _string(field: FieldInfo, value: Any) -> str | None:
    text = _text(value)  # empty or only white space: null, as an import reads it back
    return text if text and not text.isspace() else None


def _multipicklist(field: FieldInfo, value: Any) -> str | None:
    if not isinstance(value, list | tuple):
        raise _Refused(Misfit.TYPE_MISMATCH)
    items = [_text(item) for item in value]
    if any(not item.strip() or ";" in item for item in items):
        raise _Refused(Misfit.MULTIPICKLIST_VALUE_NOT_ALLOWED)
    # Order carries no meaning (Salesforce keeps its own), so the picklist's order is
    # canonical and one selection always compares equal to itself.
    order = _picklist(field.picklist_values)
    unique = sorted(dict.fromkeys(items), key=lambda item: order.get(item, len(order)))
    return ";".join(unique) or None  # an empty selection clears the field


def _boolean(field: FieldInfo, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Refused(Misfit.TYPE_MISMATCH)  # never "true", 1 or "yes"
    return value


def _decimal(value: Any) -> Decimal:
    """A number as its exact decimal digits; a float by its shortest form (0.1 is 0.1)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _Refused(Misfit.TYPE_MISMATCH)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Refused(Misfit.NOT_FINITE)
        return Decimal(repr(value))
    if isinstance(value, Decimal) and not value.is_finite():
        raise _Refused(Misfit.NOT_FINITE)
    return Decimal(value)


def _number_wire(number: Decimal) -> int | float:
    if number == number.to_integral_value():
        return int(number)
    as_float = float(number)
    if Decimal(repr(as_float)) != number:  # more digits than a JSON number carries exactly
        raise _Refused(Misfit.OUT_OF_RANGE)
    return as_float


def _number(field: FieldInfo, value: Any) -> int | float:
    return _number_wire(_decimal(value))


def _integer(field: FieldInfo, value: Any) -> int:
    number = _decimal(value)
    if number != number.to_integral_value():
        raise _Refused(Misfit.TOO_MANY_DECIMALS)
    if abs(number) >= INT_LIMITS[field.type]:
        raise _Refused(Misfit.OUT_OF_RANGE)
    return int(number)


def _parse(value: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(value)
    except ValueError:
        raise _Refused(Misfit.TYPE_MISMATCH) from None


def _date(field: FieldInfo, value: Any) -> str:
    """YYYY-MM-DD of the day as written, never shifted through a time zone: a date-time
    at midnight (at any offset, stored or not as ISO text) is that calendar day."""
    if isinstance(value, str):
        value = _parse(value, date.fromisoformat if DATE_TEXT.fullmatch(value) else _aware)
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise _Refused(Misfit.NOT_A_DATE)
        value = value.date()  # its own wall date, not UTC's
    if not isinstance(value, date):
        raise _Refused(Misfit.TYPE_MISMATCH)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.utcoffset() is None:
        raise _Refused(Misfit.NO_TIME_ZONE)
    return value


def _datetime(field: FieldInfo, value: Any) -> str:
    if isinstance(value, str):
        value = _parse(value, _aware)
    if not isinstance(value, datetime):
        raise _Refused(Misfit.TYPE_MISMATCH)  # a date alone: midnight in which zone?
    if value.utcoffset() is None:
        raise _Refused(Misfit.NO_TIME_ZONE)
    try:
        return format_datetime(value)  # UTC, milliseconds: 2024-01-01T00:00:00.000+0000
    except OverflowError:
        raise _Refused(Misfit.OUT_OF_RANGE) from None


def _time(field: FieldInfo, value: Any) -> str:
    if isinstance(value, str):
        value = _parse(value.removesuffix("Z"), time.fromisoformat)
    if not isinstance(value, time) or value.tzinfo is not None:
        raise _Refused(Misfit.TYPE_MISMATCH)
    return f"{value:%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _id(field: FieldInfo, value: Any) -> str:
    if not isinstance(value, str) or not SALESFORCE_ID_TEXT.fullmatch(value):
        raise _Refused(Misfit.TYPE_MISMATCH)
    return value


_CANONICAL: dict[FieldType, Callable[[FieldInfo, Any], Wire]] = {
    **dict.fromkeys(STRING_TYPES, _string),
    **dict.fromkeys(INTEGER_TYPES, _integer),
    **dict.fromkeys(NUMBER_TYPES, _number),
    **dict.fromkeys(ID_TYPES, _id),
    FieldType.MULTIPICKLIST: _multipicklist,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.TIME: _time,
}


def _to_wire(field: FieldInfo, value: Any) -> Wire:
    convert = _CANONICAL.get(field.type)
    if convert is None:
        raise _Refused(Misfit.UNSUPPORTED_TYPE)
    wire = None if value is None else convert(field, value)
    if wire is None and not field.nillable:
        raise _Refused(Misfit.REQUIRED)
    return wire


def canonical(field: FieldInfo, value: Any) -> ValueFit:
    """The wire form of `value` by the field's type alone, without its limits.

    Accepts typed attribute values and their stored JSON form alike (ISO text for dates,
    date-times and times), so two forms of one value give one wire value.
    """
    try:
        return Fits(_to_wire(field, value))
    except _Refused as refused:
        return DoesNotFit(refused.misfit)


@functools.lru_cache(maxsize=256)
def _picklist(values: tuple[str, ...]) -> dict[str, int]:
    """A picklist's values by their position, made once per picklist, not once per value."""
    return {name: i for i, name in enumerate(values)}


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # Salesforce counts as Java does


def _check_limits(field: FieldInfo, wire: Wire) -> None:
    if isinstance(wire, str) and field.type in _TEXT_TYPES:
        restricted = field.restricted_picklist
        if field.type is FieldType.PICKLIST and restricted:
            if wire not in _picklist(field.picklist_values):
                raise _Refused(Misfit.NOT_IN_PICKLIST)
        if field.type is FieldType.MULTIPICKLIST and restricted:
            if not set(wire.split(";")) <= _picklist(field.picklist_values).keys():
                raise _Refused(Misfit.MULTIPICKLIST_VALUE_NOT_ALLOWED)
        if field.length and _utf16_length(wire) > field.length:
            raise _Refused(Misfit.TOO_LONG)
    if isinstance(wire, int | float) and field.type in NUMBER_TYPES:
        _check_digits(field, Decimal(repr(wire)).normalize())


def _check_digits(field: FieldInfo, number: Decimal) -> None:
    """Whole digits within precision - scale, decimals within scale (when known)."""
    whole_digits = max(number.adjusted() + 1, 0)
    if whole_digits > (field.precision or MAX_DIGITS) - field.scale:
        raise _Refused(Misfit.OUT_OF_RANGE)
    exponent = number.as_tuple().exponent
    if field.precision and isinstance(exponent, int) and -exponent > field.scale:
        raise _Refused(Misfit.TOO_MANY_DECIMALS)  # Salesforce would round it


def fit_value(field: FieldInfo, value: Any) -> ValueFit:
    """The JSON value that writes `value` to `field`, or why it cannot be written.

    None clears the field (refused if it cannot be blank). A number with more decimal
    places than the field's scale is refused rather than rounded, so the value read back
    after a push is the value pushed.
    """
    try:
        wire = _to_wire(field, value)
        _check_limits(field, wire)
    except _Refused as refused:
        return DoesNotFit(refused.misfit)
    return Fits(wire)
