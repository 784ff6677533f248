"""One page of a push, planned: the updates to send and what follows from each outcome.

Pure: the candidates, what Salesforce acknowledged and what failed before come in; the
Contact updates, the acknowledgements and candidate changes due now, and what to record
once Salesforce answers, come out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from sfsync.domain.model import Candidate, Contact, SalesforceId
from sfsync.domain.ports import ContactUpdate, PushAck, PushFailure
from sfsync.domain.push import ConsentChange, ConsentSource, Preflight, plan_push
from sfsync.services.import_plan import RecordError


@attrs.define
class PagePush:
    updates: list[ContactUpdate] = attrs.Factory(list)
    sent_for: dict[SalesforceId, str] = attrs.Factory(dict)  # Contact Id -> candidate id
    # Every candidate planned: the values both sides hold already (due whatever Salesforce
    # answers), what it was planned from and whether an update is on its way.
    acks: list[PushAck] = attrs.Factory(list)
    candidates: list[Candidate] = attrs.Factory(list)  # two-way wins, Salesforce opt-outs
    # Salesforce's opt-outs, due now (sfsync's are kept once Salesforce acknowledges them)
    consent: list[ConsentChange] = attrs.Factory(list)
    errors: list[RecordError] = attrs.Factory(list)
    counts: Counter[str] = attrs.Factory(Counter)
    skipped: Counter[str] = attrs.Factory(Counter)


def plan_page(
    checked: Preflight,
    candidates: Sequence[Candidate],
    acks: Mapping[str, PushAck],
    failures: Mapping[str, PushFailure],
    contacts: Mapping[str, Contact],
    now: datetime,
    run_started: datetime,
    config: str | None = None,
) -> PagePush:
    """Plan each candidate (all linked to a Contact), one update per Contact.

    Left out: a candidate whose kept failure is not to be retried (a deleted Contact, too
    many attempts), and one that already failed in this run (so a resumed attempt counts
    and keeps it once; the next run retries it).
    """
    page = PagePush()
    for candidate in candidates:
        contact_id = candidate.salesforce_id
        assert contact_id is not None  # the store's page holds linked candidates only
        failure = failures.get(candidate.id)
        if failure is not None and failure.contact_id == contact_id:
            if not failure.retryable:
                page.skipped["push_given_up"] += 1
                continue
            if failure.last_seen is not None and failure.last_seen >= run_started:
                continue  # failed earlier in this run: counted and kept already
        ack = acks.get(candidate.id)
        acknowledged = ack.values if ack is not None and ack.contact_id == contact_id else {}
        contact = contacts.get(contact_id)
        plan = plan_push(
            checked, candidate, acknowledged, contact, candidate.attributes_changed_at, now
        )
        if plan.skipped is not None:
            page.skipped[plan.skipped.value] += 1
            continue
        for field, misfit in plan.refused.items():
            message = f"{field}: the value does not fit the field"
            page.errors.append(RecordError(misfit.value, message, contact_id))
        page.counts["push_conflicts"] += len(plan.conflicts)
        _candidate_changes(page, candidate, plan.candidate_updates, plan.unsubscribed)
        page.consent += [c for c in plan.consent_changes if c.source is ConsentSource.SALESFORCE]
        if plan.update and contact_id in page.sent_for:  # two candidates on one Contact
            page.skipped["same_contact"] += 1  # the first goes
            message = "another candidate is linked to this Contact; not pushed"
            page.errors.append(RecordError("duplicate_contact", message, contact_id))
            continue
        planned = PushAck(
            candidate.id,
            contact_id,
            dict(plan.settled),
            now,
            planned_from=candidate.push_basis or None,
            config=config,
            sending=dict(plan.update) if plan.update else None,
        )
        page.acks.append(planned)
        if plan.update:
            page.updates.append(ContactUpdate(contact_id, dict(plan.update)))
            page.sent_for[contact_id] = candidate.id
    return page


def _candidate_changes(
    page: PagePush, candidate: Candidate, updates: Mapping[str, Any], unsubscribed: bool
) -> None:
    """Salesforce's side won: its two-way values, its opt-out (never a re-subscribe)."""
    if not updates and unsubscribed == candidate.unsubscribed:
        return
    changed = attrs.evolve(
        candidate,
        attributes={**candidate.attributes, **updates},
        unsubscribed=candidate.unsubscribed or unsubscribed,
    )
    page.counts["unsubscribed"] += changed.unsubscribed and not candidate.unsubscribed
    page.counts["updated"] += bool(updates)
    page.candidates.append(changed)
