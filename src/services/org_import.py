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
    AccountSettings,
    Contact,
    DeletionBehaviour,
    SalesforceId,
    SyncCursor,
    SyncMarks,
)
from sfsync.domain.ports import ContactQuery, SalesforceGateway
from sfsync.services.import_plan import ImportContext, RecordError
from sfsync.services.import_steps import ImportDeps, apply_page, import_context
from sfsync.services.page_writer import PageWriter
from sfsync.services.prefetch import prefetched, rebatched
from sfsync.services.reports import RunReport

LOOKBACK = timedelta(minutes=5)  # the longest a Salesforce transaction may commit late
GETDELETED_WINDOW = timedelta(days=15)  # Salesforce keeps deletes this long
RECONCILE_EVERY = timedelta(days=7)
PAGE = 2000


def import_org(
    request: SyncRequested,
    settings: AccountSettings,
    gateway: SalesforceGateway,
    deps: ImportDeps,
    report: RunReport,
) -> None:
    ctx, fields = import_context(settings, gateway.describe_contact(), deps, report)
    report.fields_read = fields
    now = deps.clock.now()
    with deps.uow() as uow:
        cursor = uow.runs.cursor(settings.account_id)
        marks = uow.runs.marks(settings.account_id)
    new_fields = marks.fields is not None and not set(fields) <= set(marks.fields)
    full = request.full_resync or cursor is None or new_fields
    report.mode = "full" if full else "incremental"
    report.cursor = None if full else cursor
    flag = settings.import_flag_field if settings.only_import_tagged else None
    if full:  # a new mapping needs every Contact's value: read them all, apply them all
        query = ContactQuery(fields, None, flag, include_deleted=True)
        ctx = attrs.evolve(ctx, reapply=True)
        deleted: frozenset[str] = frozenset()
    else:
        assert cursor is not None
        query = ContactQuery(
            fields, cursor, flag, include_deleted=True, recheck=_recheck(cursor, marks, now)
        )
        deleted = _hard_deletes(cursor, marks, settings, gateway, now, report)
    read = gateway.read_contacts(query)
    report.expected = read.expected
    seen: set[str] = set()
    with PageWriter(ctx, deps, report) as writer:
        pages = writer.looked_up(rebatched(read.batches, deps.write_page))
        for batch, lookup in prefetched(pages, depth=1):
            if deleted:
                seen.update(contact.id for contact in batch)
            writer.apply(batch, lookup)
    if deleted - seen:
        apply_gone(sorted(deleted - seen), ctx, deps, report)
    reconciled = marks.reconciled_at
    if request.full_resync or (reconciled and now - reconciled >= RECONCILE_EVERY):
        reconcile(ctx, fields, gateway, deps, report)
        reconciled = now
    settled = now - LOOKBACK
    marks = SyncMarks(
        settled_until=settled if full else max(settled, marks.settled_until or settled),
        deletes_checked_until=settled if full else report.deletes_covered,
        reconciled_at=reconciled or now,  # a first import has just read every Contact
        fields=fields,
    )
    with deps.uow() as uow:
        uow.runs.save_marks(settings.account_id, marks)
        uow.commit()


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
    gateway: SalesforceGateway,
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
    deleted = gateway.deleted_contacts(start, now)
    report.deletes_covered = deleted.latest_date_covered
    return frozenset(deleted.ids)


def apply_gone(ids: Sequence[str], ctx: ImportContext, deps: ImportDeps, report: RunReport) -> None:
    """Contacts no query returns any more (purged, or gone past the recycle bin), by Id."""
    ghosts = [Contact(id=SalesforceId(i), email=None, is_deleted=True) for i in ids]
    for start in range(0, len(ghosts), PAGE):
        page = ghosts[start : start + PAGE]
        apply_page(page, ctx, deps, report, count_seen=False)


def reconcile(
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
            apply_page(batch, ctx, deps, report, count_seen=False)
    if gone:
        apply_gone(gone, ctx, deps, report)
