"""The import run with fakes: watermarks, deletes, idempotency, outcomes, events."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sfsync.domain.errors import Interrupted, PermanentFailure, TransientFailure, UnknownAccount
from sfsync.domain.messages import Scope, SyncRequested, Trigger
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    DeletionBehaviour,
    FieldInfo,
    FieldType,
    MappingDirection,
)
from sfsync.domain.ports import SalesforceConnection
from sfsync.services.import_plan import RecordError
from sfsync.services.imports import ImportDeps, give_up, run_sync
from tests.fake_salesforce import FakeSalesforce
from tests.fakes import (
    FakeGateways,
    FixedClock,
    InMemoryLocks,
    InMemoryState,
    InMemoryUnitOfWork,
    RecordingMetrics,
    RecordingPublisher,
    RecordingRunLog,
)

ACCOUNT = AccountId("acc_1")
_ids = itertools.count(1)


@attrs.define
class World:
    salesforce: FakeSalesforce
    state: InMemoryState
    deps: ImportDeps
    publisher: RecordingPublisher
    locks: InMemoryLocks

    def candidates(self):
        return sorted(self.state.candidates.values(), key=lambda c: c.email_key)

    def sync(self, **changes) -> object:
        clock = self.deps.clock  # at least two minutes after the fake org's last change
        clock.current = max(clock.now(), self.salesforce._clock + timedelta(minutes=2))  # type: ignore[attr-defined]
        request = SyncRequested(
            "sync.requested",
            1,
            f"req-{next(_ids)}",
            datetime.now(UTC),
            ACCOUNT,
            Scope.IMPORT,
            Trigger.MANUAL,
        )
        return run_sync(attrs.evolve(request, **changes), self.deps)


@pytest.fixture
def world() -> World:
    salesforce = FakeSalesforce(page_size=3)
    state = InMemoryState()
    uow = lambda: InMemoryUnitOfWork(state)  # noqa: E731
    with uow() as tx:
        tx.accounts.save_settings(AccountSettings(ACCOUNT))
        tx.accounts.save_mapping(ACCOUNT, AttributeMapping("favorite_color_c", "Favorite_Color__c"))
        tx.connections.save(
            SalesforceConnection(ACCOUNT, "https://x", "https://login", "tok", "ref")
        )
        tx.commit()
    publisher, locks = RecordingPublisher(), InMemoryLocks()
    clock = FixedClock(datetime.now(UTC))
    deps = ImportDeps(
        uow,
        FakeGateways(salesforce),
        publisher,
        clock,
        locks,
        RecordingRunLog(),
        RecordingMetrics(),
        write_page=3,
    )
    return World(salesforce, state, deps, publisher, locks)


class Killed(BaseException):
    """The process dies (kill -9): no handler of the run gets to run."""


def break_at_page(world: World, page: int, error: BaseException) -> None:
    """Reads fail when they reach `page` (from 0), once; later reads work."""
    real_pages = world.salesforce._pages

    def failing_pages(contacts):
        world.salesforce._pages = real_pages
        for number, batch in enumerate(real_pages(contacts)):
            if number == page:
                raise error
            yield batch

    world.salesforce._pages = failing_pages


def clean_import(world: World, **request) -> tuple[object, list]:
    """The same Contacts imported once, without a fault, into an empty store."""
    twin = InMemoryState(
        settings=dict(world.state.settings),
        mappings=dict(world.state.mappings),
        connections=dict(world.state.connections),
    )
    deps = attrs.evolve(world.deps, uow=lambda: InMemoryUnitOfWork(twin))
    run = World(world.salesforce, twin, deps, RecordingPublisher(), world.locks).sync(**request)
    return run, people(twin)


def people(state: InMemoryState) -> list:
    """The candidates' data, without our own ids."""
    return sorted(
        (attrs.evolve(c, id="") for c in state.candidates.values()), key=lambda c: c.email_key
    )


def settings(world: World, **changes) -> None:
    with world.deps.uow() as tx:
        tx.accounts.save_settings(AccountSettings(ACCOUNT, **changes))
        tx.commit()


def test_first_import_is_full_and_reads_only_the_minimal_fields(world):
    for n in range(7):
        world.salesforce.add_contact(f"p{n}@example.com", Favorite_Color__c="Red")
    run = world.sync()
    assert run.status == "succeeded" and run.counts["created"] == 7 and run.mode == "full"
    assert run.fields_read == (
        "Id",
        "Email",
        "FirstName",
        "LastName",
        "Name",
        "IsDeleted",
        "SystemModstamp",
        "gq_import__c",
        "is_deleted__c",
        "HasOptedOutOfEmail",  # the opt-out: consent is sticky (docs/domain-rules.md)
        "Favorite_Color__c",
    )
    assert [c.attributes for c in world.candidates()][0] == {"favorite_color_c": "Red"}


