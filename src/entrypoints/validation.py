"""The contract's JSON Schemas (`schemas/` in the repository, `sfsync.schemas` installed), and
why a body breaks one, in words that never quote the body.

jsonschema's own messages quote the value they refuse (`'ada@example.com' is not of type
'integer'`), so a reason is built only from where the error is (its path), the rule that
failed (the keyword) and what the schema expects: all of it taken from the schema.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

SCHEMA_PACKAGE = "sfsync.schemas"
MAX_LISTED = 3  # problems named in one reason; the rest are counted
TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

formats = FormatChecker(formats=("uuid",))


def parse_timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp with a time zone (what the worker reads), else None."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@formats.checks("date-time")
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or parse_timestamp(value) is not None


def schema_file(message_type: str, version: int) -> str:
    return f"{message_type}.v{version}.json"


@functools.cache
def validators() -> Mapping[tuple[str, int], Draft202012Validator]:
    """Every schema shipped, by (message type, version): read and checked once a process."""
    found = {}
    for entry in files(SCHEMA_PACKAGE).iterdir():
        if entry.name.endswith(".json"):
            schema = json.loads(entry.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            key = (schema["properties"]["type"]["const"], schema["properties"]["version"]["const"])
            if entry.name != schema_file(*key):
                raise ValueError(f"schema {entry.name} describes {schema_file(*key)}")
            found[key] = Draft202012Validator(schema, format_checker=formats)
    return found


def problems(message_type: str, body: Mapping[str, Any]) -> list[str]:
    """What breaks the schema of `message_type` at the body's version, as reasons; [] if none."""
    versions = sorted(v for kind, v in validators() if kind == message_type)
    version = body.get("version")
    if type(version) is int and version not in versions:
        return [f"unsupported version; this worker speaks version {versions[-1]}"]
    # a version that is no int at all is named by the latest schema's rule for `version`
    validator = validators()[message_type, version if type(version) is int else versions[-1]]
    return _listed(reason for error in validator.iter_errors(body) for reason in describe(error))


def _listed(reasons: Iterable[str]) -> list[str]:
    unique = list(dict.fromkeys(reasons))
    if len(unique) > MAX_LISTED:
        return [*unique[:MAX_LISTED], f"and {len(unique) - MAX_LISTED} more"]
    return unique


def describe(error: ValidationError) -> list[str]:
    """`<path>: <what the schema expects> (<keyword>)`; never the value found."""
    where = path(error.absolute_path)
    keyword, expected = error.validator, error.validator_value
    if keyword == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in expected if name not in present]
        return [f"required field missing @ {where}.{name}" for name in missing]
    title = error.schema.get("title") if isinstance(error.schema, dict) else None
    if keyword == "pattern" and isinstance(title, str):  # says what the pattern stands for
        return [f"{where}: must be {title} ({keyword})"]
    return [f"{where}: {expectation(str(keyword), expected)} ({keyword})"]


def expectation(keyword: str, expected: Any) -> str:
    if keyword == "type":
        kinds = [expected] if isinstance(expected, str) else expected
        return "must be " + " or ".join(TYPE_WORDS.get(kind, kind) for kind in kinds)
    if keyword == "const":
        return f"must be {json.dumps(expected)}"
    if keyword == "enum":
        return f"must be one of {json.dumps(expected)}"
    if keyword == "pattern":
        return f"must match {expected}"
    if keyword == "format" and expected == "date-time":
        return "must be a date-time with a time zone, such as 2026-11-27T18:00:00Z"
    if keyword == "format":
        return f"must be a {expected}"
    if isinstance(expected, bool | int | float | str):
        return f"must meet {keyword} {json.dumps(expected)}"
    return f"must meet the schema's {keyword}"


def path(parts: Iterable[Any]) -> str:
    """`$.counts.skipped`, `$.errors[0]`; a key that is not a plain name shows as `[?]` (keys
    of a body are data too)."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, str) and _NAME.fullmatch(part):
            text += f".{part}"
        else:
            text += "[?]"
    return text
