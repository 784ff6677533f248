"""Account set-up: settings, the Salesforce connection, attribute mappings."""

from __future__ import annotations

from sfsync.domain.errors import UnknownAccount
from sfsync.domain.mapping import check_mapping, validate_attribute_name, validate_field_name
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping, ContactSchema
from sfsync.domain.ports import SalesforceConnection, UnitOfWork


def save_settings(uow: UnitOfWork, settings: AccountSettings) -> None:
    """Create the account, or replace its settings."""
    with uow:
        uow.accounts.save_settings(settings)
        uow.commit()


def save_connection(uow: UnitOfWork, connection: SalesforceConnection) -> None:
    """Store a fresh connection (after OAuth); clears any 'needs re-authorisation' mark."""
    with uow:
        if uow.accounts.get_settings(connection.account_id) is None:
            raise UnknownAccount(f"account {connection.account_id} is not known to sfsync")
        uow.connections.save(connection)
        uow.commit()


def add_attribute(
    uow: UnitOfWork,
    account_id: AccountId,
    mapping: AttributeMapping,
    schema: ContactSchema | None = None,
) -> AttributeMapping:
    """Map a candidate attribute to a Contact field; checked against the org when it is known."""
    validate_attribute_name(mapping.name)
    validate_field_name(mapping.field)
    if schema is not None:
        check_mapping(mapping, schema)
    with uow:
        if uow.accounts.get_settings(account_id) is None:
            raise UnknownAccount(f"account {account_id} is not known to sfsync")
        uow.accounts.save_mapping(account_id, mapping)
        uow.commit()
    return mapping
