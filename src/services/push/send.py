"""Locked records once more, serially, after the streamed update's own retries."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from sfsync.domain.errors import DomainError
from sfsync.domain.ports import ContactUpdate, ContactWriter, WriteResult

LOCKED = "UNABLE_TO_LOCK_ROW"


def retry_locked(
    gateway: ContactWriter, results: Sequence[WriteResult]
) -> tuple[list[WriteResult], DomainError | None]:
    """The results with each still-locked record sent once more on its own (another writer
    holds it; one at a time waits the least on each other), and what stopped those calls,
    if anything: the results so far come back with the error, so the caller commits what
    Salesforce did before raising it."""
    final = list(results)
    for i, result in enumerate(final):
        if result.error_code != LOCKED:
            continue
        try:
            (again,) = gateway.update_contacts([ContactUpdate(result.contact_id, result.values)])
        except DomainError as err:
            return final, err
        final[i] = attrs.evolve(again, values=result.values)
    return final, None
