"""The sign-up flag: `candidate.signed_up` sets the account's flag field on the Contacts
holding the candidate's email, so the next import brings them in.

Sign-ups are recorded first (one row per message id: a redelivery is a no-op) and flagged
by a flush of the account, asked for after a short delay, so a burst becomes one
`Email IN (...)` query per batch and one update per 200 Contacts. The flush takes the
account's lock (an import and a flush never interleave), looks the emails up, sets the flag
where it is not set yet, links each candidate to its Contact at once, and records every
outcome. A flush that fails is retried by its message; its sign-ups stay pending meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

import attrs

from sfsync.domain.errors import (
    Conflict,
    PermanentFailure,
    ReauthorizationRequired,
    TransientFailure,
)
from sfsync.domain.import_filter import DuplicateOutcome, dedupe_batch, resolve_duplicate
from sfsync.domain.messages import CandidateSignedUp
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    Candidate,
    Contact,
    ContactSchema,
    FieldType,
    SalesforceId,
    normalize_email,
)
from sfsync.domain.ports import (
    AccountLocks,
    CandidateStore,
    Clock,
    ContactUpdate,
    GatewayFactory,
    SalesforceConnection,
    SalesforceGateway,
    SignupFlushes,
    UnitOfWork,
)
from sfsync.domain.signups import Signup, SignupOutcome, skip_reason
from sfsync.services.accounts import known_account

FLAG_BATCH = 200  # Contacts per update call (one sObject Collections request)


@attrs.frozen
class SignupSettings:
    delay_seconds: float = 5.0  # how long sign-ups of an account gather before a flush
    # A flush asked for this long ago and never started was lost: the next sign-up asks again.
    stale_after_seconds: float = 300.0


@attrs.frozen
class SignupDeps:
    uow: Callable[[], UnitOfWork]
    gateways: GatewayFactory
    locks: AccountLocks
    clock: Clock
    flushes: SignupFlushes
    settings: SignupSettings = SignupSettings()


def record_signup(message: CandidateSignedUp, deps: SignupDeps) -> Signup:
    """Record the sign-up and ask for a flush of its account unless one is pending."""
    now = deps.clock.now()
    account_id = message.account_id
    stale_before = now - timedelta(seconds=deps.settings.stale_after_seconds)
    with deps.uow() as uow:
        settings = known_account(uow, account_id)
        signup = Signup(message.id, account_id, message.candidate_id, message.email, now)
        reason = skip_reason(settings)
        if reason is not None:  # nothing to look up: settled at once
            signup = attrs.evolve(signup, outcome=SignupOutcome.SKIPPED, reason=reason)
        if not uow.signups.add(signup):  # a redelivery: as recorded the first time
            signup = uow.signups.get(message.id) or signup
        wanted = signup.outcome is SignupOutcome.PENDING
        claimed = wanted and uow.signups.claim_flush(account_id, now, stale_before)
        uow.commit()
    if claimed:
        try:
            deps.flushes.flush_later(account_id, deps.settings.delay_seconds)
        except Exception:
            with deps.uow() as uow:  # let the retry of this message ask again
                uow.signups.release_flush(account_id)
                uow.commit()
            raise
    return signup


def flush(account_id: AccountId, deps: SignupDeps) -> list[Signup]:
    """Flag the Contacts of the account's pending sign-ups; returns them settled."""
    with deps.uow() as uow:
        settings = uow.accounts.get_settings(account_id)
    if settings is None:
        return []
    with deps.locks.hold(account_id) as held:
        if not held:
            raise TransientFailure(f"another sync of account {account_id} is running", code="busy")
        with deps.uow() as uow:
            uow.signups.release_flush(account_id)  # sign-ups from now on ask for another
            pending = uow.signups.pending(account_id)
            uow.commit()
        if not pending:
            return []
        settled, found = _settled(pending, settings, deps)
        with deps.uow() as uow:
            for signup in settled:
                contacts = found.get(normalize_email(signup.email), [])
                if contacts:
                    _link(uow.candidates, signup, contacts, settings)
            uow.signups.settle(settled)
            uow.commit()
    return settled


def _settled(
    pending: list[Signup], settings: AccountSettings, deps: SignupDeps
) -> tuple[list[Signup], dict[str, list[Contact]]]:
    reason = skip_reason(settings)
    if reason is not None:
        return _skipped(pending, reason), {}
    try:
        connection = _connection(deps, settings.account_id)
        with deps.gateways.open(connection, settings) as gateway:
            return _flag(pending, settings.import_flag_field, gateway)
    except ReauthorizationRequired:
        return _skipped(pending, "needs_reauth"), {}
    except _Disconnected as err:
        return _skipped(pending, err.reason), {}


