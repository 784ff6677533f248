"""The Contact schema as the running user sees it: fields, hidden fields, read-only fields."""

from __future__ import annotations

import time

from attrs import define, field

from sfsync_emulator.errors import ApiError, invalid_field, not_writable
from sfsync_emulator.fields import (
    KNOWN_TYPES,
    Field,
    seeded_custom_fields,
    standard_fields,
)


@define
class Schema:
    fields: dict[str, Field] = field(factory=dict)
    hidden: set[str] = field(factory=set)
    read_only: set[str] = field(factory=set)
    _lower: dict[str, str] = field(factory=dict)
    modified_ms: int = 0  # last metadata change (fields, security): describe's If-Modified-Since

    @classmethod
    def default(cls) -> Schema:
        schema = cls()
        for f in standard_fields() + seeded_custom_fields():
            schema.add(f)
        return schema

    def add(self, f: Field) -> None:
        if f.type not in KNOWN_TYPES:
            raise ApiError(400, "INVALID_TYPE", f"unknown field type: {f.type}")
        self.fields[f.name] = f
        self._lower[f.name.lower()] = f.name
        self.touch()

    def touch(self) -> None:
        self.modified_ms = int(time.time() * 1000)

    def set_security(self, hidden: list[str], read_only: list[str]) -> None:
        for name in [*hidden, *read_only]:
            if name.lower() not in self._lower:
                raise ApiError(400, "INVALID_FIELD", f"unknown field {name}")
        self.hidden = {self._lower[n.lower()] for n in hidden}
        self.read_only = {self._lower[n.lower()] for n in read_only}
        self.touch()

    def any(self, name: str) -> Field | None:
        """A field by case-insensitive name, hidden or not (admin API)."""
        canonical = self._lower.get(name.lower())
        return None if canonical is None else self.fields[canonical]

    def find(self, name: str) -> Field | None:
        """A field the user can see, by case-insensitive name."""
        canonical = self._lower.get(name.lower())
        if canonical is None or canonical in self.hidden:
            return None
        return self.fields[canonical]

    def get(self, name: str) -> Field:
        f = self.find(name)
        if f is None:
            raise invalid_field(name)
        return f

    def visible(self) -> list[Field]:
        return [f for n, f in self.fields.items() if n not in self.hidden]

    def is_writable(self, f: Field, create: bool = False) -> bool:
        allowed = f.createable if create else f.updateable
        return allowed and f.name not in self.read_only

    def writable(self, name: str, create: bool = False) -> Field:
        """The field to write; INVALID_FIELD if unseen, ..._FOR_INSERT_UPDATE if read-only."""
        f = self.get(name)
        if not self.is_writable(f, create):
            raise not_writable([f.name])
        return f