def test_incremental_run_reads_only_what_changed_since_the_watermark(world):
    first = world.salesforce.add_contact("a@example.com", Favorite_Color__c="Red")
    for n in range(5):
        world.salesforce.add_contact(f"p{n}@example.com")
    world.sync()
    world.salesforce.records[first].update(
        Favorite_Color__c="Blue", SystemModstamp=world.salesforce._tick() + timedelta(hours=1)
    )
    run = world.sync()
    assert run.mode == "incremental"
    assert run.counts["updated"] == 1 and run.counts["created"] == 0
    assert world.candidates()[0].attributes["favorite_color_c"] == "Blue"


def test_nothing_changed_means_nothing_written(world):
    world.salesforce.add_contact("a@example.com")
    world.sync()
    run = world.sync()
    assert run.counts["created"] == run.counts["updated"] == 0


def test_salesforce_delete_removes_the_candidate_when_the_account_chose_delete(world):
    settings(world, deletion_behaviour=DeletionBehaviour.DELETE)
    gone = world.salesforce.add_contact("a@example.com")
    world.salesforce.add_contact("b@example.com")
    world.sync()
    world.salesforce.delete_contact(gone)
    run = world.sync()
    assert run.counts["deleted"] == 1
    assert [c.email for c in world.candidates()] == ["b@example.com"]


def test_contact_purged_from_the_recycle_bin_is_caught_by_get_deleted(world):
    settings(world, deletion_behaviour=DeletionBehaviour.UNSUBSCRIBE)
    gone = world.salesforce.add_contact("a@example.com")
    world.sync()
    world.salesforce.delete_contact(gone)
    del world.salesforce.records[gone]  # hard delete: no query returns it any more
    run = world.sync()
    assert run.counts["unsubscribed"] == 1
    assert world.candidates()[0].unsubscribed


def test_a_crash_mid_run_loses_nothing_and_the_retry_resumes(world):
    for n in range(9):
        world.salesforce.add_contact(f"p{n}@example.com")
    real_pages = world.salesforce._pages

    def failing_pages(contacts):
        for number, page in enumerate(real_pages(contacts)):
            if number == 2:
                raise TransientFailure("connection reset")
            yield page

    world.salesforce._pages = failing_pages
    request_id = "req-crash"
    with pytest.raises(TransientFailure):
        world.sync(id=request_id)
    assert len(world.candidates()) == 6  # two pages committed, with their watermark
    world.salesforce._pages = real_pages
    run = world.sync(id=request_id)  # the redelivered message
    assert run.status == "succeeded"
    assert len(world.candidates()) == 9
    assert run.counts["created"] == 9  # counts carried over from the first attempt


def test_metrics_count_each_committed_record_once_across_a_crash_and_the_run_at_its_end(world):
    for n in range(8):
        world.salesforce.add_contact(f"p{n}@example.com")
    world.salesforce.add_contact("")  # skipped: no email
    break_at_page(world, 2, TransientFailure("connection reset"))
    with pytest.raises(TransientFailure):
        world.sync(id="req-metrics")
    metrics = world.deps.metrics
    assert metrics.counts["runs", "import", "succeeded"] == 0  # not ended yet
    run = world.sync(id="req-metrics")  # the redelivered message carries the run on
    assert run.status == "succeeded"
    assert +metrics.counts == {
        ("records", "created", ""): 8,
        ("records", "skipped", "no_email"): 1,
        ("runs", "import", "succeeded"): 1,
    }
    assert metrics.seconds == [("import", 0.0)]  # the fixed clock did not move


def test_a_shutdown_mid_run_commits_the_page_in_hand_and_the_redelivery_ends_it(world):
    """The stop flag is checked between pages: the page being written commits, the run
    stays running (no event, no failure) and the redelivered request carries it on."""
    for n in range(9):
        world.salesforce.add_contact(f"p{n}@example.com")
    calls = world.deps.run_log.calls
    stopping = lambda: any(call[0] == "page" for call in calls)  # noqa: E731 (once one is in)
    world.deps = attrs.evolve(world.deps, stopping=stopping)
    with pytest.raises(Interrupted):
        world.sync(id="req-stop")
    committed = len(world.candidates())
    assert committed in (3, 6) and world.publisher.events == []  # whole pages of 3
    with world.deps.uow() as tx:
        assert tx.runs.find_by_request(ACCOUNT, "req-stop").status == "running"
    world.deps = attrs.evolve(world.deps, stopping=lambda: False)
    run = world.sync(id="req-stop")
    assert run.status == "succeeded" and run.counts["created"] == 9
    assert len(world.publisher.events) == 1


