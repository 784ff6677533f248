"""The push of one candidate: which Contact fields to write, and what else follows from it.

`preflight` checks the account and every target field against the describe once per run;
`plan_push` then decides one candidate's write from its values, what Salesforce last
acknowledged and (when read) what the Contact holds now. Nothing is written, and nothing
is acknowledged, when nothing changed since the last acknowledgement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from sfsync.domain.coercion import from_salesforce, is_flag_set
from sfsync.domain.errors import CoercionError
from sfsync.domain.model import (
    AccountSettings,
    AttributeMapping,
    Candidate,
    Contact,
    ContactSchema,
    FieldInfo,
    FieldType,
    MappingDirection,
)
from sfsync.domain.push.consent import ConsentChange, ConsentDecision, decide_consent
from sfsync.domain.push.eligibility import PushRefusal, account_refusal, field_refusal
from sfsync.domain.push.fit import DoesNotFit, Fits, Misfit, Wire, canonical, fit_value
from sfsync.domain.push.two_way import ABSENT, Absent, Known, decide_two_way


@attrs.frozen
class Target:
    """An exported attribute and the Contact field it is written to."""

    mapping: AttributeMapping
    field: FieldInfo


@attrs.frozen
class Preflight:
    """What a run may push at all, checked once against the describe."""

    account_refusal: PushRefusal | None  # set: the account pushes nothing
    targets: tuple[Target, ...] = ()
    consent_field: FieldInfo | None = None  # None: unsubscribes are not pushed
    refused_fields: Mapping[str, PushRefusal] = attrs.field(factory=dict)  # by field name


def preflight(
    settings: AccountSettings, schema: ContactSchema, mappings: Iterable[AttributeMapping]
) -> Preflight:
    """The pushable targets, and each refused field named once with its reason.

    Only export and two-way mappings are targets. A field two exported attributes map,
    or an exported attribute mapping the unsubscribe field, is refused
    (`field_mapped_twice`): which value should win is not for sfsync to guess.
    """
    account = account_refusal(settings)
    if account is not None:
        return Preflight(account_refusal=account)
    exported = [m for m in mappings if m.exports]
    uses = Counter([settings.unsubscribe_field, *(m.field for m in exported)])
    refused: dict[str, PushRefusal] = {}
    targets: list[Target] = []
    for mapping in exported:
        field = schema.get(mapping.field)
        reason = PushRefusal.FIELD_MAPPED_TWICE if uses[mapping.field] > 1 else None
        reason = reason or field_refusal(field)
        if reason is not None:
            refused[mapping.field] = reason
        elif field is not None:
            targets.append(Target(mapping, field))
    consent = schema.get(settings.unsubscribe_field)
    reason = field_refusal(consent)
    if reason is None and consent is not None and consent.type is not FieldType.BOOLEAN:
        reason = PushRefusal.NOT_A_CHECKBOX
    if reason is not None:
        refused.setdefault(settings.unsubscribe_field, reason)
    return Preflight(None, tuple(targets), None if reason else consent, refused)


@attrs.frozen
class PushPlan:
    """One candidate's push. Record `settled` as acknowledged now, and `update` once
    Salesforce acknowledges it (with the `sfsync` consent change)."""

    skipped: PushRefusal | None = None  # set: nothing of this candidate is pushed
    update: Mapping[str, Wire] = attrs.field(factory=dict)  # field -> value; empty: no write
    settled: Mapping[str, Wire] = attrs.field(factory=dict)  # field -> value both sides hold
    refused: Mapping[str, Misfit] = attrs.field(factory=dict)  # field -> why not written
    candidate_updates: Mapping[str, Any] = attrs.field(factory=dict)  # attribute -> value
    unsubscribed: bool = False
    consent_changes: tuple[ConsentChange, ...] = ()
    conflicts: tuple[str, ...] = ()  # two-way fields both sides changed


def _salesforce_value(contact: Contact | None, field: FieldInfo) -> tuple[Known, Any]:
    """The Contact's value of `field` in wire and attribute form; ABSENT when not read."""
    if contact is None or field.name not in contact.fields:
        return ABSENT, None
    try:
        value = from_salesforce(field, contact.fields[field.name])
    except CoercionError:
        return ABSENT, None
    fit = canonical(field, value)
    return (fit.wire, value) if isinstance(fit, Fits) else (ABSENT, None)


