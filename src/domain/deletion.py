"""What an import does with a Contact that is flagged deleted or gone from Salesforce.

A Contact leaving Salesforce never removes a candidate by itself: the account chooses
(keep, delete, unsubscribe), and KEEP is the default.
"""

from __future__ import annotations

import enum

import attrs

from sfsync.domain.coercion import is_flag_set
from sfsync.domain.model import AccountSettings, Candidate, Contact, DeletionBehaviour


class DeletionAction(enum.StrEnum):
    NONE = "none"  # not flagged: import as usual
    KEEP = "keep"  # flagged: leave the candidate exactly as it is (no data applied)
    DELETE = "delete"  # flagged: remove the candidate and its personal data
    UNSUBSCRIBE = "unsubscribe"  # flagged: keep the candidate, opted out
    SKIP = "skip"  # flagged but never imported: create nothing


_BY_BEHAVIOUR = {
    DeletionBehaviour.KEEP: DeletionAction.KEEP,
    DeletionBehaviour.DELETE: DeletionAction.DELETE,
    DeletionBehaviour.UNSUBSCRIBE: DeletionAction.UNSUBSCRIBE,
}


def is_flagged_deleted(
    contact: Contact, settings: AccountSettings, deleted_in_salesforce: bool = False
) -> bool:
    """Deleted by any source: the account's checkbox, queryAll's IsDeleted, or getDeleted."""
    if contact.is_deleted or deleted_in_salesforce:
        return True
    field = settings.deletion_field  # None: the account has no checkbox
    return field is not None and is_flag_set(contact.fields.get(field))


def decide_deletion(
    contact: Contact,
    settings: AccountSettings,
    existing: Candidate | None,
    deleted_in_salesforce: bool = False,
) -> DeletionAction:
    """The action for one Contact given the account's deletion behaviour.

    An already unsubscribed candidate gets KEEP rather than UNSUBSCRIBE, so a rerun changes
    nothing and is not counted again.
    """
    if not is_flagged_deleted(contact, settings, deleted_in_salesforce):
        return DeletionAction.NONE
    if existing is None:
        return DeletionAction.SKIP
    action = _BY_BEHAVIOUR[settings.deletion_behaviour]
    if action is DeletionAction.UNSUBSCRIBE and existing.unsubscribed:
        return DeletionAction.KEEP
    return action


def apply_unsubscribe(candidate: Candidate) -> Candidate:
    """The candidate marked opted out; everything else stays."""
    return attrs.evolve(candidate, unsubscribed=True)