def test_a_run_keeps_the_orgs_api_usage_as_it_saw_it_last(world):
    world.salesforce.add_contact("a@example.com")
    world.sync()
    with world.deps.uow() as tx:
        summary = tx.connections.summary(ACCOUNT)
    assert summary.api_usage == world.salesforce.api_usage()
    assert summary.api_seen_at == world.deps.clock.now()


def test_the_same_request_twice_runs_once_and_republishes_the_event(world):
    world.salesforce.add_contact("a@example.com")
    first = world.sync(id="req-dup")
    calls = world.salesforce.used
    again = world.sync(id="req-dup")
    assert again.id == first.id and world.salesforce.used == calls
    assert [e[1]["run_id"] for e in world.publisher.events] == [first.id, first.id]


def test_completion_event_follows_the_contract(world):
    world.salesforce.add_contact("a@example.com")
    world.salesforce.add_contact(None)
    run = world.sync(id="req-event")
    ((kind, event),) = world.publisher.events
    assert kind == "sync.completed"
    assert event["request_id"] == "req-event" and event["run_id"] == run.id
    assert event["status"] == "succeeded" and event["version"] == 1
    assert event["counts"]["skipped"] == {"no_email": 1}
    assert set(event["counts"]) >= {
        "seen",
        "created",
        "updated",
        "unchanged",
        "deleted",
        "unsubscribed",
        "pushed",
        "push_failed",
    }


def test_exhausted_quota_ends_the_run_with_the_quota_outcome(world):
    for n in range(7):
        world.salesforce.add_contact(f"p{n}@example.com")
    world.salesforce.limit = world.salesforce.used + 2  # describe + first page only
    run = world.sync()
    assert run.status == "quota"
    assert len(world.candidates()) == 3  # what was read is kept; the next run resumes


def test_unknown_account_is_a_permanent_failure(world):
    with pytest.raises(UnknownAccount):
        world.sync(account_id="acc_nobody")


def test_a_second_run_of_the_same_account_waits_for_the_first(world):
    world.locks.held.add(ACCOUNT)
    with pytest.raises(TransientFailure, match="another sync"):
        world.sync()


def test_single_candidate_sync_rereads_only_that_contact(world):
    one = world.salesforce.add_contact("a@example.com", Favorite_Color__c="Red")
    world.salesforce.add_contact("b@example.com")
    world.sync()
    candidate = next(c for c in world.candidates() if c.salesforce_id == one)
    world.salesforce.records[one]["Favorite_Color__c"] = "Green"
    run = world.sync(candidate_id=candidate.id, trigger=Trigger.CANDIDATE_PAGE)
    assert run.scope == "candidate" and run.counts["seen"] == 1 and run.counts["updated"] == 1
    assert world.state.candidates[candidate.id].attributes["favorite_color_c"] == "Green"


def test_single_candidate_sync_of_an_unknown_candidate_fails_clearly(world):
    run = world.sync(candidate_id="cand_missing")
    assert run.status == "failed"
    assert run.errors[0]["code"] == "unknown_candidate"


def test_filter_on_without_the_flag_field_fails_the_run_with_a_reason(world):
    settings(world, only_import_tagged=True, import_flag_field="No_Such_Flag__c")
    run = world.sync()
    assert run.status == "failed"
    assert "No_Such_Flag__c" in run.errors[0]["message"]


def test_a_mapping_to_a_missing_field_is_reported_and_the_rest_imports(world):
    with world.deps.uow() as tx:
        tx.accounts.save_mapping(ACCOUNT, AttributeMapping("shoe_size_c", "Shoe_Size__c"))
        tx.commit()
    world.salesforce.add_contact("a@example.com")
    run = world.sync()
    assert run.status == "partial" and run.counts["created"] == 1
    assert run.errors[0]["code"] == "invalid_mapping"


def test_an_export_only_mapping_is_neither_read_nor_checked_by_the_import(world):
    export = AttributeMapping("favorite_color_c", "Favorite_Color__c", MappingDirection.EXPORT)
    missing = AttributeMapping("shoe_size_c", "Shoe_Size__c", MappingDirection.EXPORT)
    with world.deps.uow() as tx:
        tx.accounts.save_mapping(ACCOUNT, export)
        tx.accounts.save_mapping(ACCOUNT, missing)  # a push names it; the import leaves it be
        tx.commit()
    world.salesforce.add_contact("a@example.com", Favorite_Color__c="Red")
    run = world.sync()
    assert run.status == "succeeded", run.errors
    assert "Favorite_Color__c" not in run.fields_read
    assert "favorite_color_c" not in world.candidates()[0].attributes


