"""Which Contacts an import brings in, and which candidate each one lands on.

Per page, a run applies: `decide_deletion` (deletion.py) to flagged or deleted Contacts
(its SKIP counts as `flagged_deleted_never_imported`), `should_import` to the rest,
`dedupe_batch` to those accepted (so a deleted twin never beats a live one), then
`match_existing` per Contact and, when emails clash, `resolve_duplicate`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from sfsync.domain.coercion import is_flag_set
from sfsync.domain.model import (
    AccountSettings,
    Candidate,
    Contact,
    DuplicatePolicy,
    SalesforceId,
    normalize_email,
)

MAX_EMAIL = 254  # RFC 5321 path limit
# White space (str.isspace), control characters (Unicode Cc) and lone surrogates (Cs).
_SPACE_OR_CONTROL = re.compile("[\\s\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class SkipReason(enum.StrEnum):
    """Why a Contact was not imported; the values are the run report's `skipped` keys."""

    NO_EMAIL = "no_email"
    INVALID_EMAIL = "invalid_email"
    NOT_TAGGED = "not_tagged"
    FLAGGED_DELETED_NEVER_IMPORTED = "flagged_deleted_never_imported"
    DUPLICATE_EMAIL = "duplicate_email"
    NEEDS_REVIEW = "needs_review"


@attrs.frozen
class ImportDecision:
    accepted: bool
    reason: SkipReason | None = None


ACCEPT = ImportDecision(accepted=True)


def _skip(reason: SkipReason) -> ImportDecision:
    return ImportDecision(accepted=False, reason=reason)


def is_plausible_email(email: str) -> bool:
    """A loose shape check (Salesforce validates the real thing): local@domain.tld."""
    email = email.strip()
    local, _, domain = email.partition("@")
    if email.count("@") != 1 or not local or len(email) > MAX_EMAIL:
        return False
    if _SPACE_OR_CONTROL.search(email):
        return False
    return "." in domain.strip(".") and ".." not in domain


def should_import(contact: Contact, settings: AccountSettings) -> ImportDecision:
    """Whether a Contact passes the account's import filter and has a usable email.

    The tag is checked first, so an untagged Contact counts as `not_tagged` whatever its email.
    """
    if settings.only_import_tagged:
        if not is_flag_set(contact.fields.get(settings.import_flag_field)):
            return _skip(SkipReason.NOT_TAGGED)
    if contact.email is None or not contact.email.strip():
        return _skip(SkipReason.NO_EMAIL)
    if not is_plausible_email(contact.email):
        return _skip(SkipReason.INVALID_EMAIL)
    return ACCEPT


# --- which candidate ----------------------------------------------------------------------


class MatchAction(enum.StrEnum):
    CREATE = "create"  # no candidate yet: create one linked to the Contact
    UPDATE = "update"  # the candidate already linked to this Contact
    LINK = "link"  # a candidate with this email and no Contact yet (e.g. signed up first)
    CONFLICT = "conflict"  # the email's candidate is linked to another Contact
    EMAIL_TAKEN = "email_taken"  # linked candidate's new email belongs to another candidate


@attrs.frozen
class Match:
    action: MatchAction
    candidate: Candidate | None = None  # for UPDATE/EMAIL_TAKEN the linked one, else by email


_CREATE = Match(MatchAction.CREATE)  # the usual answer, made once


def match_existing(contact: Contact, by_id: Candidate | None, by_email: Candidate | None) -> Match:
    """Decide which candidate a Contact lands on.

    Args:
        by_id: the candidate linked to `contact.id`, if any.
        by_email: the candidate whose email matches `normalize_email(contact.email)`, if any.

    A linked candidate whose Contact changed to an email another candidate holds is left
    as it is (EMAIL_TAKEN, reported as `duplicate_email`): merging two people is a human call.
    """
    if by_id is not None:
        if by_email is not None and by_email.id != by_id.id:
            return Match(MatchAction.EMAIL_TAKEN, by_id)
        return Match(MatchAction.UPDATE, by_id)
    if by_email is None:
        return _CREATE
    if by_email.salesforce_id is None or by_email.salesforce_id == contact.id:
        return Match(MatchAction.LINK, by_email)
    return Match(MatchAction.CONFLICT, by_email)


def link_candidate(
    candidate: Candidate, contact: Contact, attributes: Mapping[str, Any] | None = None
) -> Candidate:
    """The candidate linked to `contact` and carrying its base fields (and `attributes`,
    merged over its own).

    A candidate linked before (an update, or a relink to a newer Contact) takes the
    Contact's base fields as they are, blanks included: keeping an old value would mix two
    people (the old Contact's first name with the new one's last name). Only a first link
    of a candidate who signed up keeps its own names where the Contact's are blank.
    """
    merged = {**candidate.attributes, **attributes} if attributes else candidate.attributes
    first, last, name = contact.first_name, contact.last_name, contact.name
    if candidate.salesforce_id is None:  # a sign-up, linked for the first time
        first, last = first or candidate.first_name, last or candidate.last_name
        name = name or candidate.name
    return attrs.evolve(
        candidate,
        attributes=merged,
        salesforce_id=contact.id,
        source_modstamp=contact.system_modstamp,
        email=(contact.email or candidate.email).strip(),
        first_name=first,
        last_name=last,
        name=name,
    )


