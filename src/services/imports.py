"""An import run: Contacts stream in page by page, each page committed with the watermark.

A crash loses nothing: the watermark moves in the same transaction as the page it covers,
so the next run (or the retried message) resumes after the last committed page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

import attrs

from sfsync.domain.errors import (
    DomainError,
    PermanentFailure,
    QuotaExhausted,
    ReauthorizationRequired,
    TransientFailure,
    UnknownAccount,
)
from sfsync.domain.mapping import check_mapping
from sfsync.domain.messages import RunStatus, Scope, SyncRequested
from sfsync.domain.model import (
    BASE_FIELDS,
    CURSOR_FIELD,
    AccountSettings,
    Contact,
    ContactSchema,
    DeletionBehaviour,
    SalesforceId,
    SyncCursor,
)
from sfsync.domain.ports import (
    AccountLocks,
    Clock,
    ContactQuery,
    EventPublisher,
    GatewayFactory,
    RunRecord,
    SalesforceGateway,
    UnitOfWork,
)
from sfsync.services.import_plan import ImportContext, RecordError, lookup_keys, plan_batch
from sfsync.services.prefetch import prefetched
from sfsync.services.reports import RunReport, completed_event

LOOKBACK = timedelta(minutes=5)  # re-read rows committed late or sharing a timestamp
GETDELETED_WINDOW = timedelta(days=15)  # Salesforce keeps deletes this long
RECONCILE_EVERY = timedelta(days=7)
PAGE = 2000
MAX_KEPT_ERRORS = 500


@attrs.frozen
class ImportDeps:
    uow: Callable[[], UnitOfWork]
    gateways: GatewayFactory
    publisher: EventPublisher
    clock: Clock
    locks: AccountLocks
    new_id: Callable[[], str] = lambda: f"cand_{uuid.uuid4().hex}"


def run_sync(request: SyncRequested, deps: ImportDeps) -> RunRecord:
    """Handle one sync.requested: a whole import, or one candidate's Contact."""
    account_id = request.account_id
    with deps.uow() as uow:
        done = uow.runs.find_by_request(account_id, request.id)
        settings = uow.accounts.get_settings(account_id)
        connection = uow.connections.get(account_id)
    if done is not None and done.finished_at is not None:
        deps.publisher.publish("sync.completed", completed_event(done))  # at-least-once
        return done
    if settings is None:
        raise UnknownAccount(f"account {account_id} is not known to sfsync")
    if connection is None:
        raise PermanentFailure(
            f"account {account_id} has no Salesforce connection", code="not_connected"
        )
    with deps.locks.hold(account_id) as held:
        if not held:
            raise TransientFailure(f"another sync of account {account_id} is running", code="busy")
        report = RunReport.begin(done, request, deps.clock.now())
        _save_start(deps, report)
        try:
            if connection.needs_reauth:
                raise ReauthorizationRequired("the Salesforce connection must be authorised again")
            with deps.gateways.open(connection, settings) as gateway:
                if request.scope is Scope.EXPORT:
                    report.fail("not_supported", "export is not available in this version")
                elif request.candidate_id is not None:
                    _sync_candidate(request.candidate_id, settings, gateway, deps, report)
                else:
                    _import_all(request, settings, gateway, deps, report)
        except QuotaExhausted as err:
            report.stop(RunStatus.QUOTA, err)
        except (PermanentFailure, ReauthorizationRequired) as err:
            report.stop(RunStatus.FAILED, err)
        except TransientFailure:
            _save(deps, report.record())  # the retry resumes this run from the watermark
            raise
        record = report.finish(deps.clock.now())
        _save(deps, record)
    deps.publisher.publish("sync.completed", completed_event(record))
    return record


def _save_start(deps: ImportDeps, report: RunReport) -> None:
    with deps.uow() as uow:
        if uow.runs.get(report.run_id) is None:
            uow.runs.start(report.record())
        uow.commit()