def test_deletes_are_checked_from_the_full_import_not_from_old_modstamps(world):
    settings(world, deletion_behaviour=DeletionBehaviour.DELETE)
    old = datetime.now(UTC) - timedelta(days=40)  # untouched for longer than the recycle bin
    world.salesforce.add_contact("a@example.com", modstamp=old)
    world.sync()
    run = world.sync()
    assert run.status == "succeeded", run.errors


def test_reconcile_catches_a_contact_gone_past_the_recycle_bin(world):
    settings(world, deletion_behaviour=DeletionBehaviour.DELETE)
    gone = world.salesforce.add_contact("a@example.com")
    world.salesforce.add_contact("b@example.com")
    world.sync()
    del world.salesforce.records[gone]  # purged long ago: neither queryAll nor getDeleted know
    world.deps.clock.advance(days=8)  # type: ignore[attr-defined]
    run = world.sync(full_resync=True)
    assert run.counts["reconcile_gone"] == 1 and run.counts["deleted"] == 1
    assert [c.email for c in world.candidates()] == ["b@example.com"]


def test_reconcile_rereads_an_update_the_cursor_missed(world):
    missed = world.salesforce.add_contact("a@example.com", Favorite_Color__c="Red")
    world.sync()
    record = world.salesforce.records[missed]
    # Committed far later than any lookback allows, behind both the cursor and the settled mark.
    record.update(
        Favorite_Color__c="Blue",
        SystemModstamp=record["SystemModstamp"] + timedelta(microseconds=1),
    )
    future = datetime.now(UTC) + timedelta(days=1)
    with world.deps.uow() as tx:
        tx.runs.save_cursor(ACCOUNT, attrs.evolve(tx.runs.cursor(ACCOUNT), modstamp=future))
        tx.runs.save_marks(ACCOUNT, attrs.evolve(tx.runs.marks(ACCOUNT), settled_until=future))
        tx.commit()
    world.deps.clock.advance(days=8)  # type: ignore[attr-defined]
    run = world.sync()  # incremental: the query finds nothing, the weekly reconcile does
    assert run.counts["reconcile_missed"] == 1
    assert world.candidates()[0].attributes["favorite_color_c"] == "Blue"


def test_a_late_commit_inside_the_lookback_is_read_once_the_window_settles(world):
    first = world.salesforce.add_contact("a@example.com", Favorite_Color__c="Red")
    world.salesforce.add_contact("b@example.com")
    world.sync()
    # A transaction that started before the last read commits now, with its old stamp.
    record = world.salesforce.records[first]
    record.update(
        Favorite_Color__c="Blue",
        SystemModstamp=record["SystemModstamp"] + timedelta(microseconds=1),
    )
    world.deps.clock.advance(minutes=10)  # type: ignore[attr-defined]
    run = world.sync()
    assert run.counts["updated"] == 1
    assert world.candidates()[0].attributes["favorite_color_c"] == "Blue"
    again = world.sync()
    assert again.counts["seen"] == 0  # the window was read once: nothing is read twice


def test_incremental_run_skips_the_reconcile_until_it_is_due(world):
    world.salesforce.add_contact("a@example.com")
    world.sync()
    calls = world.salesforce.used
    world.sync()
    assert world.salesforce.used - calls == 2  # describe + one query page, no stamps listing


def test_one_email_in_two_adjacent_pages_still_gives_one_candidate(world):
    # page_size is 3: the twins land in pages one and two, written while planned
    for n in range(2):
        world.salesforce.add_contact(f"p{n}@example.com")
    world.salesforce.add_contact("twin@example.com")
    world.salesforce.add_contact("TWIN@example.com")
    for n in range(3):
        world.salesforce.add_contact(f"q{n}@example.com")
    run = world.sync()
    twins = [c for c in world.candidates() if c.email_key == "twin@example.com"]
    assert len(twins) == 1 and len(world.candidates()) == 6
    assert run.counts["created"] == 6 and run.counts["updated"] == 1  # relinked to the newer


class SlowCommits(InMemoryUnitOfWork):
    """Commits that take a while: the lookups of the next pages run before they land."""

    def commit(self) -> None:
        time.sleep(0.03)
        super().commit()