# --- duplicate emails ---------------------------------------------------------------------


class DuplicateOutcome(enum.StrEnum):
    RELINKED = "relinked"  # the candidate moved to the incoming Contact and took its data
    SKIPPED = "skipped"  # the kept Contact keeps (or gets) the candidate; the other is skipped
    NEEDS_REVIEW = "needs_review"  # nothing moved; the candidate is flagged for a human


@attrs.frozen
class Conflict:
    """Two Contacts with one email, for the run report. The email itself is left out."""

    candidate_id: str | None  # None inside a batch, before any candidate exists
    kept_contact_id: SalesforceId  # the Contact the candidate belongs to afterwards
    other_contact_id: SalesforceId  # skipped, unlinked (RELINKED) or held for review
    outcome: DuplicateOutcome


@attrs.frozen
class DuplicateResolution:
    outcome: DuplicateOutcome
    candidate: Candidate  # as it should be stored
    conflict: Conflict

    @property
    def skip_reason(self) -> SkipReason | None:
        """How the run report counts the incoming Contact (None: it was applied)."""
        return {
            DuplicateOutcome.RELINKED: None,
            DuplicateOutcome.SKIPPED: SkipReason.DUPLICATE_EMAIL,
            DuplicateOutcome.NEEDS_REVIEW: SkipReason.NEEDS_REVIEW,
        }[self.outcome]


_EPOCH = datetime.min.replace(tzinfo=UTC)


def _recency(modstamp: datetime | None, contact_id: str) -> tuple[datetime, str]:
    """Sort key for NEWEST: modstamp (unknown = oldest, naive = UTC), then the larger Id."""
    if modstamp is None:
        return _EPOCH, contact_id
    return (modstamp if modstamp.tzinfo else modstamp.replace(tzinfo=UTC)), contact_id


def _is_newer(contact: Contact, modstamp: datetime | None, contact_id: str) -> bool:
    return _recency(contact.system_modstamp, contact.id) > _recency(modstamp, contact_id)


def resolve_duplicate(
    existing: Candidate, incoming: Contact, policy: DuplicatePolicy
) -> DuplicateResolution:
    """Settle a Contact whose email belongs to a candidate linked to another Contact."""
    linked = existing.salesforce_id
    if linked is None or linked == incoming.id:
        raise ValueError("resolve_duplicate needs a candidate linked to another Contact")
    if policy is DuplicatePolicy.REVIEW:
        flagged = attrs.evolve(existing, needs_review=True)
        return _resolution(DuplicateOutcome.NEEDS_REVIEW, flagged, linked, incoming.id)
    if policy is DuplicatePolicy.NEWEST and _is_newer(incoming, existing.source_modstamp, linked):
        moved = link_candidate(existing, incoming)
        return _resolution(DuplicateOutcome.RELINKED, moved, incoming.id, linked)
    return _resolution(DuplicateOutcome.SKIPPED, existing, linked, incoming.id)


def _resolution(
    outcome: DuplicateOutcome, candidate: Candidate, kept: SalesforceId, other: SalesforceId
) -> DuplicateResolution:
    return DuplicateResolution(outcome, candidate, Conflict(candidate.id, kept, other, outcome))


def dedupe_batch(
    contacts: Iterable[Contact],
    policy: DuplicatePolicy,
    linked: Callable[[Contact], bool] = lambda contact: False,
) -> tuple[list[Contact], list[Conflict]]:
    """One new Contact per email within a page, chosen as `resolve_duplicate` would.

    NEWEST keeps the most recent; OLDEST and REVIEW keep the first seen (the one that would
    have been linked first). REVIEW conflicts tell the caller to flag the kept Contact's
    candidate. Contacts without an email pass through untouched, and so do Contacts
    already linked to a candidate (`linked`): each goes on to `match_existing` as it would
    in a page of its own (an update of its candidate, a conflict, or EMAIL_TAKEN), so a
    duplicate in the same page never drops the update of a linked candidate.
    """
    slots: list[Contact] = []
    slot_of: dict[str, int] = {}
    conflicts: list[Conflict] = []
    for contact in contacts:
        key = normalize_email(contact.email) if contact.email else ""
        at = slot_of.get(key) if key else None
        if at is None or linked(contact):  # asked only of the few Contacts sharing an email
            if key and at is None:
                slot_of[key] = len(slots)
            slots.append(contact)
            continue
        kept = slots[at]
        if linked(kept):  # it stays; this one runs against the next new Contacts
            slot_of[key] = len(slots)
            slots.append(contact)
            continue
        if policy is DuplicatePolicy.NEWEST and _is_newer(contact, kept.system_modstamp, kept.id):
            kept, contact = contact, kept
            slots[at] = kept
        outcome = _BATCH_OUTCOME[policy]
        conflicts.append(Conflict(None, kept.id, contact.id, outcome))
    return slots, conflicts


_BATCH_OUTCOME = {
    DuplicatePolicy.NEWEST: DuplicateOutcome.SKIPPED,
    DuplicatePolicy.OLDEST: DuplicateOutcome.SKIPPED,
    DuplicatePolicy.REVIEW: DuplicateOutcome.NEEDS_REVIEW,
}  # no candidate exists yet inside a page, so nothing is relinked
