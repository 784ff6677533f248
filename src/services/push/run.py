"""The push (export) of one account: its linked candidates planned page by page and sent
as one stream of updates (one Bulk ingest job above the adapter's threshold); Salesforce's
results are committed page by page, so a rerun sends only what was not acknowledged.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

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
    ContactReader,
    ContactUpdate,
    ContactWriter,
    PushFailure,
    UnitOfWork,
    WriteResult,
)
from sfsync.domain.push import (
    ConsentChange,
    ConsentSource,
    Preflight,
    account_refusal,
    preflight,
)
from sfsync.services.import_plan import RecordError
from sfsync.services.import_steps import ImportDeps, stop_if_asked
from sfsync.services.push.page import PagePush, plan_page
from sfsync.services.push.pipeline import Committer
from sfsync.services.push.send import retry_locked
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
    settings: AccountSettings,
    gateway: ContactReader,
    writer: ContactWriter,
    deps: ImportDeps,
    report: RunReport,
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
    with Committer() as committer:
        push = _Push(settings, gateway, deps, report, checked, committer)
        results = writer.update_contacts_streamed(_columns(checked), push.pages())
        for chunk in _chunks(results, deps.push_page):
            confirmed, stopped = retry_locked(writer, chunk)
            push.commit_results(confirmed)
            if stopped is not None:
                raise stopped


def push_config(checked: Preflight) -> str | None:
    """A digest of what a push plans under: each pushed mapping with its field as
    described, and the unsubscribe field. None with a two-way mapping: then the Contacts'
    own changes matter, and every candidate is planned."""
    if any(t.mapping.direction is MappingDirection.TWO_WAY for t in checked.targets):
        return None
    described = sorted(
        repr((attrs.astuple(t.mapping), attrs.astuple(t.field))) for t in checked.targets
    )
    consent = attrs.astuple(checked.consent_field) if checked.consent_field else None
    return hashlib.sha256(repr((described, consent)).encode()).hexdigest()


def _chunks(results: Iterator[WriteResult], size: int) -> Iterator[list[WriteResult]]:
    """`size` results at a time; when the stream breaks off (quota, an outage), the results
    before the break come first, then its error: what Salesforce saved is committed."""
    chunk: list[WriteResult] = []
    try:
        for result in results:
            chunk.append(result)
            if len(chunk) == size:
                yield chunk
                chunk = []
    except Exception:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def _columns(checked: Preflight) -> list[str]:
    """Every field an update may set: the pushed targets and the unsubscribe field."""
    names = [t.field.name for t in checked.targets]
    if checked.consent_field is not None:
        names.append(checked.consent_field.name)
    return list(dict.fromkeys(names))


@attrs.define
class _Outcome:
    """What a transaction adds to the run's report."""

    counts: Counter[str] = attrs.Factory(Counter)
    skipped: Counter[str] = attrs.Factory(Counter)
    errors: list[RecordError] = attrs.Factory(list)


