"""What ops see of the push: the failures it keeps, a candidate's consent history."""

from __future__ import annotations

import attrs

from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId, SalesforceId
from sfsync.domain.ports import PushFailure, UnitOfWork
from sfsync.domain.push.consent import ConsentChange
from sfsync.services.accounts import known_account


@attrs.frozen
class KeptFailures:
    failures: tuple[PushFailure, ...]  # the last seen first
    more: bool  # the account keeps more than were asked for


def kept_failures(
    uow: UnitOfWork, account_id: AccountId, limit: int, *, given_up: bool = False
) -> KeptFailures:
    """Up to `limit` of the account's kept push failures, the last seen first; `given_up`:
    only those the push no longer retries."""
    with uow:
        known_account(uow, account_id)
        failures = uow.push_failures.latest(account_id, limit + 1, given_up=given_up)
    return KeptFailures(tuple(failures[:limit]), more=len(failures) > limit)


@attrs.frozen
class ConsentHistory:
    candidate_id: str
    account_id: AccountId
    contact_id: SalesforceId | None
    unsubscribed: bool  # the candidate's state now
    changes: tuple[ConsentChange, ...]  # oldest first


def consent_history(
    uow: UnitOfWork, candidate_id: str, account_id: AccountId | None = None
) -> ConsentHistory:
    """A candidate's consent changes and its state now, found by its id alone or, with
    `account_id`, in that account (`unknown_candidate` when it is not there)."""
    with uow:
        if account_id is not None:
            known_account(uow, account_id)
            holder: AccountId | None = account_id
        else:
            holder = uow.candidates.account_of(candidate_id)
        candidate = None if holder is None else uow.candidates.get(holder, candidate_id)
        if candidate is None:
            where = "" if account_id is None else f" in account {account_id}"
            raise PermanentFailure(
                f"candidate {candidate_id} is not known to sfsync{where}",
                code="unknown_candidate",
            )
        changes = uow.consent.history(candidate.account_id, candidate.id)
    return ConsentHistory(
        candidate.id,
        candidate.account_id,
        candidate.salesforce_id,
        candidate.unsubscribed,
        tuple(changes),
    )
