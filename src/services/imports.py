"""An import run: Contacts stream in page by page, each page committed with the watermark.

A crash loses nothing: the watermark, and the run's counts, errors, mode and position, move
in the same transaction as the page they cover, so the retried message carries the run on
after its last committed page, in the same mode, and ends with the counts of one run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import attrs

from sfsync.domain.errors import (
    PermanentFailure,
    QuotaExhausted,
    ReauthorizationRequired,
    TransientFailure,
    UnknownAccount,
)
from sfsync.domain.messages import RunStatus, Scope, SyncRequested
from sfsync.domain.model import VENDOR_MODEL, AccountSettings
from sfsync.domain.ports import ApiUsage, ContactQuery, ContactReader, RunRecord
from sfsync.domain.push import account_refusal
from sfsync.services.accounts import usable_connection
from sfsync.services.import_plan import RecordError
from sfsync.services.import_steps import ImportDeps, apply_page, import_context
from sfsync.services.org_import import import_org
from sfsync.services.push import refuse_push, run_push
from sfsync.services.reports import RunReport, completed_event
from sfsync.services.run_log import log_finished, request_ids, run_ids
from sfsync.services.vendor_import import import_cached

# A replayed request carries these runs on (what their committed pages did is kept).
REOPENABLE = frozenset({RunStatus.FAILED.value, RunStatus.QUOTA.value})


def run_sync(request: SyncRequested, deps: ImportDeps) -> RunRecord:
    """Handle one sync.requested: an import, a push (export), both (full), or one
    candidate's Contact."""
    account_id = request.account_id
    with deps.uow() as uow:
        done = uow.runs.find_by_request(account_id, request.id)
        settings = uow.accounts.get_settings(account_id)
    reopen = done is not None and done.finished_at is not None
    if done is not None and reopen and not (request.replay and done.status in REOPENABLE):
        deps.run_log.skipped(request_ids(request, done), reason="already_finished")
        deps.publisher.publish("sync.completed", completed_event(done))  # at-least-once
        return done
    if settings is None:
        raise UnknownAccount(f"account {account_id} is not known to sfsync")
    with deps.locks.hold(account_id) as held:
        if not held:
            deps.run_log.skipped(request_ids(request, done), reason="busy")
            raise TransientFailure(f"another sync of account {account_id} is running", code="busy")
        report = RunReport.begin(done, request, deps.clock.now())
        if reopen:
            report.reopen()
        _save_start(deps, report)
        deps.run_log.started(run_ids(report), scope=report.scope, resumed=done is not None)
        error: str | None = None
        usage: ApiUsage | None = None
        try:
            if request.scope is Scope.EXPORT and request.candidate_id is None:
                refuse_push(settings)  # before any Salesforce call
            with _open_source(deps, settings) as source:
                try:
                    _run(request, settings, source, deps, report)
                finally:
                    usage = source.api_usage()
                    report.note_calls(_via(settings), source.call_stats())
        except QuotaExhausted as err:
            report.stop(RunStatus.QUOTA, err)
            error = err.code
        except (PermanentFailure, ReauthorizationRequired) as err:
            report.stop(RunStatus.FAILED, err)
            error = err.code
        # Anything else is retried: the pages committed so far hold the run as it stands.
        record = report.finish(deps.clock.now())
        _save(deps, record, usage)
    log_finished(deps.run_log, deps.metrics, report, record, error)
    deps.publisher.publish("sync.completed", completed_event(record))
    return record


def _run(
    request: SyncRequested,
    settings: AccountSettings,
    source: ContactReader,
    deps: ImportDeps,
    report: RunReport,
) -> None:
    """By scope: import, export, or full (the import, then the push, in one run); the way
    of importing is the one the source's capabilities allow."""
    offers = source.capabilities()
    if request.candidate_id is not None:
        _sync_candidate(request.candidate_id, settings, source, deps, report)
        return
    if request.scope is not Scope.EXPORT:
        if offers.changes is not None:
            import_org(request, settings, source, offers.changes, deps, report)
        elif offers.cache is not None:
            import_cached(request, settings, source, offers.cache, deps, report)
        else:
            raise PermanentFailure("the source offers no way to import", code="cannot_import")
    if request.scope is Scope.IMPORT:
        return
    reason = account_refusal(settings)
    if request.scope is Scope.FULL and reason is not None:  # the import stands; say why no push
        report.error(RecordError(reason.value, f"push is refused for this account: {reason}"))
        return
    if offers.writer is None:
        raise PermanentFailure("the source cannot write to Contacts", code="cannot_write")
    run_push(settings, source, offers.writer, deps, report)