def test_pages_looked_up_before_the_ones_before_them_landed_still_agree(world):
    # pages of 3; each twin's email comes back two pages later, looked up before it lands
    for n in range(5):
        world.salesforce.add_contact(f"a{n}@example.com")
        world.salesforce.add_contact(f"twin{n}@example.com")
        world.salesforce.add_contact(f"TWIN{n - 2}@example.com" if n > 1 else f"b{n}@example.com")
    world.deps = attrs.evolve(world.deps, uow=lambda: SlowCommits(world.state))
    run = world.sync()
    keys = [c.email_key for c in world.candidates()]
    assert sorted(keys) == sorted(set(keys))  # one candidate per email
    assert len(keys) == 12 and run.counts["created"] == 12
    assert run.counts["updated"] == 3  # each twin relinked to the newer Contact


OLD = datetime.now(UTC) - timedelta(days=40)  # older than getDeleted's 15-day window


def seed_old(world: World, n: int) -> None:
    for i in range(n):
        world.salesforce.add_contact(f"p{i}@example.com", modstamp=OLD + timedelta(minutes=i))


@pytest.mark.parametrize("fault", [TransientFailure("connection reset"), Killed()])
def test_an_interrupted_first_import_resumes_as_full_and_ends_like_a_clean_one(world, fault):
    settings(world, deletion_behaviour=DeletionBehaviour.DELETE)
    seed_old(world, 11)
    break_at_page(world, 2, fault)  # two pages of three are committed
    with pytest.raises(type(fault)):
        world.sync(id="req-first")
    assert len(world.candidates()) == 6
    run = world.sync(id="req-first")  # the retried or redelivered message
    clean, data = clean_import(world)
    assert run.status == "succeeded", run.errors  # no deletes_window_exceeded
    assert run.counts == clean.counts and run.counts["created"] == 11
    assert (run.processed, run.expected) == (11, 11)
    assert people(world.state) == data


def test_the_first_import_stopped_by_the_quota_is_continued_as_full_by_the_next_request(world):
    settings(world, deletion_behaviour=DeletionBehaviour.DELETE)
    seed_old(world, 7)
    world.salesforce.limit = world.salesforce.used + 2  # describe + first page only
    assert world.sync().status == "quota"
    world.salesforce.limit += 100
    run = world.sync()
    assert run.status == "succeeded", run.errors
    assert run.mode == "full" and run.counts["created"] == 4
    assert people(world.state) == clean_import(world)[1]
    world.salesforce.add_contact("late@example.com")
    assert world.sync().mode == "incremental"  # the first import is done


def test_an_interrupted_incremental_resumes_as_incremental_with_the_counts_of_one_run(world):
    seed_old(world, 2)
    world.sync()
    for i in range(8):
        world.salesforce.add_contact(f"new{i}@example.com")
    break_at_page(world, 1, Killed())
    with pytest.raises(Killed):
        world.sync(id="req-incr")
    run = world.sync(id="req-incr")
    assert run.status == "succeeded" and run.mode == "incremental"
    assert run.counts["seen"] == run.counts["created"] == 8


def test_a_forced_full_resync_interrupted_before_its_first_page_restarts_from_the_start(world):
    seed_old(world, 5)
    world.sync()
    break_at_page(world, 0, Killed())
    with pytest.raises(Killed):
        world.sync(id="req-resync", full_resync=True)
    run = world.sync(id="req-resync", full_resync=True)
    assert run.mode == "full" and run.counts["seen"] == 5


def test_a_resumed_run_reports_a_run_level_error_once(world):
    with world.deps.uow() as tx:
        tx.accounts.save_mapping(ACCOUNT, AttributeMapping("shoe_size_c", "Shoe_Size__c"))
        tx.commit()
    seed_old(world, 8)
    break_at_page(world, 1, Killed())
    with pytest.raises(Killed):
        world.sync(id="req-err")
    run = world.sync(id="req-err")
    assert [e["code"] for e in run.errors] == ["invalid_mapping"]
    assert run.counts["errors"] == 1


def test_a_crash_leaves_the_counts_of_exactly_the_committed_pages(world):
    world.deps = attrs.evolve(world.deps, uow=lambda: SlowCommits(world.state))
    seed_old(world, 11)
    break_at_page(world, 3, Killed())  # page 2 is being written when the read dies
    with pytest.raises(Killed):
        world.sync(id="req-kill")
    (saved,) = world.state.runs.values()
    created = len(world.candidates())
    assert saved.processed == saved.counts["seen"] == saved.counts["created"] == created
    assert saved.position == world.state.cursors[ACCOUNT] and saved.mode == "full"


