"""What one page of Contacts does to the candidates: a pure plan, written by the store in bulk.

The store reads the candidates a page can touch (by Contact Id and by email) in one query;
this module applies the domain rules to them and returns the rows to upsert and delete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from sfsync.domain.coercion import is_flag_set
from sfsync.domain.deletion import (
    DeletionAction,
    apply_unsubscribe,
    decide_deletion,
    is_flagged_deleted,
)
from sfsync.domain.errors import CoercionError
from sfsync.domain.import_filter import (
    Conflict,
    DuplicateOutcome,
    MatchAction,
    SkipReason,
    dedupe_batch,
    link_candidate,
    match_existing,
    resolve_duplicate,
    should_import,
)
from sfsync.domain.model import (
    AccountSettings,
    AttributeMapping,
    Candidate,
    Contact,
    FieldInfo,
    SalesforceId,
    normalize_email,
)
from sfsync.domain.ports import PushAck
from sfsync.domain.push import ConsentChange, decide_consent
from sfsync.domain.stored_values import stored_reader


@attrs.frozen
class RecordError:
    code: str
    message: str
    salesforce_id: str | None = None


@attrs.frozen
class ImportContext:
    """Everything a page needs that does not change during a run."""

    settings: AccountSettings
    mappings: tuple[tuple[AttributeMapping, FieldInfo], ...]  # checked once per run
    opt_out_field: str | None = None  # the Contact's opt-out checkbox; None: not read
    reapply: bool = False  # full reads re-apply even Contacts already applied at their stamp
    # (attribute, Contact field, wire value -> stored value), resolved once per run
    readers: tuple[tuple[str, str, Callable[[Any], Any]], ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: tuple(
                (m.name, m.field, remembered(stored_reader(f))) for m, f in self.mappings
            ),
            takes_self=True,
        ),
    )


@attrs.define
class BatchPlan:
    upserts: dict[str, Candidate] = attrs.Factory(dict)  # by candidate id
    created: set[str] = attrs.Factory(set)  # ids in `upserts` no stored row has yet
    deletes: list[str] = attrs.Factory(list)
    counts: Counter[str] = attrs.Factory(Counter)
    skipped: Counter[str] = attrs.Factory(Counter)
    errors: list[RecordError] = attrs.Factory(list)
    conflicts: list[Conflict] = attrs.Factory(list)
    consent: list[ConsentChange] = attrs.Factory(list)  # unsubscribes that came from Salesforce
    held: list[PushAck] = attrs.Factory(list)  # unsubscribed candidates' opt-outs as read


# The opt-out as almost every Contact has it (REST, Bulk's CSV, absent): settled by one set
# lookup, with no lower-cased copy of the text per Contact.
_NOT_TICKED = frozenset({False, None, "false"})

MEMO_SIZE = 4096  # distinct text values remembered per mapped field and run


def remembered(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`read` for text values, remembered: picklists, ages and dates repeat across Contacts,
    and reading one (pattern, parse, ISO text) costs ten dictionary lookups. Values that
    fail are not remembered (they raise every time); a list comes back as a fresh copy."""
    seen: dict[str, Any] = {}
    missing = object()

    def read_remembered(raw: Any) -> Any:
        if raw is None:  # no value, whatever the type
            return None
        if raw.__class__ is not str:
            return read(raw)
        value = seen.get(raw, missing)  # no KeyError: most values of some fields are new
        if value is missing:
            value = read(raw)
            if len(seen) < MEMO_SIZE:
                seen[raw] = value
        return list(value) if value.__class__ is list else value

    return read_remembered


def lookup_keys(contacts: Iterable[Contact]) -> tuple[list[SalesforceId], list[str]]:
    """Contact Ids and email keys the store must load candidates for."""
    ids, emails = [], []
    for contact in contacts:
        ids.append(contact.id)
        if contact.email and contact.email.strip():
            emails.append(normalize_email(contact.email))
    return ids, emails


def same_data(a: Candidate, b: Candidate) -> bool:
    """Equal for the run report: a newer SystemModstamp alone is not an update."""
    return attrs.evolve(a, source_modstamp=b.source_modstamp) == b