def _save(deps: ImportDeps, record: RunRecord) -> None:
    with deps.uow() as uow:
        uow.runs.finish(record)
        uow.commit()


def _context(
    settings: AccountSettings, schema: ContactSchema, deps: ImportDeps, report: RunReport
) -> tuple[ImportContext, tuple[str, ...]]:
    with deps.uow() as uow:
        mappings = uow.accounts.mappings(settings.account_id)
    checked = []
    for mapping in mappings:
        try:
            checked.append((mapping, check_mapping(mapping, schema)))
        except DomainError as err:
            report.error(RecordError("invalid_mapping", err.message))
    fields = list(BASE_FIELDS) + [CURSOR_FIELD]
    for optional in (settings.import_flag_field, settings.deletion_field):
        if optional and schema.get(optional) is not None:
            fields.append(optional)
    if settings.only_import_tagged and schema.get(settings.import_flag_field) is None:
        raise PermanentFailure(
            f"the import filter needs the checkbox {settings.import_flag_field} on Contact",
            code="missing_flag_field",
        )
    fields += [field.name for _, field in checked]
    return ImportContext(settings, tuple(checked)), tuple(dict.fromkeys(fields))


def _import_all(
    request: SyncRequested,
    settings: AccountSettings,
    gateway: SalesforceGateway,
    deps: ImportDeps,
    report: RunReport,
) -> None:
    schema = gateway.describe_contact()
    ctx, fields = _context(settings, schema, deps, report)
    report.fields_read = fields
    with deps.uow() as uow:
        cursor = None if request.full_resync else uow.runs.cursor(settings.account_id)
    report.mode = "full" if cursor is None else "incremental"
    report.cursor = cursor
    if cursor is None:  # queryAll below sees every delete up to now: getDeleted starts here
        report.deletes_covered = report.started_at - LOOKBACK
    deleted = _hard_deletes(cursor, settings, gateway, deps, report) if cursor else frozenset()
    since = None if cursor is None else SyncCursor(cursor.modstamp - LOOKBACK, cursor.contact_id)
    flag = settings.import_flag_field if settings.only_import_tagged else None
    read = gateway.read_contacts(ContactQuery(fields, since, flag, include_deleted=True))
    report.expected = read.expected
    seen: set[str] = set()
    for batch in prefetched(read.batches):
        if deleted:
            seen.update(contact.id for contact in batch)
        _apply_page(batch, ctx, deps, report, move_cursor=True)
    if deleted - seen:
        _apply_gone(sorted(deleted - seen), ctx, deps, report)
    if request.full_resync or _reconcile_due(settings, deps):
        _reconcile(ctx, fields, gateway, deps, report)
    if report.deletes_covered is not None:
        with deps.uow() as uow:
            uow.runs.save_deletes_checked(settings.account_id, report.deletes_covered)
            uow.commit()


def _hard_deletes(
    cursor: SyncCursor,
    settings: AccountSettings,
    gateway: SalesforceGateway,
    deps: ImportDeps,
    report: RunReport,
) -> frozenset[str]:
    """Contacts deleted since the last check (getDeleted): queryAll misses purged ones.

    getDeleted works in whole minutes and says how far it is complete (latestDateCovered),
    so the next window starts there, not at the import cursor.
    """
    if settings.deletion_behaviour is DeletionBehaviour.KEEP:
        return frozenset()  # nothing would change: save the API call
    now = deps.clock.now()
    with deps.uow() as uow:
        start = uow.runs.deletes_checked(settings.account_id) or cursor.modstamp - LOOKBACK
    oldest = now - GETDELETED_WINDOW + timedelta(minutes=1)
    if start < oldest:
        report.error(
            RecordError(
                "deletes_window_exceeded",
                "deletes older than 15 days may be missed: run a full import",
            )
        )
        start = oldest
    start = min(start, now - timedelta(minutes=2))  # Salesforce wants > 1 minute
    deleted = gateway.deleted_contacts(start, now)
    report.deletes_covered = deleted.latest_date_covered
    return frozenset(deleted.ids)


