"""The steps every import shares: what to read, and how one page is applied and committed."""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Sequence
from datetime import timedelta

import attrs

from sfsync.domain.errors import DomainError, Interrupted, PermanentFailure
from sfsync.domain.mapping import check_mapping
from sfsync.domain.model import (
    BASE_FIELDS,
    CURSOR_FIELD,
    AccountId,
    AccountSettings,
    Candidate,
    Contact,
    ContactSchema,
    FieldType,
    SyncCursor,
)
from sfsync.domain.ports import (
    AccountLocks,
    Clock,
    EventPublisher,
    GatewayFactory,
    Metrics,
    PushAck,
    RunLog,
    RunRecord,
    UnitOfWork,
)
from sfsync.domain.push import ConsentChange
from sfsync.services.import_plan import (
    BatchPlan,
    ImportContext,
    RecordError,
    lookup_keys,
    plan_batch,
)
from sfsync.services.reports import RunReport
from sfsync.services.run_log import log_page


class RandomIds:
    """Random 128-bit ids, 256 made per call to the OS's randomness (one syscall per id was
    a tenth of an import's time)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._ready: list[str] = []

    def __call__(self) -> str:
        try:
            return self._ready.pop()  # atomic: threads may share one RandomIds
        except IndexError:
            pool = os.urandom(16 * 256)
            self._ready += [self.prefix + pool[at : at + 16].hex() for at in range(0, 4096, 16)]
            return self()


@attrs.frozen
class ImportDeps:
    uow: Callable[[], UnitOfWork]
    gateways: GatewayFactory
    publisher: EventPublisher
    clock: Clock
    locks: AccountLocks
    run_log: RunLog
    metrics: Metrics
    new_id: Callable[[], str] = attrs.Factory(lambda: RandomIds("cand_"))
    write_page: int = 2000  # Contacts planned and written together (about four in memory)
    push_page: int = 5000  # candidates a push plans, sends and commits together
    push_attempts: int = 5  # failed updates of one Contact in a row before it is given up
    vendor_max_age: timedelta = timedelta(minutes=60)  # vendor mode: resync an older copy
    stopping: Callable[[], bool] = attrs.field(default=lambda: False, repr=False)


def stop_if_asked(deps: ImportDeps) -> None:
    """Between pages: raise Interrupted once the worker is shutting down (the pages so far
    are committed; the redelivered message carries the run on from there)."""
    if deps.stopping():
        raise Interrupted()


def import_context(
    settings: AccountSettings, schema: ContactSchema, deps: ImportDeps, report: RunReport
) -> tuple[ImportContext, tuple[str, ...]]:
    with deps.uow() as uow:
        mappings = uow.accounts.mappings(settings.account_id)
    checked = []
    for mapping in (m for m in mappings if m.imports):  # export-only: the push's, not ours
        try:
            checked.append((mapping, check_mapping(mapping, schema)))
        except DomainError as err:
            report.error(RecordError("invalid_mapping", err.message))
    fields = list(BASE_FIELDS) + [CURSOR_FIELD]
    for optional in (settings.import_flag_field, settings.deletion_field):
        if optional and schema.get(optional) is not None:
            fields.append(optional)
    opt_out = _opt_out_field(settings, schema)
    if opt_out is not None:  # consent is sticky: a Contact's opt-out unsubscribes its candidate
        fields.append(opt_out)
    if settings.only_import_tagged and schema.get(settings.import_flag_field) is None:
        raise PermanentFailure(
            f"the import filter needs the checkbox {settings.import_flag_field} on Contact",
            code="missing_flag_field",
        )
    fields += [field.name for _, field in checked]
    return ImportContext(settings, tuple(checked), opt_out), tuple(dict.fromkeys(fields))


def _opt_out_field(settings: AccountSettings, schema: ContactSchema) -> str | None:
    """The account's unsubscribe field, when the describe has it as a visible checkbox (an
    org without it, or one that hides it from the running user, simply has no opt-out)."""
    field = schema.get(settings.unsubscribe_field)
    if field is None or field.deprecated_and_hidden or field.type is not FieldType.BOOLEAN:
        return None
    return field.name


def apply_page(
    batch: Sequence[Contact],
    ctx: ImportContext,
    deps: ImportDeps,
    report: RunReport,
    *,
    count_seen: bool = True,
    count_skipped: bool = True,
) -> None:
    """Plan and write one page at once (the paths that do not move the watermark)."""
    account_id = ctx.settings.account_id
    ids, emails = lookup_keys(batch)
    saved = report.record()
    with deps.uow() as uow:
        existing = uow.candidates.find_for_contacts(account_id, ids, emails)
        plan = plan_batch(batch, existing, ctx, deps.new_id, deps.clock.now())
        report.add(plan, count_seen=count_seen, count_skipped=count_skipped)
        try:
            run = report.record()
            write_plan(uow, account_id, page_changes(plan), run)
        except BaseException:
            report.restore(saved)  # the report holds what is committed, nothing more
            raise
    log_page(deps.run_log, deps.metrics, report, saved, run)


@attrs.frozen
class PageChanges:
    """What a page writes: candidates updated, deleted (by id) and created, and the consent
    changes the page made."""

    updates: list[Candidate]
    deletes: list[str]
    creates: list[Candidate]
    consent: list[ConsentChange]
    held: list[PushAck]  # opt-outs Salesforce holds, for the push (read_back)


def page_changes(plan: BatchPlan) -> PageChanges:
    created = plan.created
    updates = [c for i, c in plan.upserts.items() if i not in created]
    creates = [c for i, c in plan.upserts.items() if i in created]
    return PageChanges(updates, plan.deletes, creates, plan.consent, plan.held)


def write_plan(
    uow: UnitOfWork,
    account_id: AccountId,
    changes: PageChanges,
    run: RunRecord,
    cursor: SyncCursor | None = None,
) -> None:
    """Commit a page's changes with the run as of this page (counts, errors, position) and,
    when given, the account's watermark."""
    uow.candidates.apply_changes(
        account_id, changes.updates, changes.deletes, creates=changes.creates
    )
    if changes.consent:  # after the candidates: a new one's row must exist
        uow.consent.append(account_id, changes.consent)
    if changes.held:
        uow.push_state.read_back(account_id, changes.held)
    uow.runs.checkpoint(run)
    if cursor is not None:
        uow.runs.save_cursor(account_id, cursor)
    uow.commit()


_STAMP = operator.attrgetter("system_modstamp", "id")


def furthest(batch: Sequence[Contact]) -> SyncCursor | None:
    """The (SystemModstamp, Id) a page ends at: the watermark once it is committed."""
    try:
        stamp = max(map(_STAMP, batch), default=None)  # C-level, for the usual page
    except TypeError:  # some Contact without a SystemModstamp
        stamp = max((s for s in map(_STAMP, batch) if s[0] is not None), default=None)
    return None if stamp is None or stamp[0] is None else SyncCursor(*stamp)