class _Page:
    """The candidates of one page, indexed by Contact Id and email, kept current."""

    def __init__(self, existing: Sequence[Candidate]) -> None:
        self.original = {c.id: c for c in existing}
        self.current: dict[str, Candidate] = {}
        self._by_contact: dict[str, str] = {}
        self._by_email: dict[str, str] = {}
        for candidate in existing:
            self.put(candidate)

    def put(self, candidate: Candidate) -> None:
        old = self.current.get(candidate.id)
        if old is not None:
            self._unindex(old)
        self.current[candidate.id] = candidate
        if candidate.salesforce_id:
            self._by_contact[candidate.salesforce_id] = candidate.id
        self._by_email[candidate.email_key] = candidate.id

    def remove(self, candidate_id: str) -> None:
        self._unindex(self.current.pop(candidate_id))

    def _unindex(self, candidate: Candidate) -> None:
        if self._by_contact.get(candidate.salesforce_id or "") == candidate.id:
            del self._by_contact[candidate.salesforce_id or ""]
        if self._by_email.get(candidate.email_key) == candidate.id:
            del self._by_email[candidate.email_key]

    def by_contact(self, contact_id: str) -> Candidate | None:
        found = self._by_contact.get(contact_id)
        return self.current[found] if found else None

    def linked(self, contact: Contact) -> bool:
        return contact.id in self._by_contact

    def by_email(self, email: str | None) -> Candidate | None:
        found = self._by_email.get(normalize_email(email)) if email else None
        return self.current[found] if found else None


def plan_batch(
    contacts: Sequence[Contact],
    existing: Sequence[Candidate],
    ctx: ImportContext,
    new_id: Callable[[], str],
    now: datetime,
) -> BatchPlan:
    """Apply the import rules to one page; `existing` holds every candidate it can touch.
    `now` is the time of the page's consent changes."""
    plan = BatchPlan()
    page = _Page(existing)
    plan.counts["seen"] += len(contacts)
    accepted: list[Contact] = []
    for contact in contacts:
        if is_flagged_deleted(contact, ctx.settings):
            _apply_deletion(contact, page, ctx, plan, now)
            continue
        if not ctx.reapply and _applied(contact, page):
            plan.counts["unchanged"] += 1
            continue
        decision = should_import(contact, ctx.settings)
        if decision.accepted:
            accepted.append(contact)
        else:
            plan.skipped[decision.reason or "skipped"] += 1
    winners, conflicts = dedupe_batch(accepted, ctx.settings.duplicate_policy, page.linked)
    for conflict in conflicts:
        plan.conflicts.append(conflict)
        plan.skipped[_reason_for(conflict.outcome)] += 1
    touched = {_apply_contact(contact, page, ctx, plan, new_id, now) for contact in winners}
    for candidate_id, candidate in page.current.items():
        before = page.original.get(candidate_id)
        if candidate is before:  # not touched by this page
            continue
        if before is None:
            plan.upserts[candidate_id] = candidate
            plan.created.add(candidate_id)
            plan.counts["created"] += 1
        elif not same_data(before, candidate):
            plan.upserts[candidate_id] = candidate
            plan.counts["updated"] += 1
        else:
            if candidate != before:  # only SystemModstamp moved: keep it current, quietly
                plan.upserts[candidate_id] = candidate
            if candidate_id in touched:
                plan.counts["unchanged"] += 1
    return plan


def _applied(contact: Contact, page: _Page) -> bool:
    """Already applied at this SystemModstamp (a re-read of a settled window, say)."""
    linked = page.by_contact(contact.id)
    return linked is not None and linked.source_modstamp == contact.system_modstamp


def _reason_for(outcome: DuplicateOutcome) -> str:
    if outcome is DuplicateOutcome.NEEDS_REVIEW:
        return SkipReason.NEEDS_REVIEW
    return SkipReason.DUPLICATE_EMAIL


def _apply_deletion(
    contact: Contact, page: _Page, ctx: ImportContext, plan: BatchPlan, now: datetime
) -> None:
    existing = page.by_contact(contact.id)
    action = decide_deletion(contact, ctx.settings, existing)
    if action is DeletionAction.SKIP:
        plan.skipped[SkipReason.FLAGGED_DELETED_NEVER_IMPORTED] += 1
    elif action is DeletionAction.KEEP:
        plan.skipped["deleted_kept"] += 1
    elif action is DeletionAction.DELETE and existing is not None:
        plan.deletes.append(existing.id)
        page.remove(existing.id)
        plan.counts["deleted"] += 1
    elif action is DeletionAction.UNSUBSCRIBE and existing is not None:
        page.put(_unsubscribed(existing, plan, now))  # a consent change too (domain-rules.md)


def _opted_out(contact: Contact, ctx: ImportContext) -> bool:
    """The Contact's opt-out is ticked (always False when the run does not read it)."""
    field = ctx.opt_out_field
    if field is None:
        return False
    raw = contact.fields.get(field)
    return raw not in _NOT_TICKED and is_flag_set(raw)


