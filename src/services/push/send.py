"""Sending a page's updates: one call for the page, then locked records once more, serially."""

from __future__ import annotations

from collections.abc import Sequence

from sfsync.domain.errors import DomainError
from sfsync.domain.model import SalesforceId
from sfsync.domain.ports import ContactUpdate, SalesforceGateway, WriteResult

LOCKED = "UNABLE_TO_LOCK_ROW"


def send(
    gateway: SalesforceGateway, updates: Sequence[ContactUpdate]
) -> tuple[dict[SalesforceId, WriteResult], DomainError | None]:
    """Salesforce's result per Contact Id, and what stopped the serial retries, if anything.

    A record still locked after the adapter's own retries is sent once more on its own
    (another writer holds it; one at a time waits the least on each other). When such a
    call fails as a whole (quota, an outage), the results so far are returned with the
    error, so the caller commits what Salesforce did before raising it.
    """
    if not updates:
        return {}, None
    results = {r.contact_id: r for r in gateway.update_contacts(updates)}
    for update in updates:
        if results[update.contact_id].error_code != LOCKED:
            continue
        try:
            (results[update.contact_id],) = gateway.update_contacts([update])
        except DomainError as err:
            return results, err
    return results, None