@attrs.define
class _Draft:
    update: dict[str, Wire] = attrs.Factory(dict)
    settled: dict[str, Wire] = attrs.Factory(dict)
    refused: dict[str, Misfit] = attrs.Factory(dict)
    candidate_updates: dict[str, Any] = attrs.Factory(dict)
    conflicts: list[str] = attrs.Factory(list)


def _plan_target(
    draft: _Draft,
    target: Target,
    wire: Wire,
    changed_at: datetime | None,
    contact: Contact | None,
    acknowledged: Known,
) -> None:
    field, mapping = target.field, target.mapping
    salesforce, value = _salesforce_value(contact, field)
    if salesforce is not ABSENT and wire == salesforce:
        if salesforce != acknowledged:  # both sides agree already: nothing to write
            draft.settled[field.name] = salesforce
        return
    if mapping.direction is MappingDirection.EXPORT:
        if wire != acknowledged:  # only the candidate's changes; Salesforce's edits stay
            draft.update[field.name] = wire
        return
    modstamp = contact.system_modstamp if contact else None
    decision = decide_two_way(wire, changed_at, salesforce, modstamp, acknowledged)
    if decision.conflict:
        draft.conflicts.append(field.name)
    if decision.push:
        draft.update[field.name] = wire
    if decision.update_candidate and not isinstance(salesforce, Absent):
        draft.candidate_updates[mapping.name] = value  # both hold it once it is applied
        draft.settled[field.name] = salesforce


def _plan_consent(
    draft: _Draft,
    field: FieldInfo,
    candidate: Candidate,
    contact: Contact | None,
    acknowledged: Known,
    now: datetime,
) -> ConsentDecision:
    read = contact is not None and field.name in contact.fields
    salesforce = is_flag_set(contact.fields[field.name]) if contact and read else None
    known = acknowledged if isinstance(acknowledged, bool) else None
    decision = decide_consent(candidate.id, candidate.unsubscribed, salesforce, known, now)
    if decision.push_opt_out:
        draft.update[field.name] = True
    elif salesforce is not None and salesforce != acknowledged:
        draft.settled[field.name] = salesforce
    return decision


def plan_push(
    checked: Preflight,
    candidate: Candidate,
    acknowledged: Mapping[str, Wire],
    contact: Contact | None,
    changed_at: Mapping[str, datetime],
    now: datetime,
) -> PushPlan:
    """One candidate's push.

    Args:
        checked: this run's `preflight`.
        acknowledged: the wire values Salesforce last acknowledged, by field name.
        contact: the Contact as read now (its `fields` raw, with `SystemModstamp`), or
            None when not read: then only the candidate's changes count.
        changed_at: when each attribute last changed, by attribute name (two-way only).

    An attribute the candidate does not have is never pushed (nothing is cleared).
    """
    if checked.account_refusal is not None:
        return PushPlan(skipped=checked.account_refusal, unsubscribed=candidate.unsubscribed)
    if candidate.salesforce_id is None:
        skipped = PushRefusal.NOT_FROM_SALESFORCE
        return PushPlan(skipped=skipped, unsubscribed=candidate.unsubscribed)
    draft = _Draft()
    for target in checked.targets:
        if target.mapping.name not in candidate.attributes:
            continue
        fit = fit_value(target.field, candidate.attributes[target.mapping.name])
        if isinstance(fit, DoesNotFit):
            draft.refused[target.field.name] = fit.misfit
            continue
        ack = acknowledged.get(target.field.name, ABSENT)
        when = changed_at.get(target.mapping.name)
        _plan_target(draft, target, fit.wire, when, contact, ack)
    consent = ConsentDecision(candidate.unsubscribed, push_opt_out=False)
    if checked.consent_field is not None:
        ack = acknowledged.get(checked.consent_field.name, ABSENT)
        consent = _plan_consent(draft, checked.consent_field, candidate, contact, ack, now)
    return PushPlan(
        update=draft.update,
        settled=draft.settled,
        refused=draft.refused,
        candidate_updates=draft.candidate_updates,
        unsubscribed=consent.unsubscribed,
        consent_changes=consent.changes,
        conflicts=tuple(draft.conflicts),
    )