class FailingWrites(InMemoryUnitOfWork):
    """The second page write is refused."""

    writes = 0

    def commit(self) -> None:
        if self.state.runs and self._tx.state().cursors:
            FailingWrites.writes += 1
            if FailingWrites.writes == 2:
                raise PermanentFailure("refused", code="refused")
        super().commit()


def test_a_refused_page_write_is_not_counted(world):
    FailingWrites.writes = 0
    world.deps = attrs.evolve(world.deps, uow=lambda: FailingWrites(world.state))
    seed_old(world, 9)
    run = world.sync()
    assert run.status == "failed" and run.errors[-1]["code"] == "refused"
    assert run.counts["created"] == len(world.candidates()) == 3


class UndecryptableTokens(InMemoryUnitOfWork):
    """The stored tokens were sealed with a key the worker no longer has."""

    def __init__(self, state: InMemoryState) -> None:
        super().__init__(state)
        self.connections = self  # type: ignore[assignment]

    def get(self, account_id):
        raise PermanentFailure("stored token cannot be decrypted", code="token_decryption_failed")


@pytest.mark.parametrize("code", ["not_connected", "token_decryption_failed"])
def test_a_known_account_that_cannot_connect_ends_as_a_failed_run_with_an_event(world, code):
    if code == "not_connected":
        world.state.connections.clear()
    else:
        world.deps = attrs.evolve(world.deps, uow=lambda: UndecryptableTokens(world.state))
    run = world.sync(id="req-conn")
    assert run.status == "failed" and [e["code"] for e in run.errors] == [code]
    ((kind, event),) = world.publisher.events
    assert kind == "sync.completed" and event["status"] == "failed"
    assert event["errors"][0]["code"] == code and world.state.runs[run.id].finished_at


GAVE_UP = RecordError("salesforce_unavailable", "Salesforce unreachable after retries")


def request_of(world: World, request_id: str, **changes) -> SyncRequested:
    return SyncRequested(
        "sync.requested", 1, request_id, datetime.now(UTC), ACCOUNT, Scope.IMPORT, **changes
    )


def test_giving_up_closes_the_run_with_its_committed_counts_and_tells_the_client(world):
    seed_old(world, 8)
    break_at_page(world, 1, TransientFailure("connection reset"))
    with pytest.raises(TransientFailure):
        world.sync(id="req-last")
    run = give_up(request_of(world, "req-last"), GAVE_UP, world.deps)
    assert run.status == "failed" and run.finished_at is not None
    assert run.counts["created"] == 3 and run.errors[-1]["code"] == "salesforce_unavailable"
    assert world.state.runs[run.id] == run
    ((_, event),) = world.publisher.events
    assert (event["run_id"], event["status"]) == (run.id, "failed")


def test_giving_up_on_a_request_that_never_started_a_run_records_a_failed_one(world):
    world.locks.held.add(ACCOUNT)  # busy on every attempt
    with pytest.raises(TransientFailure):
        world.sync(id="req-busy")
    assert world.state.runs == {}
    busy = RecordError("busy", "another sync of the account was running on every attempt")
    run = give_up(request_of(world, "req-busy"), busy, world.deps)
    assert world.state.runs == {run.id: run}
    assert (run.status, run.request_id, run.errors[0]["code"]) == ("failed", "req-busy", "busy")
    assert world.publisher.events[-1][1]["request_id"] == "req-busy"


def test_giving_up_on_a_finished_run_only_repeats_its_event(world):
    world.salesforce.add_contact("a@example.com")
    done = world.sync(id="req-done")
    assert give_up(request_of(world, "req-done"), GAVE_UP, world.deps) == done
    assert world.state.runs[done.id] == done and len(world.publisher.events) == 2


def test_giving_up_on_an_unknown_account_records_nothing(world):
    request = attrs.evolve(request_of(world, "req-x"), account_id="acc_nobody")
    assert give_up(request, GAVE_UP, world.deps) is None
    assert world.state.runs == {} and world.publisher.events == []


def test_a_first_import_continued_after_a_new_mapping_starts_again_from_the_beginning(world):
    for n in range(7):
        world.salesforce.add_contact(f"p{n}@example.com", Favorite_Color__c="Red")
    world.state.mappings.clear()  # the first import reads no mapped field
    world.salesforce.limit = world.salesforce.used + 2  # describe + first page only
    assert world.sync().status == "quota"
    with world.deps.uow() as tx:
        tx.accounts.save_mapping(ACCOUNT, AttributeMapping("favorite_color_c", "Favorite_Color__c"))
        tx.commit()
    world.salesforce.limit += 100
    run = world.sync()
    assert run.mode == "full" and run.counts["seen"] == 7
    assert [c.attributes for c in world.candidates()] == [{"favorite_color_c": "Red"}] * 7