def give_up(request: SyncRequested, error: RecordError, deps: ImportDeps) -> RunRecord | None:
    """The request failed and no retry follows (its message is dead-lettered): end its run
    as failed with `error`, or record a failed run when no attempt got as far as starting
    one (busy every time, say), and publish sync.completed so the client is told. None for
    an unknown account: no run can exist for it."""
    with deps.uow() as uow:
        settings = uow.accounts.get_settings(request.account_id)
        run = uow.runs.find_by_request(request.account_id, request.id)
    if settings is None:
        return None
    if run is None or run.finished_at is None:
        report = RunReport.begin(run, request, deps.clock.now())
        report.fail(error.code, error.message)
        run = report.finish(deps.clock.now())
        with deps.uow() as uow:
            if uow.runs.get(run.id) is None:
                uow.runs.start(run)
            else:
                uow.runs.finish(run)
            uow.commit()
        log_finished(deps.run_log, deps.metrics, report, run, error.code)
    else:
        deps.run_log.skipped(request_ids(request, run), reason="already_finished")
    deps.publisher.publish("sync.completed", completed_event(run))
    return run


@contextmanager
def _open_source(deps: ImportDeps, settings: AccountSettings) -> Iterator[ContactReader]:
    """The account's way to its org: the Salesforce API (direct mode, the default) or the
    vendor it is linked through (vendor mode)."""
    account_id = settings.account_id
    with deps.uow() as uow:  # raises when the stored token cannot be decrypted
        connection = uow.connections.get(account_id) if settings.direct_api else None
        link = None if settings.direct_api else uow.vendor_links.get(account_id)
    if settings.direct_api:
        with deps.gateways.open(usable_connection(account_id, connection), settings) as gateway:
            yield gateway
        return
    if link is None:
        raise PermanentFailure(
            f"account {account_id} is in vendor mode but not linked:"
            " run `sfsync connect ACCOUNT --vendor`",
            code="not_connected",
        )
    with deps.gateways.open_vendor(link, settings) as reader:
        yield reader


def _via(settings: AccountSettings) -> str:
    return "salesforce" if settings.direct_api else "vendor"


def _save_start(deps: ImportDeps, report: RunReport) -> None:
    with deps.uow() as uow:
        saved = uow.runs.get(report.run_id)
        if saved is None:
            uow.runs.start(report.record())
        elif saved.finished_at is not None:  # a replay carries a failed run on
            uow.runs.finish(report.record())
        uow.commit()


def _save(deps: ImportDeps, record: RunRecord, usage: ApiUsage | None = None) -> None:
    """The run's end, and the org's API usage as it saw it last (for `sfsync status`)."""
    with deps.uow() as uow:
        uow.runs.finish(record)
        if usage is not None:
            uow.connections.note_usage(record.account_id, usage, deps.clock.now())
        uow.commit()


def _sync_candidate(
    candidate_id: str,
    settings: AccountSettings,
    gateway: ContactReader,
    deps: ImportDeps,
    report: RunReport,
) -> None:
    """The candidate page's manual sync: re-read that one Contact by Id (or by email)."""
    with deps.uow() as uow:
        candidate = uow.candidates.get(settings.account_id, candidate_id)
    if candidate is None:
        raise PermanentFailure(
            f"candidate {candidate_id} is not in account {settings.account_id}",
            code="unknown_candidate",
        )
    schema = gateway.describe_contact()
    ctx, fields = import_context(settings, schema, deps, report)
    ctx = attrs.evolve(ctx, reapply=True)  # asked for by a person: apply it again regardless
    named = gateway.capabilities().reads_named_fields
    report.fields_read = fields if named else (VENDOR_MODEL,)
    report.mode = "candidate"
    ids = (
        (candidate.salesforce_id,)
        if candidate.salesforce_id
        else tuple(gateway.find_contact_ids_by_email(candidate.email))
    )
    if not ids:
        report.skip("not_in_salesforce")
        return
    read = gateway.read_contacts(ContactQuery(fields, ids=ids, include_deleted=True))
    report.expected = read.expected if read.expected is None else report.processed + read.expected
    for batch in read.batches:
        apply_page(batch, ctx, deps, report)
