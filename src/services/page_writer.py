"""Look pages up ahead, plan them in order, write each in the background.

Three things overlap: the candidates page N+1 can touch are read (`looked_up`, in the read
ahead thread), page N is planned, and page N-1 is written; at most one page is in flight.
A lookup may not show the pages planned or written since it began, so each plan starts
from what its lookup found plus the changes of those pages (the overlay): a Contact or an
email that appears in several nearby pages still lands on one candidate.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import attrs

from sfsync.domain.errors import Interrupted
from sfsync.domain.model import Candidate, Contact, SyncCursor
from sfsync.domain.ports import RunRecord
from sfsync.services.import_plan import BatchPlan, ImportContext, lookup_keys, plan_batch
from sfsync.services.import_steps import (
    ImportDeps,
    PageChanges,
    furthest,
    page_changes,
    write_plan,
)
from sfsync.services.prefetch import prefetched, rebatched
from sfsync.services.reports import RunReport
from sfsync.services.run_log import log_page


@attrs.frozen
class Lookup:
    found: list[Candidate]  # what the store held for the page's Contact Ids and emails
    keys: frozenset[str] = attrs.field(repr=False)  # those Contact Ids and email keys
    committed: int  # pages known committed when it was read: later ones may be missing


class PageWriter:
    def __init__(
        self, ctx: ImportContext, deps: ImportDeps, report: RunReport, *, ordered: bool = True
    ) -> None:
        """`ordered`: the read comes in (SystemModstamp, Id) order, so each committed page
        moves the account's cursor and the run's position; otherwise neither moves."""
        self.ctx, self.deps, self.report = ctx, deps, report
        self.ordered = ordered
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sfsync-writer")
        self._pending: Future[None] | None = None
        self._planned = 0  # pages planned, numbered from 1
        self._committed = 0  # pages committed (set by the writer thread)
        self._recent: dict[int, BatchPlan] = {}  # plans a lookup may not show yet
        self._saved = report.record()  # the run as its last committed page left it

    def __enter__(self) -> PageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.wait()
            elif self._pending is not None and self._pending.exception() is not None:
                self.report.restore(self._saved)  # the run's error wins; the page is not in
        finally:
            self._pool.shutdown(wait=True)

    def looked_up(
        self, batches: Iterable[Sequence[Contact]]
    ) -> Iterator[tuple[Sequence[Contact], Lookup]]:
        """Each page with its lookup, read as the page arrives (run it ahead of `apply`)."""
        account_id = self.ctx.settings.account_id
        for batch in batches:
            committed = self._committed  # read before the query: it shows at least these
            ids, emails = lookup_keys(batch)
            with self.deps.uow() as uow:
                found = uow.candidates.find_for_contacts(account_id, ids, emails)
            yield batch, Lookup(found, frozenset(ids).union(emails), committed)

    def apply(self, batch: Sequence[Contact], lookup: Lookup) -> None:
        """Plan `batch` now and write it in the background; the cursor moves with it."""
        existing = self._existing(batch, lookup)
        plan = plan_batch(batch, existing, self.ctx, self.deps.new_id, self.deps.clock.now())
        self._planned += 1
        self._recent[self._planned] = plan
        changes = page_changes(plan)
        self.wait()  # one page in flight: the previous one is committed before this starts
        self.report.add(plan)
        cursor = furthest(batch) if self.ordered else None
        move = cursor is not None and self.report.advance(cursor)
        if cursor is not None:
            self.report.reach(cursor)
        run = self.report.record()  # a copy: the writer must not read what planning changes
        self._pending = self._pool.submit(  # in this context: its log lines carry the ids
            contextvars.copy_context().run,
            self._write,
            self._planned,
            changes,
            cursor if move else None,
            run,
        )

    def wait(self) -> None:
        """Block until the page in flight is committed; raise its error, if any (the report
        then goes back to the last committed page)."""
        pending, self._pending = self._pending, None
        if pending is not None and pending.exception() is not None:
            self.report.restore(self._saved)
            pending.result()

    def _existing(self, batch: Sequence[Contact], lookup: Lookup) -> list[Candidate]:
        found = {c.id: c for c in lookup.found}
        for page in sorted(self._recent):
            if page <= lookup.committed:  # shown by this lookup, and so by every later one
                del self._recent[page]
            else:
                _overlay(found, self._recent[page], lookup.keys)
        return list(found.values())

    def _write(
        self, page: int, changes: PageChanges, cursor: SyncCursor | None, run: RunRecord
    ) -> None:
        with self.deps.uow() as uow:
            write_plan(uow, self.ctx.settings.account_id, changes, run, cursor)
        before, self._committed, self._saved = self._saved, page, run
        log_page(self.deps.run_log, self.deps.metrics, self.report, before, run)


def write_read(
    batches: Iterator[Sequence[Contact]],
    ctx: ImportContext,
    deps: ImportDeps,
    report: RunReport,
    *,
    ordered: bool = True,
    seen: set[str] | None = None,
) -> None:
    """Plan and write every Contact of a read, a page at a time (the cursor moves only for
    an `ordered` read), their Ids added to `seen` when given; on a shutdown the page in
    hand commits, then Interrupted."""
    with PageWriter(ctx, deps, report, ordered=ordered) as writer:
        pages = writer.looked_up(rebatched(batches, deps.write_page))
        for batch, lookup in prefetched(pages, depth=1, stopping=deps.stopping):
            if seen is not None:
                seen.update(contact.id for contact in batch)
            writer.apply(batch, lookup)
            if deps.stopping():
                writer.wait()
                raise Interrupted()


def _overlay(found: dict[str, Candidate], plan: BatchPlan, keys: frozenset[str]) -> None:
    """Bring `found` up to date with a plan its lookup may not show: the candidates the plan
    wrote that this page can touch (only those: fewer to index), minus what it deleted."""
    for candidate_id, candidate in plan.upserts.items():
        if candidate_id in found or candidate.email_key in keys or candidate.salesforce_id in keys:
            found[candidate_id] = candidate
    for candidate_id in plan.deletes:
        found.pop(candidate_id, None)
