"""Importing through a vendor's copy of the org (vendor mode).

The vendor is a cache: an edit or a delete in Salesforce shows only after the vendor's own
sync, which stamps `modified_at` with the vendor's time. So a run reads what the vendor
changed since the previous run's fetch began, less an overlap (a vendor sync may commit rows
it stamped a while ago), and saves when its own fetch began for the next run. The vendor
keeps deleted Contacts (flagged), so the deletion behaviour needs no getDeleted and no
reconcile; it cannot filter on a custom field, so every Contact is read and the import
filter skips the unflagged ones (`not_tagged`), said in the run's source record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from sfsync.domain.messages import SyncRequested, Trigger
from sfsync.domain.model import VENDOR_MODEL, AccountSettings, SalesforceId, SyncCursor, SyncMarks
from sfsync.domain.ports import CacheStatus, ContactCache, ContactQuery, ContactReader
from sfsync.services.import_steps import ImportDeps, import_context
from sfsync.services.page_writer import write_read
from sfsync.services.reports import RunReport

OVERLAP = timedelta(minutes=10)  # read again what the vendor stamped this long before


def import_cached(
    request: SyncRequested,
    settings: AccountSettings,
    reader: ContactReader,
    cache: ContactCache,
    deps: ImportDeps,
    report: RunReport,
) -> None:
    ctx, fields = import_context(settings, reader.describe_contact(), deps, report)
    began = deps.clock.now()
    status = _fresh(request, cache, deps.vendor_max_age, began, report)
    if status.syncing and status.last_sync_started is not None:
        began = min(began, status.last_sync_started)  # rows it stamps may still land
    with deps.uow() as uow:
        cursor = uow.runs.cursor(settings.account_id)
        marks = uow.runs.marks(settings.account_id)
    full = request.full_resync or cursor is None or _switched(marks, fields)
    report.mode = "full" if full else "incremental"
    report.fields_read = (VENDOR_MODEL,)
    report.source["fields"] = list(fields)
    if settings.only_import_tagged:
        report.source["filter"] = "after_read"
    after = None if full or cursor is None else _since(cursor)
    if full:  # a new mapping needs every Contact's value: apply them all
        ctx = attrs.evolve(ctx, reapply=True)
    read = reader.read_contacts(ContactQuery(fields, after, include_deleted=True))
    write_read(read.batches, ctx, deps, report, ordered=False)  # a retry reads again
    with deps.uow() as uow:
        uow.runs.save_cursor(settings.account_id, SyncCursor(began, SalesforceId("")))
        uow.runs.save_marks(settings.account_id, SyncMarks(fields=(VENDOR_MODEL, *fields)))
        uow.commit()


def _switched(marks: SyncMarks, fields: Sequence[str]) -> bool:
    """The last import was not a vendor one (the account switched modes: its cursor is a
    SystemModstamp, not a vendor time), or it read fewer fields than this one needs."""
    kept = marks.fields or ()
    return VENDOR_MODEL not in kept or not set(fields) <= set(kept)


def _since(cursor: SyncCursor) -> SyncCursor:
    return SyncCursor(cursor.modstamp - OVERLAP, cursor.contact_id)


def _fresh(
    request: SyncRequested,
    cache: ContactCache,
    max_age: timedelta,
    now: datetime,
    report: RunReport,
) -> CacheStatus:
    """The vendor's last Contact sync; a manual import of a copy older than `max_age` asks
    for a resync first (a refusal is reported, not an error)."""
    status = cache.status()
    finished = status.last_sync_finished
    stale = finished is None or now - finished > max_age
    if not stale or status.syncing or request.trigger is Trigger.SCHEDULE:
        report.source["resync"] = "not_needed" if not stale else "not_asked"
    else:
        refused = cache.resync()
        report.source["resync"] = "requested" if refused is None else f"refused: {refused}"
        if refused is None:
            status = cache.status()
    synced = status.last_sync_finished
    report.source["last_sync_finished"] = (
        synced.isoformat().replace("+00:00", "Z") if synced else None
    )
    return status