class _Disconnected(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _connection(deps: SignupDeps, account_id: AccountId) -> SalesforceConnection:
    try:
        with deps.uow() as uow:
            connection = uow.connections.get(account_id)
    except PermanentFailure as err:  # tokens no configured key opens
        raise _Disconnected(err.code or "not_connected") from err
    if connection is None:
        raise _Disconnected("not_connected")
    if connection.needs_reauth:
        raise _Disconnected("needs_reauth")
    return connection


def _skipped(signups: Iterable[Signup], reason: str) -> list[Signup]:
    return [attrs.evolve(s, outcome=SignupOutcome.SKIPPED, reason=reason) for s in signups]


def _flag(
    pending: list[Signup], flag: str, gateway: SalesforceGateway
) -> tuple[list[Signup], dict[str, list[Contact]]]:
    if not _flag_usable(gateway.describe_contact(), flag):
        return _skipped(pending, "missing_flag_field"), {}
    emails = list(dict.fromkeys(s.email.strip() for s in pending))
    found: dict[str, list[Contact]] = defaultdict(list)
    for contact in gateway.find_contacts_by_email(emails, [flag]):
        if contact.email:
            found[normalize_email(contact.email)].append(contact)
    unflagged = {c.id: c for cs in found.values() for c in cs if not _is_true(c.fields.get(flag))}
    refused = _set_flags(gateway, list(unflagged), flag)
    settled = []
    for signup in pending:
        contacts = found.get(normalize_email(signup.email), [])
        ids = tuple(c.id for c in contacts)
        outcome, reason = _outcome(ids, unflagged, refused)
        settled.append(attrs.evolve(signup, outcome=outcome, reason=reason, contact_ids=ids))
    return settled, dict(found)


def _outcome(
    ids: Sequence[SalesforceId], unflagged: dict[SalesforceId, Contact], refused: dict[str, str]
) -> tuple[SignupOutcome, str | None]:
    if not ids:
        return SignupOutcome.NO_CONTACT, None
    if any(i in unflagged and i not in refused for i in ids):
        return SignupOutcome.FLAGGED, None
    codes = [refused[i] for i in ids if i in refused]
    if codes:
        return SignupOutcome.SKIPPED, f"flag_refused:{codes[0]}"
    return SignupOutcome.ALREADY_FLAGGED, None


def _set_flags(gateway: SalesforceGateway, ids: list[SalesforceId], flag: str) -> dict[str, str]:
    """Set `flag` on each Contact, FLAG_BATCH a call; the refused ones with Salesforce's code."""
    refused: dict[str, str] = {}
    for start in range(0, len(ids), FLAG_BATCH):
        updates = [ContactUpdate(i, {flag: True}) for i in ids[start : start + FLAG_BATCH]]
        for result in gateway.update_contacts(updates):
            if not result.ok:
                refused[result.contact_id] = result.error_code or "UNKNOWN"
    return refused


def _flag_usable(schema: ContactSchema, flag: str) -> bool:
    info = schema.get(flag)
    return info is not None and info.type is FieldType.BOOLEAN and info.updateable


def _is_true(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def _link(
    candidates: CandidateStore, signup: Signup, contacts: list[Contact], settings: AccountSettings
) -> None:
    """Link the sign-up's candidate (made if sfsync has none) to its Contact; two Contacts
    with one email follow the account's duplicate policy, as an import would. The Contact's
    data comes with the next import (the candidate's source modstamp is left unset)."""
    account_id, policy = settings.account_id, settings.duplicate_policy
    kept, conflicts = dedupe_batch(sorted(contacts, key=lambda c: c.id), policy)
    chosen = kept[0]
    review = any(c.outcome is DuplicateOutcome.NEEDS_REVIEW for c in conflicts)
    candidate = candidates.get(account_id, signup.candidate_id) or candidates.get_by_email(
        account_id, signup.email
    )
    holder = candidates.get_by_salesforce_id(account_id, chosen.id)
    try:
        if candidate is None:
            if holder is None:
                candidates.add(
                    Candidate(
                        id=signup.candidate_id,
                        account_id=account_id,
                        email=signup.email.strip(),
                        salesforce_id=chosen.id,
                        needs_review=review,
                    )
                )
            return
        linked = candidate.salesforce_id
        if linked in {c.id for c in contacts}:
            return
        if linked is not None:
            resolution = resolve_duplicate(candidate, chosen, policy)
            if resolution.outcome is DuplicateOutcome.NEEDS_REVIEW:
                candidates.update(resolution.candidate)
                return
            if resolution.outcome is DuplicateOutcome.SKIPPED:
                return
        if holder is None:
            candidates.update(
                attrs.evolve(
                    candidate,
                    salesforce_id=chosen.id,
                    source_modstamp=None,
                    needs_review=candidate.needs_review or review,
                )
            )
    except Conflict:
        return  # another candidate took the email or the Contact meanwhile: left as it is