@attrs.define
class _Push:
    settings: AccountSettings
    gateway: ContactReader
    deps: ImportDeps
    report: RunReport
    checked: Preflight
    committer: Committer
    config: str | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.config = push_config(self.checked)

    def pages(self) -> Iterator[list[ContactUpdate]]:
        """Each page planned and what needs no answer from Salesforce committed, then its
        updates handed to the stream (nothing of a page is kept once it is sent)."""
        account_id, after = self.settings.account_id, None
        while True:
            # A stop comes before a page is planned, so before anything more is sent:
            # what Salesforce already took is always answered and committed, never sent twice.
            stop_if_asked(self.deps)
            with self.deps.uow() as uow:
                candidates = uow.candidates.from_salesforce(
                    account_id, after, self.deps.push_page, self.config
                )
                ids = [c.id for c in candidates]
                acks = uow.push_state.acknowledged(account_id, ids)
                failures = uow.push_failures.for_candidates(account_id, ids)
            if not candidates:
                return
            after = candidates[-1].id
            contacts = _contacts(self.gateway, self.checked, candidates)
            now = self.deps.clock.now()
            started = self.report.started_at
            page = plan_page(
                self.checked, candidates, acks, failures, contacts, now, started, self.config
            )
            self._commit_plan(page, now)
            yield page.updates

    def _commit_plan(self, page: PagePush, now: datetime) -> None:
        """What holds whatever Salesforce answers: values both sides hold already (also of
        the candidates an update goes to), two-way wins, Salesforce's opt-outs, misfits."""
        acks = page.acks

        def write(uow: UnitOfWork) -> _Outcome:
            account_id = self.settings.account_id
            uow.push_state.acknowledge(account_id, acks)
            uow.consent.append(account_id, page.consent)
            if page.candidates:
                uow.candidates.apply_changes(account_id, page.candidates, [])
            return _Outcome(page.counts, page.skipped, page.errors)

        self._commit(write)

    def commit_results(self, results: Sequence[WriteResult]) -> None:
        """Settle Salesforce's answers by Contact: what it accepted joins what was
        acknowledged (the values kept with the plan), what it refused is kept as a failure."""
        account_id, now = self.settings.account_id, self.deps.clock.now()
        sent = {r.contact_id: r.values for r in results if r.ok}
        refused = {r.contact_id: r for r in results if not r.ok}

        def write(uow: UnitOfWork) -> _Outcome:
            settled = uow.push_state.settle(account_id, list(sent), list(refused), now)
            # A Contact not settled: its candidate was unlinked or deleted since it was planned.
            cleared = [settled[c] for c in sent if c in settled]
            failures = self._failures(uow, settled, refused)
            uow.push_failures.record(account_id, failures, now)
            uow.push_failures.clear(account_id, cleared)
            uow.consent.append(account_id, self._unsubscribes(settled, sent, now))
            errors = [RecordError(f.code, _message(f.fields), f.contact_id) for f in failures]
            counts = Counter(pushed=len(cleared), push_failed=len(failures))
            return _Outcome(counts, errors=errors)

        self._commit(write)

    def _failures(
        self,
        uow: UnitOfWork,
        settled: Mapping[SalesforceId, str],
        refused: Mapping[SalesforceId, WriteResult],
    ) -> list[PushFailure]:
        """The refused updates as failures, each counting one more attempt after the
        failures kept for the same Contact."""
        failed = [(settled[c], r) for c, r in refused.items() if c in settled]
        if not failed:
            return []
        account_id = self.settings.account_id
        before = uow.push_failures.for_candidates(account_id, [c for c, _ in failed])
        failures = []
        for candidate_id, result in failed:
            kept = before.get(candidate_id)
            attempts = kept.attempts if kept and kept.contact_id == result.contact_id else 0
            failures.append(_failure(candidate_id, result, attempts, self.deps.push_attempts))
        return failures

    def _unsubscribes(
        self,
        settled: Mapping[SalesforceId, str],
        sent: Mapping[SalesforceId, Mapping[str, Any]],
        now: datetime,
    ) -> list[ConsentChange]:
        """sfsync's unsubscribes Salesforce acknowledged: consent changes from here."""
        field = self.checked.consent_field
        if field is None:
            return []
        return [
            ConsentChange(settled[c], True, ConsentSource.SFSYNC, now)
            for c, values in sent.items()
            if c in settled and values.get(field.name) is True
        ]

    def _commit(self, write: Callable[[UnitOfWork], _Outcome]) -> None:
        """One transaction, in the background: the writes and the run's checkpoint, with
        their counts and errors (the report is as before if the transaction fails)."""
        self.committer.submit(lambda: self._commit_now(write))

    def _commit_now(self, write: Callable[[UnitOfWork], _Outcome]) -> None:
        report = self.report
        saved = report.record()
        try:
            with self.deps.uow() as uow:
                outcome = write(uow)
                report.counts.update(outcome.counts)
                report.skipped.update(outcome.skipped)
                for error in outcome.errors:
                    report.error(error, once=True)
                run = report.record()
                uow.runs.checkpoint(run)
                uow.commit()
        except BaseException:
            report.restore(saved)
            raise
        log_page(self.deps.run_log, self.deps.metrics, report, saved, run)


def _contacts(
    gateway: ContactReader, checked: Preflight, candidates: Sequence[Candidate]
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


def _failure(
    candidate_id: str, result: WriteResult, attempts: int, max_attempts: int
) -> PushFailure:
    code = _code(result)
    retryable = code not in GONE and attempts + 1 < max_attempts
    return PushFailure(
        candidate_id,
        result.contact_id,
        code,
        result.fields,
        result.message or "",
        retryable=retryable,
    )


def _code(result: WriteResult) -> str:
    return result.error_code or "UNKNOWN"


def _message(fields: Sequence[str]) -> str:
    return f"push refused ({', '.join(fields)})" if fields else "push refused"
