"""Candidate attributes read from Contact fields: names, validation, values.

Naming rule (product page): snake_case, and a custom field's `__c` suffix becomes `_c`.
A managed-package namespace stays as a prefix: `ns__Score__c` -> `ns_score_c`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

import attrs

from sfsync.domain.coercion import SUPPORTED_TYPES, from_salesforce
from sfsync.domain.errors import (
    CoercionError,
    InvalidAttributeName,
    InvalidFieldName,
    MappingRefused,
)
from sfsync.domain.model import (
    COMPOUND_TYPES,
    AttributeMapping,
    Contact,
    ContactSchema,
    FieldInfo,
    MappingDirection,
)

MAX_ATTRIBUTE_NAME = 63  # Postgres identifier length, so a name can always become a column
MAX_FIELD_NAME = 80

_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*", re.ASCII)
_SEGMENT = r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*"  # no double, leading or trailing "_"
# Standard `MailingCity`; custom `Name__c`; namespaced `ns__Name__c`; `__r`, `__s`, `__pc`...
_FIELD_NAME = re.compile(
    rf"(?:(?:(?P<ns>{_SEGMENT})__)?(?P<name>{_SEGMENT})__(?P<suffix>c|r|s|pc|pr)"
    rf"|(?P<standard>{_SEGMENT}))",
    re.ASCII,
)


def _show(name: object) -> str:
    """A bad name for an error message: quoted, escaped and cut short."""
    if not isinstance(name, str):
        return f"a {type(name).__name__}"
    return repr(name[:MAX_FIELD_NAME]) + ("..." if len(name) > MAX_FIELD_NAME else "")


def validate_attribute_name(name: object) -> str:
    """Return `name` if it is a snake_case attribute name of at most 63 characters."""
    if isinstance(name, str) and len(name) <= MAX_ATTRIBUTE_NAME:
        if _ATTRIBUTE_NAME.fullmatch(name):
            return name
    raise InvalidAttributeName(
        f"attribute name {_show(name)} is not valid: use snake_case (a-z, 0-9, single "
        f"underscores, starting with a letter), at most {MAX_ATTRIBUTE_NAME} characters"
    )


def validate_field_name(api_name: object) -> str:
    """Return `api_name` if it has the shape of a Salesforce field API name."""
    if isinstance(api_name, str) and len(api_name) <= MAX_FIELD_NAME:
        if _FIELD_NAME.fullmatch(api_name):
            return api_name
    raise InvalidFieldName(
        f"{_show(api_name)} is not a Salesforce field API name: use letters, digits and "
        f"single underscores, like MailingCity or Favorite_Color__c"
    )


def _snake(word: str) -> str:
    word = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", word)  # SSNNumber -> SSN_Number
    word = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", word)  # MailingCity -> Mailing_City
    return word.lower()


def attribute_name_for(field_api_name: str) -> str:
    """The default attribute name for a field: `Favorite_Color__c` -> `favorite_color_c`."""
    match = _FIELD_NAME.fullmatch(validate_field_name(field_api_name))
    assert match is not None  # validated above
    parts = [match["ns"], match["name"], match["suffix"], match["standard"]]
    name = "_".join(_snake(part) for part in parts if part)
    if len(name) > MAX_ATTRIBUTE_NAME:
        raise InvalidAttributeName(
            f"field {field_api_name} gives an attribute name longer than "
            f"{MAX_ATTRIBUTE_NAME} characters; map it to a shorter name"
        )
    return name


MAX_SUGGESTIONS = 3


def mappable(field: FieldInfo) -> bool:
    """Whether an attribute can read `field`: a plain, current field of a type we convert."""
    return (
        field.type in SUPPORTED_TYPES
        and field.type not in COMPOUND_TYPES
        and not field.deprecated_and_hidden
    )


def close_names(name: str, names: Iterable[str]) -> tuple[str, ...]:
    """The names most like `name`, ignoring case, best first (difflib's ratio)."""
    by_lower: dict[str, str] = {}
    for candidate in sorted(names):
        by_lower.setdefault(candidate.lower(), candidate)
    found = difflib.get_close_matches(name.lower(), by_lower, n=MAX_SUGGESTIONS, cutoff=0.6)
    return tuple(by_lower[lower] for lower in found)


def did_you_mean(suggestions: tuple[str, ...]) -> str:
    """'; did you mean A, B or C?' to end a refusal, or '' without suggestions."""
    if not suggestions:
        return ""
    *first, last = suggestions
    return f"; did you mean {', '.join(first)} or {last}?" if first else f"; did you mean {last}?"


def _unusable(field: FieldInfo, schema: ContactSchema) -> MappingRefused | None:
    """Why an attribute cannot read `field`, which the describe does hold; None if it can."""
    if field.type in COMPOUND_TYPES:
        parts = schema.components_of(field.name)
        return MappingRefused(
            f"{field.name} is a compound field, which a query cannot read as one value; "
            f"map its components instead: {', '.join(parts) or 'see the Contact object'}",
            code="compound_field",
            suggestions=tuple(p for p in parts if mappable(schema.fields[p])),
        )
    if field.deprecated_and_hidden:
        return MappingRefused(
            f"{field.name} is deprecated and hidden by Salesforce and cannot be mapped",
            code="field_deprecated",
        )
    if field.type not in SUPPORTED_TYPES:
        return MappingRefused(
            f"{field.name} has type {field.type}, which cannot be mapped to an attribute",
            code="unsupported_field_type",
        )
    return None


def _field_for(mapping: AttributeMapping, schema: ContactSchema) -> FieldInfo:
    field = schema.get(mapping.field)
    if field is None:
        lowered = mapping.field.lower()
        field = next((f for f in schema.fields.values() if f.name.lower() == lowered), None)
    if field is None:
        near = close_names(mapping.field, (f.name for f in schema.fields.values() if mappable(f)))
        raise MappingRefused(
            f"the Contact object has no field {mapping.field} visible to the connected user "
            f"(a field hidden by field-level security is left out of the describe)"
            f"{did_you_mean(near)}",
            code="field_missing",
            suggestions=near,
        )
    refusal = _unusable(field, schema)
    if refusal is not None:
        raise refusal
    if field.name != mapping.field:
        raise MappingRefused(
            f"the Contact field is spelt {field.name}, not {mapping.field} (API names are "
            f"case-sensitive here){did_you_mean((field.name,))}",
            code="field_case",
            suggestions=(field.name,),
        )
    return field


def _require_c(name: str, field: str) -> None:
    if not name.endswith("_c"):
        raise InvalidAttributeName(
            f"attribute {name} reads the custom field {field}, so its name must end in _c "
            f"(for example {attribute_name_for(field)})"
        )


def validate_mapping(mapping: AttributeMapping) -> AttributeMapping:
    """The checks that need no org: both names' shapes, and `_c` for a `__c` field."""
    validate_field_name(mapping.field)
    validate_attribute_name(mapping.name)
    if mapping.field.endswith("__c"):
        _require_c(mapping.name, mapping.field)
    return mapping


def check_mapping(mapping: AttributeMapping, schema: ContactSchema) -> FieldInfo:
    """Refuse a mapping that cannot work in this org; return the field it reads.

    The field must be in the describe under exactly this name (a field hidden by
    field-level security is absent), not compound, not deprecated-and-hidden, and of a type
    an attribute can hold; a refusal (`MappingRefused`) names the reason by its code and
    suggests the closest usable names. Checked when a mapping is added (if the account is
    connected) and again by every import.

    Custom fields must map to a name ending in `_c` (the product page's rule, enforced so
    an attribute's origin stays visible); standard fields may use any snake_case name.
    """
    validate_mapping(mapping)
    field = _field_for(mapping, schema)
    if field.custom:
        _require_c(mapping.name, field.name)
    return field


def check_writable(mapping: AttributeMapping, field: FieldInfo) -> None:
    """Refuse an export or two-way mapping whose field the connected user cannot edit
    (`field_not_updateable`: read-only, formula, or edit access withheld). Checked when a
    mapping is added; the import reads such a field all the same."""
    if mapping.direction != MappingDirection.IMPORT and not field.updateable:
        raise MappingRefused(
            f"{field.name} is not updateable by the connected user (read-only, a formula, "
            f"or no edit access), so attribute {mapping.name} cannot be pushed to it; grant "
            f"edit access to the field, or map it with --direction import",
            code="field_not_updateable",
        )


@attrs.frozen
class FieldError:
    """A per-record problem with one mapped value; the message never holds the value."""

    attribute: str
    field: str
    code: str
    message: str


def contact_to_attributes(
    contact: Contact, mappings: Iterable[AttributeMapping], schema: ContactSchema
) -> tuple[dict[str, Any], list[FieldError]]:
    """The attribute values a Contact carries, and one error per value that cannot be read.

    A mapped field missing from `contact.fields` was not read, so its attribute is left out
    (the candidate keeps what it has); a field present with no value gives None.
    """
    attributes: dict[str, Any] = {}
    errors: list[FieldError] = []
    for mapping in mappings:
        try:
            field = check_mapping(mapping, schema)
            if mapping.field in contact.fields:
                attributes[mapping.name] = from_salesforce(field, contact.fields[mapping.field])
        except (InvalidFieldName, InvalidAttributeName, CoercionError) as err:
            errors.append(FieldError(mapping.name, mapping.field, err.code, err.message))
    return attributes, errors