@pytest.mark.parametrize("behaviour", [DeletionBehaviour.DELETE, DeletionBehaviour.UNSUBSCRIBE])
def test_a_resumed_incremental_counts_a_deleted_contact_once(world, behaviour):
    settings(world, deletion_behaviour=behaviour)
    ids = [world.salesforce.add_contact(f"p{n}@example.com") for n in range(8)]
    world.sync()
    world.deps.clock.advance(minutes=10)  # type: ignore[attr-defined]
    world.sync()  # the settled window is read: the next run reads only what changes
    world.salesforce._clock = world.deps.clock.now()  # deletes after the last getDeleted
    for contact_id in ids[:2]:  # read by the first attempt, then listed by getDeleted again
        world.salesforce.delete_contact(contact_id)
    for n in range(6):
        world.salesforce.add_contact(f"new{n}@example.com")
    break_at_page(world, 1, Killed())
    with pytest.raises(Killed):
        world.sync(id="req-deletes")
    run = world.sync(id="req-deletes")
    effect = "deleted" if behaviour is DeletionBehaviour.DELETE else "unsubscribed"
    assert (run.counts["seen"], run.counts["created"], run.counts[effect]) == (8, 6, 2)
    assert run.counts["skipped"] == {}


def test_a_replayed_request_carries_its_failed_run_on_and_ends_like_a_clean_one(world):
    """A given-up request, replayed once its cause is gone, finishes the work; the same id
    again without `replay` is the same request and only repeats its event."""
    seed_old(world, 8)
    break_at_page(world, 1, TransientFailure("connection reset"))
    with pytest.raises(TransientFailure):
        world.sync(id="req-replayed")
    failed = give_up(request_of(world, "req-replayed"), GAVE_UP, world.deps)
    again = world.sync(id="req-replayed")
    assert again == failed and world.publisher.events[-1][1]["status"] == "failed"
    run = world.sync(id="req-replayed", replay=True)
    clean, clean_people = clean_import(world)
    assert (run.id, run.status, run.errors) == (failed.id, "succeeded", ())
    assert run.counts == clean.counts and people(world.state) == clean_people
    assert world.publisher.events[-1][1]["status"] == "succeeded"


def test_a_replay_of_a_run_that_succeeded_only_repeats_its_event(world):
    world.salesforce.add_contact("a@example.com")
    done = world.sync(id="req-ok")
    used = world.salesforce.used
    assert world.sync(id="req-ok", replay=True) == done
    assert world.salesforce.used == used and world.publisher.events[-1][1]["run_id"] == done.id


# --- consent: the Contact's opt-out (HasOptedOutOfEmail by default) ---------------------


def opt_out(world: World, contact_id: str, value: object = True) -> None:
    """Someone ticks (or clears) the Contact's opt-out in Salesforce."""
    world.salesforce.records[contact_id].update(
        HasOptedOutOfEmail=value, SystemModstamp=world.salesforce._tick()
    )


def consent_rows(world: World) -> list[tuple[str, bool, str]]:
    return [(c.candidate_id, c.unsubscribed, c.source.value) for c in world.state.consent]


def test_an_opt_out_in_salesforce_unsubscribes_the_candidate_with_a_consent_row(world):
    contact_id = world.salesforce.add_contact("a@example.com")
    world.salesforce.add_contact("b@example.com")
    world.sync()
    opt_out(world, contact_id)
    run = world.sync()
    assert run.mode == "incremental" and run.counts["unsubscribed"] == 1
    ada, bob = world.candidates()
    assert (ada.unsubscribed, bob.unsubscribed) == (True, False)
    assert consent_rows(world) == [(ada.id, True, "salesforce")]
    assert world.state.consent[0].at == world.deps.clock.now()
    assert world.sync().counts["unsubscribed"] == 0 and len(world.state.consent) == 1


def test_an_opt_out_read_from_salesforce_is_known_to_the_push_as_held_there(world):
    """So a push does not write `true` back to Contacts that already hold it."""
    settings(world, push_enabled=True)
    opted = world.salesforce.add_contact("a@example.com", HasOptedOutOfEmail=True)
    later = world.salesforce.add_contact("b@example.com")
    world.sync()
    opt_out(world, later)
    world.sync()
    ada, bob = world.candidates()
    held = world.state.push_state
    assert held[ada.id].contact_id == opted and held[bob.id].contact_id == later
    assert held[ada.id].values == held[bob.id].values == {"HasOptedOutOfEmail": True}
    opt_out(world, opted, False)  # cleared there: the push is to write `true` again
    world.sync()
    assert world.state.push_state[ada.id].values == {"HasOptedOutOfEmail": False}
    assert world.candidates()[0].unsubscribed


