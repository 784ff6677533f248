"""Importing a whole org: full the first time, then incremental, with deletes and a reconcile.

Incremental reads take what changed after the page cursor, plus, once, the window of
Contacts that may have been committed late: every Contact modified up to `now - LOOKBACK`
has surely been committed, so a window is re-checked once when it settles instead of a
fixed lookback on every run (a run right after a big change reads nothing twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from sfsync.domain.messages import SyncRequested
from sfsync.domain.model import (
    VENDOR_MODEL,
    AccountSettings,
    Contact,
    DeletionBehaviour,
    SalesforceId,
    SyncCursor,
    SyncMarks,
)
from sfsync.domain.ports import ContactQuery, ContactReader, OrgChanges
from sfsync.services.import_plan import ImportContext, RecordError
from sfsync.services.import_steps import ImportDeps, apply_page, import_context, stop_if_asked
from sfsync.services.page_writer import write_read
from sfsync.services.prefetch import prefetched
from sfsync.services.reports import RunReport

LOOKBACK = timedelta(minutes=5)  # the longest a Salesforce transaction may commit late
GETDELETED_WINDOW = timedelta(days=15)  # Salesforce keeps deletes this long
RECONCILE_EVERY = timedelta(days=7)
PAGE = 2000


@attrs.frozen
class Start:
    """Where a run reads from: its mode, its position, and the time its data dates from."""

    full: bool
    after: SyncCursor | None  # read Contacts past this (SystemModstamp, Id); None: all
    since: datetime  # every Contact before `after` was read after this (a full run's marks)
    resumed: bool = False  # carries on the pages of earlier attempts of this run


def import_org(
    request: SyncRequested,
    settings: AccountSettings,
    gateway: ContactReader,
    changes: OrgChanges,
    deps: ImportDeps,
    report: RunReport,
) -> None:
    ctx, fields = import_context(settings, gateway.describe_contact(), deps, report)
    now = deps.clock.now()
    with deps.uow() as uow:
        cursor = uow.runs.cursor(settings.account_id)
        marks = uow.runs.marks(settings.account_id)
    start = _start(request, report, fields, cursor, marks, now)
    # fields every page of the run read (a mapping added between attempts was not)
    report.fields_read = tuple(f for f in fields if f in report.fields_read or not start.resumed)
    report.mode = "full" if start.full else "incremental"
    report.cursor = start.after if start.full else cursor
    report.position = start.after if start.resumed else None
    flag = settings.import_flag_field if settings.only_import_tagged else None
    deleted: frozenset[str] = frozenset()
    if start.full:  # a new mapping needs every Contact's value: read them all, apply them all
        query = ContactQuery(fields, start.after, flag, include_deleted=True)
        ctx = attrs.evolve(ctx, reapply=True)
        if start.after is None:  # a later run may carry this import on: remember its start
            started = attrs.evolve(marks, full_started_at=now, fields=marks.fields or fields)
            with deps.uow() as uow:  # (and a first import's fields: what its pages hold)
                uow.runs.save_marks(settings.account_id, started)
                uow.commit()
    else:
        assert cursor is not None
        recheck = None if start.resumed else _recheck(cursor, marks, now)  # read before
        query = ContactQuery(fields, start.after, flag, include_deleted=True, recheck=recheck)
        deleted = _hard_deletes(cursor, marks, settings, changes, now, report)
    read = gateway.read_contacts(query)
    report.expected = report.processed + read.expected if read.expected is not None else None
    seen: set[str] = set()
    write_read(read.batches, ctx, deps, report, seen=seen if deleted else None)
    if deleted - seen:
        apply_gone(sorted(deleted - seen), ctx, deps, report)
    reconciled = marks.reconciled_at
    if request.full_resync or (reconciled and now - reconciled >= RECONCILE_EVERY):
        reconcile(ctx, fields, gateway, changes, deps, report)
        reconciled = now
    settled = (start.since if start.full else now) - LOOKBACK
    marks = SyncMarks(
        settled_until=settled if start.full else max(settled, marks.settled_until or settled),
        deletes_checked_until=settled if start.full else report.deletes_covered,
        reconciled_at=reconciled or now,  # a first import has just read every Contact
        fields=report.fields_read,
    )
    with deps.uow() as uow:
        uow.runs.save_marks(settings.account_id, marks)
        uow.commit()


def _start(
    request: SyncRequested,
    report: RunReport,
    fields: Sequence[str],
    cursor: SyncCursor | None,
    marks: SyncMarks,
    now: datetime,
) -> Start:
    """Full the first time (until the first full import has finished, in however many runs),
    for a forced resync and when the field list grew; incremental otherwise. A retry of a
    run whose pages were committed carries on in its mode from its own position."""
    since = marks.full_started_at or report.started_at
    if report.position is not None and report.mode in ("full", "incremental"):
        return Start(report.mode == "full", report.position, since, resumed=True)
    new_fields = marks.fields is not None and not set(fields) <= set(marks.fields)
    # The last import went through a vendor: its cursor is the vendor's time, and the vendor
    # may have lagged Salesforce, so the first direct run reads everything again.
    restart = request.full_resync or new_fields or VENDOR_MODEL in (marks.fields or ())
    if cursor is not None and _never_finished(marks) and not restart:
        return Start(True, cursor, since)  # still the first import: read on from its cursor
    if restart or cursor is None:
        return Start(True, None, now)
    return Start(False, cursor, now)


def _never_finished(marks: SyncMarks) -> bool:
    """No import of the account has finished yet (each saves these marks at its end)."""
    return marks.settled_until is None and marks.deletes_checked_until is None


def _recheck(
    cursor: SyncCursor, marks: SyncMarks, now: datetime
) -> tuple[datetime, datetime] | None:
    """The window (settled, now - LOOKBACK] to read again, once, now that it has settled."""
    settled = marks.settled_until or cursor.modstamp - LOOKBACK
    until = min(now - LOOKBACK, cursor.modstamp)  # past the cursor the main condition reads
    return (settled, until) if until > settled else None


def _hard_deletes(
    cursor: SyncCursor,
    marks: SyncMarks,
    settings: AccountSettings,
    changes: OrgChanges,
    now: datetime,
    report: RunReport,
) -> frozenset[str]:
    """Contacts deleted since the last check (getDeleted): queryAll misses purged ones.

    getDeleted works in whole minutes and says how far it is complete (latestDateCovered),
    so the next window starts there, not at the import cursor.
    """
    if settings.deletion_behaviour is DeletionBehaviour.KEEP:
        report.deletes_covered = now - LOOKBACK  # deletes change nothing: save the API call
        return frozenset()
    start = marks.deletes_checked_until or cursor.modstamp - LOOKBACK
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
    deleted = changes.deleted_contacts(start, now)
    report.deletes_covered = deleted.latest_date_covered
    return frozenset(deleted.ids)


def apply_gone(ids: Sequence[str], ctx: ImportContext, deps: ImportDeps, report: RunReport) -> None:
    """Contacts no query returns any more (purged, or gone past the recycle bin), by Id.

    Only what they change is counted: one never imported, or a candidate already deleted or
    unsubscribed (by an earlier attempt of this run, say), is no skip of this run."""
    ghosts = [Contact(id=SalesforceId(i), email=None, is_deleted=True) for i in ids]
    for start in range(0, len(ghosts), PAGE):
        stop_if_asked(deps)
        page = ghosts[start : start + PAGE]
        apply_page(page, ctx, deps, report, count_seen=False, count_skipped=False)


def reconcile(
    ctx: ImportContext,
    fields: Sequence[str],
    gateway: ContactReader,
    changes: OrgChanges,
    deps: ImportDeps,
    report: RunReport,
) -> None:
    """The cheap reconcile: every live Contact's Id and SystemModstamp, nothing else.

    Candidates whose Contact is gone (deleted past the recycle bin, or purged while no run
    was looking) get the deletion behaviour; Contacts newer than their candidate (an update
    the cursor missed) are read again by Id.
    """
    account_id = ctx.settings.account_id
    for batch in prefetched(changes.contact_stamps().batches, stopping=deps.stopping):
        stop_if_asked(deps)
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
            apply_page(batch, ctx, deps, report, count_seen=False)
    if gone:
        apply_gone(gone, ctx, deps, report)