def _apply_gone(
    ids: Sequence[str], ctx: ImportContext, deps: ImportDeps, report: RunReport
) -> None:
    """Contacts no query returns any more (purged, or gone past the recycle bin), by Id."""
    ghosts = [Contact(id=SalesforceId(i), email=None, is_deleted=True) for i in ids]
    for start in range(0, len(ghosts), PAGE):
        page = ghosts[start : start + PAGE]
        _apply_page(page, ctx, deps, report, move_cursor=False, count_seen=False)


def _reconcile_due(settings: AccountSettings, deps: ImportDeps) -> bool:
    """Weekly; a first import counts as one (it has just read every Contact)."""
    with deps.uow() as uow:
        last = uow.runs.reconciled_at(settings.account_id)
        if last is None:
            uow.runs.save_reconciled_at(settings.account_id, deps.clock.now())
            uow.commit()
            return False
    return deps.clock.now() - last >= RECONCILE_EVERY


def _reconcile(
    ctx: ImportContext,
    fields: Sequence[str],
    gateway: SalesforceGateway,
    deps: ImportDeps,
    report: RunReport,
) -> None:
    """The cheap reconcile: every live Contact's Id and SystemModstamp, nothing else.

    Candidates whose Contact is gone (deleted past the recycle bin, or purged while no run
    was looking) get the deletion behaviour; Contacts newer than their candidate (an update
    the cursor missed) are read again by Id.
    """
    account_id = ctx.settings.account_id
    started = deps.clock.now()
    for batch in prefetched(gateway.contact_stamps().batches):
        stamps = [(c.id, c.system_modstamp) for c in batch if c.system_modstamp is not None]
        with deps.uow() as uow:
            uow.candidates.record_seen(account_id, report.run_id, stamps)
            uow.commit()
    with deps.uow() as uow:
        gone, missed = uow.candidates.reconcile_seen(account_id, report.run_id)
        uow.commit()
    report.counts["reconcile_gone"] += len(gone)
    report.counts["reconcile_missed"] += len(missed)
    if missed:
        read = gateway.read_contacts(ContactQuery(tuple(fields), ids=tuple(missed)))
        for batch in read.batches:
            _apply_page(batch, ctx, deps, report, move_cursor=False, count_seen=False)
    if gone:
        _apply_gone(gone, ctx, deps, report)
    with deps.uow() as uow:
        uow.runs.save_reconciled_at(account_id, started)
        uow.commit()


def _sync_candidate(
    candidate_id: str,
    settings: AccountSettings,
    gateway: SalesforceGateway,
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
    ctx, fields = _context(settings, schema, deps, report)
    report.fields_read = fields
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
    report.expected = read.expected
    for batch in read.batches:
        _apply_page(batch, ctx, deps, report, move_cursor=False)


def _apply_page(
    batch: Sequence[Contact],
    ctx: ImportContext,
    deps: ImportDeps,
    report: RunReport,
    *,
    move_cursor: bool,
    count_seen: bool = True,
) -> None:
    account_id = ctx.settings.account_id
    ids, emails = lookup_keys(batch)
    with deps.uow() as uow:
        existing = uow.candidates.find_for_contacts(account_id, ids, emails)
        plan = plan_batch(batch, existing, ctx, deps.new_id)
        uow.candidates.apply_changes(account_id, list(plan.upserts.values()), plan.deletes)
        report.add(plan, count_seen=count_seen)
        uow.runs.progress(report.run_id, report.processed, report.expected)
        cursor = _furthest(batch) if move_cursor else None
        if cursor is not None and report.advance(cursor):
            uow.runs.save_cursor(account_id, cursor)
        uow.commit()


def _furthest(batch: Sequence[Contact]) -> SyncCursor | None:
    stamps = [(c.system_modstamp, c.id) for c in batch if c.system_modstamp is not None]
    return SyncCursor(*max(stamps)) if stamps else None
