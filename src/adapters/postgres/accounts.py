"""Account settings and attribute mappings. Saving settings is what registers an account."""

from __future__ import annotations

import attrs

from sfsync.adapters.postgres.session import Session
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    DeletionBehaviour,
    DuplicatePolicy,
    MappingDirection,
)

# Every AccountSettings field but account_id, in declaration order: the columns of
# account_settings (a new settings field needs a migration adding its column).
_FIELDS = tuple(f.name for f in attrs.fields(AccountSettings) if f.name != "account_id")
_COLUMNS = ", ".join(_FIELDS)
_PLACEHOLDERS = ", ".join(["%s"] * len(_FIELDS))
_UPDATES = ", ".join(f"{name} = EXCLUDED.{name}" for name in _FIELDS)


class PsycopgAccounts:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get_settings(self, account_id: AccountId) -> AccountSettings | None:
        row = self._session.fetchone(
            f"SELECT {_COLUMNS} FROM account_settings WHERE account_id = %s", (account_id,)
        )
        if row is None:
            return None
        values = dict(zip(_FIELDS, row, strict=True))
        values["deletion_behaviour"] = DeletionBehaviour(values["deletion_behaviour"])
        values["duplicate_policy"] = DuplicatePolicy(values["duplicate_policy"])
        return AccountSettings(account_id=account_id, **values)

    def save_settings(self, settings: AccountSettings) -> None:
        self._session.write(
            "INSERT INTO accounts (id) VALUES (%s) ON CONFLICT (id) DO NOTHING",
            (settings.account_id,),
        )
        self._session.write(
            f"INSERT INTO account_settings (account_id, {_COLUMNS}) "
            f"VALUES (%s, {_PLACEHOLDERS}) "
            f"ON CONFLICT (account_id) DO UPDATE SET {_UPDATES}, updated_at = now()",
            (settings.account_id, *(getattr(settings, name) for name in _FIELDS)),
        )

    def mappings(self, account_id: AccountId) -> list[AttributeMapping]:
        rows = self._session.fetchall(
            "SELECT name, field, direction FROM attribute_mappings WHERE account_id = %s"
            " ORDER BY name",
            (account_id,),
        )
        return [AttributeMapping(name, field, MappingDirection(way)) for name, field, way in rows]

    def save_mapping(self, account_id: AccountId, mapping: AttributeMapping) -> None:
        self._session.write(
            "INSERT INTO attribute_mappings (account_id, name, field, direction)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (account_id, name) DO UPDATE SET"
            " field = EXCLUDED.field, direction = EXCLUDED.direction",
            (account_id, mapping.name, mapping.field, mapping.direction.value),
        )

    def remove_mapping(self, account_id: AccountId, name: str) -> bool:
        deleted = self._session.execute(
            "DELETE FROM attribute_mappings WHERE account_id = %s AND name = %s",
            (account_id, name),
        )
        return deleted > 0