def test_without_push_the_import_keeps_no_opt_out_for_it(world):
    world.salesforce.add_contact("a@example.com", HasOptedOutOfEmail=True)
    assert world.sync().counts["unsubscribed"] == 1
    assert world.state.push_state == {}


def test_a_false_from_salesforce_never_resubscribes_a_candidate_who_unsubscribed_here(world):
    contact_id = world.salesforce.add_contact("a@example.com", Favorite_Color__c="Red")
    world.sync()
    with world.deps.uow() as tx:  # unsubscribed here (the candidate's own page, say)
        (candidate,) = tx.candidates.find_for_contacts(ACCOUNT, [contact_id], [])
        tx.candidates.apply_changes(ACCOUNT, [attrs.evolve(candidate, unsubscribed=True)], [])
        tx.commit()
    world.salesforce.records[contact_id].update(Favorite_Color__c="Blue")
    opt_out(world, contact_id, False)
    run = world.sync()
    assert run.counts["updated"] == 1 and run.counts["unsubscribed"] == 0
    (candidate,) = world.candidates()
    assert candidate.unsubscribed and candidate.attributes["favorite_color_c"] == "Blue"
    assert world.state.consent == []


def test_a_first_import_of_an_opted_out_contact_creates_it_unsubscribed(world):
    world.salesforce.add_contact("a@example.com", HasOptedOutOfEmail="true")  # Bulk's CSV text
    world.salesforce.add_contact("b@example.com")
    run = world.sync()
    assert (run.counts["created"], run.counts["unsubscribed"]) == (2, 1)
    ada, bob = world.candidates()
    assert (ada.unsubscribed, bob.unsubscribed) == (True, False)
    assert consent_rows(world) == [(ada.id, True, "salesforce")]


def test_the_opt_out_field_is_read_only_when_the_describe_has_it_as_a_checkbox(world):
    """Missing (or hidden by field-level security) or not a checkbox: not read, no error."""
    world.salesforce.add_contact("a@example.com", MailingCity="true", HasOptedOutOfEmail=True)
    for field in ("No_Such_Opt_Out__c", "MailingCity"):
        settings(world, unsubscribe_field=field)
        run = world.sync(full_resync=True)
        assert run.status == "succeeded" and run.errors == ()
        assert field not in run.fields_read and "HasOptedOutOfEmail" not in run.fields_read
    assert not world.candidates()[0].unsubscribed and world.state.consent == []
    settings(world, unsubscribe_field="HasOptedOutOfEmail")
    run = world.sync(full_resync=True)  # the grown field list re-reads every Contact
    assert run.fields_read[-2:] == ("HasOptedOutOfEmail", "Favorite_Color__c")
    assert run.counts["unsubscribed"] == 1 and world.candidates()[0].unsubscribed


def test_a_configured_opt_out_field_is_the_one_read(world):
    world.salesforce.schema = attrs.evolve(
        world.salesforce.schema,
        fields={
            **world.salesforce.schema.fields,
            "No_Mail__c": FieldInfo("No_Mail__c", FieldType.BOOLEAN, updateable=True, custom=True),
        },
    )
    settings(world, unsubscribe_field="No_Mail__c")
    world.salesforce.add_contact("a@example.com", HasOptedOutOfEmail=True, No_Mail__c=False)
    world.salesforce.add_contact("b@example.com", No_Mail__c=True)
    run = world.sync()
    assert "No_Mail__c" in run.fields_read and "HasOptedOutOfEmail" not in run.fields_read
    assert [c.unsubscribed for c in world.candidates()] == [False, True]


def test_the_unsubscribe_deletion_behaviour_keeps_a_consent_row_too(world):
    settings(world, deletion_behaviour=DeletionBehaviour.UNSUBSCRIBE)
    gone = world.salesforce.add_contact("a@example.com")
    world.sync()
    world.salesforce.delete_contact(gone)
    run = world.sync()
    assert run.counts["unsubscribed"] == 1
    (candidate,) = world.candidates()
    assert candidate.unsubscribed
    assert consent_rows(world) == [(candidate.id, True, "salesforce")]
    world.sync(full_resync=True)
    assert len(world.state.consent) == 1  # already unsubscribed: nothing changes again
