"""The push (export) of one account: its linked candidates page by page, each page committed
with what Salesforce acknowledged, so a rerun sends only what was not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import (
    AccountSettings,
    Candidate,
    Contact,
    MappingDirection,
    SalesforceId,
)
from sfsync.domain.ports import (
    ContactQuery,
    PushAck,
    PushFailure,
    SalesforceGateway,
    UnitOfWork,
    WriteResult,
)
from sfsync.domain.push import ConsentChange, Preflight, account_refusal, preflight
from sfsync.services.import_plan import RecordError
from sfsync.services.import_steps import ImportDeps
from sfsync.services.push.page import PagePush, Pending, plan_page
from sfsync.services.push.send import send
from sfsync.services.reports import RunReport
from sfsync.services.run_log import log_page

# Salesforce's codes for a Contact that is gone: retrying cannot help.
GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})


def refuse_push(settings: AccountSettings) -> None:
    """PermanentFailure when the account may not push at all (vendor mode, push off)."""
    reason = account_refusal(settings)
    if reason is not None:
        raise PermanentFailure(f"push is refused for this account: {reason}", code=reason)


def run_push(
    settings: AccountSettings, gateway: SalesforceGateway, deps: ImportDeps, report: RunReport
) -> None:
    """Push every linked candidate's exported values and unsubscribe to its Contact."""
    refuse_push(settings)
    with deps.uow() as uow:
        mappings = uow.accounts.mappings(settings.account_id)
    checked = preflight(settings, gateway.describe_contact(), mappings)
    for field, reason in sorted(checked.refused_fields.items()):
        report.error(RecordError(reason.value, f"{field}: not pushed ({reason.value})"))
    if not report.mode:
        report.mode = "push"
    after: str | None = None
    while True:
        with deps.uow() as uow:
            candidates = uow.candidates.from_salesforce(settings.account_id, after, deps.push_page)
            ids = [c.id for c in candidates]
            acks = uow.push_state.acknowledged(settings.account_id, ids)
            failures = uow.push_failures.for_candidates(settings.account_id, ids)
        if not candidates:
            return
        after = candidates[-1].id
        contacts = _contacts(gateway, checked, candidates)
        now = deps.clock.now()
        page = plan_page(checked, candidates, acks, failures, contacts, now, report.started_at)
        results, stopped = send(gateway, page.updates)
        _commit(page, results, now, settings, deps, report)
        if stopped is not None:
            raise stopped


def _contacts(
    gateway: SalesforceGateway, checked: Preflight, candidates: Sequence[Candidate]
) -> dict[str, Contact]:
    """The page's Contacts as they are now, read only when a two-way mapping needs them
    (with the opt-out, so Salesforce's unsubscribes come too). A push of export mappings
    reads nothing: what Salesforce last acknowledged is enough to know what changed."""
    two_way = [
        t.field.name for t in checked.targets if t.mapping.direction is MappingDirection.TWO_WAY
    ]
    if not two_way:
        return {}
    fields = [*two_way, *([checked.consent_field.name] if checked.consent_field else [])]
    ids = tuple(c.salesforce_id for c in candidates if c.salesforce_id)
    read = gateway.read_contacts(ContactQuery(tuple(dict.fromkeys(fields)), ids=ids))
    return {c.id: c for batch in read.batches for c in batch}


def _commit(
    page: PagePush,
    results: Mapping[SalesforceId, WriteResult],
    now: datetime,
    settings: AccountSettings,
    deps: ImportDeps,
    report: RunReport,
) -> None:
    """One transaction: acknowledgements, failures, consent, candidates and the run."""
    saved = report.record()
    acks = list(page.acks)
    consent = list(page.consent)
    failed: list[PushFailure] = []
    cleared: list[str] = []
    for contact_id, pending in page.pending.items():
        result = results.get(contact_id)
        if result is None:  # not sent: a whole-call failure stopped the page
            continue
        if result.ok:
            acks.append(PushAck(pending.candidate_id, contact_id, dict(pending.acknowledge), now))
            consent += pending.consent
            cleared.append(pending.candidate_id)
            report.counts["pushed"] += 1
            continue
        if pending.settled:
            acks.append(PushAck(pending.candidate_id, contact_id, dict(pending.settled), now))
        failed.append(_failure(pending, result, deps.push_attempts))
        report.counts["push_failed"] += 1
        _error(report, RecordError(_code(result), _message(result), contact_id))
    report.counts.update(page.counts)
    report.skipped.update(page.skipped)
    for error in page.errors:
        _error(report, error)
    try:
        with deps.uow() as uow:
            _write(uow, page, acks, failed, cleared, consent, now, settings)
            run = report.record()
            uow.runs.checkpoint(run)
            uow.commit()
    except BaseException:
        report.restore(saved)
        raise
    log_page(deps.run_log, report, saved, run)


def _write(
    uow: UnitOfWork,
    page: PagePush,
    acks: list[PushAck],
    failed: list[PushFailure],
    cleared: list[str],
    consent: list[ConsentChange],
    now: datetime,
    settings: AccountSettings,
) -> None:
    account_id = settings.account_id
    uow.push_state.acknowledge(account_id, acks)
    uow.push_failures.record(account_id, failed, now)
    uow.push_failures.clear(account_id, cleared)
    uow.consent.append(account_id, consent)
    if page.candidates:
        uow.candidates.apply_changes(account_id, page.candidates, [])


def _failure(pending: Pending, result: WriteResult, max_attempts: int) -> PushFailure:
    code = _code(result)
    retryable = code not in GONE and pending.attempts + 1 < max_attempts
    return PushFailure(
        pending.candidate_id,
        result.contact_id,
        code,
        result.fields,
        result.message or "",
        retryable=retryable,
    )


def _code(result: WriteResult) -> str:
    return result.error_code or "UNKNOWN"


def _message(result: WriteResult) -> str:
    fields = ", ".join(result.fields)
    return f"push refused ({fields})" if fields else "push refused"


def _error(report: RunReport, error: RecordError) -> None:
    """Each record error once per run, though a resumed attempt meets it again."""
    if attrs.asdict(error) not in report.errors:
        report.error(error)