def _unsubscribed(candidate: Candidate, plan: BatchPlan, now: datetime) -> Candidate:
    """The subscribed candidate unsubscribed by its Contact (its opt-out, or its deletion
    under the `unsubscribe` behaviour)."""
    _consent_from_salesforce(candidate.id, plan, now)
    return apply_unsubscribe(candidate)


def _consent_from_salesforce(candidate_id: str, plan: BatchPlan, now: datetime) -> None:
    """Consent is sticky: Salesforce's `true` unsubscribes (counted, and kept as a consent
    change from Salesforce); its `false` never re-subscribes, so it never gets here."""
    decision = decide_consent(candidate_id, False, True, None, now)
    plan.consent += decision.changes  # the one change, source `salesforce`
    plan.counts["unsubscribed"] += 1


def _held(
    candidate_id: str,
    contact: Contact,
    ctx: ImportContext,
    plan: BatchPlan,
    now: datetime,
    *,
    opted_out: bool,
) -> None:
    """What Salesforce holds in an unsubscribed candidate's opt-out, for the push: `true`
    is not written back; a `false` there is (consent is sticky, either side's wins)."""
    if not ctx.settings.push_enabled:  # no push to tell (the first one may write it once)
        return
    assert ctx.opt_out_field is not None  # only an opt-out that was read gets here
    values = {ctx.opt_out_field: opted_out}
    plan.held.append(PushAck(candidate_id, contact.id, values, now, contact.system_modstamp))


def _attributes(contact: Contact, ctx: ImportContext, plan: BatchPlan) -> dict[str, Any]:
    """The Contact's mapped values as stored; a value that cannot be read is left out and
    reported (the rest of the Contact is still applied)."""
    fields = contact.fields
    values: dict[str, Any] = {}
    for name, field_name, read in ctx.readers:
        if field_name not in fields:
            continue
        try:
            values[name] = read(fields[field_name])
        except CoercionError as err:
            plan.errors.append(RecordError(err.code, f"{name}: {err.message}", contact.id))
    return values


def _apply_contact(
    contact: Contact,
    page: _Page,
    ctx: ImportContext,
    plan: BatchPlan,
    new_id: Callable[[], str],
    now: datetime,
) -> str | None:
    """Apply one accepted Contact; return the id of the candidate it landed on, if any."""
    by_email = page.by_email(contact.email)
    match = match_existing(contact, page.by_contact(contact.id), by_email)
    if match.action is MatchAction.EMAIL_TAKEN:
        assert by_email is not None
        if by_email.salesforce_id is not None:  # else a sign-up holds it: no second Contact
            conflict = Conflict(
                by_email.id, by_email.salesforce_id, contact.id, DuplicateOutcome.SKIPPED
            )
            plan.conflicts.append(conflict)
        plan.skipped[SkipReason.DUPLICATE_EMAIL] += 1
        return None
    if match.action is MatchAction.CONFLICT:
        assert match.candidate is not None
        resolution = resolve_duplicate(match.candidate, contact, ctx.settings.duplicate_policy)
        plan.conflicts.append(resolution.conflict)
        page.put(resolution.candidate)
        if resolution.skip_reason is not None:
            plan.skipped[resolution.skip_reason] += 1
            return None
        candidate = attrs.evolve(
            resolution.candidate,
            attributes={**resolution.candidate.attributes, **_attributes(contact, ctx, plan)},
        )
    elif match.candidate is None:  # CREATE: built once, no copies (this runs per new row)
        opted_out = _opted_out(contact, ctx)
        candidate = Candidate(
            id=new_id(),
            account_id=ctx.settings.account_id,
            email=(contact.email or "").strip(),
            first_name=contact.first_name,
            last_name=contact.last_name,
            name=contact.name,
            salesforce_id=contact.id,
            source_modstamp=contact.system_modstamp,
            attributes=_attributes(contact, ctx, plan),
            unsubscribed=opted_out,
        )
        if opted_out:
            _consent_from_salesforce(candidate.id, plan, now)
            _held(candidate.id, contact, ctx, plan, now, opted_out=True)
        page.put(candidate)
        return candidate.id
    else:  # UPDATE or LINK
        candidate = link_candidate(match.candidate, contact, _attributes(contact, ctx, plan))
        plan.counts["linked"] += match.action is MatchAction.LINK
    if not candidate.unsubscribed and _opted_out(contact, ctx):
        candidate = _unsubscribed(candidate, plan, now)
        _held(candidate.id, contact, ctx, plan, now, opted_out=True)
    elif candidate.unsubscribed and ctx.opt_out_field and not _opted_out(contact, ctx):
        _held(candidate.id, contact, ctx, plan, now, opted_out=False)  # the push says true
    page.put(candidate)
    return candidate.id
