"""The vendor's Contact field classes as a Contact describe, keyed by Salesforce API name.

A field class has no length, precision or write access: those stay unknown (0, not
updateable; vendor mode never writes). Numbers are doubles (currency when so formatted):
a field class does not tell an integer field from a decimal one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sfsync.domain.errors import InvalidFieldName
from sfsync.domain.mapping import validate_field_name
from sfsync.domain.model import ContactSchema, FieldInfo, FieldType

BASE_TYPES = {
    "Id": FieldType.ID,
    "Email": FieldType.EMAIL,
    "FirstName": FieldType.STRING,
    "LastName": FieldType.STRING,
    "Name": FieldType.STRING,
    "IsDeleted": FieldType.BOOLEAN,
    "SystemModstamp": FieldType.DATETIME,
}
_FORMATS = {
    "email": FieldType.EMAIL,
    "phone": FieldType.PHONE,
    "url": FieldType.URL,
    "uuid": FieldType.ID,
}
_TYPES = {
    "date": FieldType.DATE,
    "datetime": FieldType.DATETIME,
    "bool": FieldType.BOOLEAN,
    "boolean": FieldType.BOOLEAN,
    "list": FieldType.MULTIPICKLIST,
}


def schema_from_classes(classes: Iterable[Mapping[str, Any]]) -> ContactSchema:
    """The describe of the field classes that name a field; the base fields always."""
    fields = {name: FieldInfo(name, kind) for name, kind in BASE_TYPES.items()}
    for raw in classes:
        info = field_info(raw)
        if info is not None:
            fields[info.name] = info
    return ContactSchema(fields)


def field_info(raw: Mapping[str, Any]) -> FieldInfo | None:
    try:
        name = validate_field_name(raw.get("remote_key_name"))
    except InvalidFieldName:
        return None  # not a name Salesforce could have given (or none at all)
    return FieldInfo(
        name=name,
        type=field_type(raw),
        nillable=not raw.get("is_required"),
        custom=bool(raw.get("is_custom")),
        picklist_values=_choices(raw),
    )


def field_type(raw: Mapping[str, Any]) -> FieldType:
    kind, form = raw.get("field_type"), raw.get("field_format")
    if kind == "number":
        return FieldType.CURRENCY if form == "currency" else FieldType.DOUBLE
    if kind == "string":
        if _list(raw.get("field_choices")):
            return FieldType.PICKLIST
        return _FORMATS.get(str(form), FieldType.STRING)
    return _TYPES.get(str(kind), FieldType.ANYTYPE)


def _choices(raw: Mapping[str, Any]) -> tuple[str, ...]:
    choices = raw.get("field_choices")
    values = [c.get("value") for c in _list(choices) if isinstance(c, Mapping)]
    if not values:
        item = raw.get("item_schema")
        values = _list(item.get("item_choices")) if isinstance(item, Mapping) else []
    return tuple(v for v in values if isinstance(v, str))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
