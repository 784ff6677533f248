"""The last failure of a sync.requested closes its run: dramatiq's own retry decision, on a
StubBroker with the real middleware and actors, and the import service on fakes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import JSONEncoder

from sfsync.domain.errors import TransientFailure
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import SalesforceConnection
from sfsync.entrypoints.actors import register_actors
from sfsync.entrypoints.settings import RetrySettings
from sfsync.services.imports import ImportDeps
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
QUICK = RetrySettings(max_retries=1, min_backoff_ms=10, max_backoff_ms=20, time_limit_ms=1_000)


@attrs.define
class Stub:
    broker: StubBroker
    worker: dramatiq.Worker
    salesforce: FakeSalesforce
    state: InMemoryState
    publisher: RecordingPublisher
    locks: InMemoryLocks

    def send(self, **fields: object) -> str:
        body = {
            "type": "sync.requested",
            "version": 1,
            "id": str(uuid.uuid4()),
            "requested_at": datetime.now(UTC).isoformat(),
            "account_id": ACCOUNT,
            "scope": "import",
            **fields,
        }
        self.broker.get_actor("sync.requested").send(body=body)
        self.broker.join("q", fail_fast=False)
        self.worker.join()
        return str(body["id"])

    def events(self) -> list[tuple[str, str]]:
        return [(e["request_id"], e["status"]) for _, e in self.publisher.events]


def stub(retries: RetrySettings = QUICK) -> Iterator[Stub]:
    salesforce = FakeSalesforce(page_size=3)
    for n in range(7):
        salesforce.add_contact(f"p{n}@example.com")
    state = InMemoryState()
    with InMemoryUnitOfWork(state) as tx:
        tx.accounts.save_settings(AccountSettings(ACCOUNT))
        tx.connections.save(SalesforceConnection(ACCOUNT, "https://x", "https://l", "t", "r"))
        tx.commit()
    publisher, locks = RecordingPublisher(), InMemoryLocks()
    deps = ImportDeps(
        lambda: InMemoryUnitOfWork(state),
        FakeGateways(salesforce),
        publisher,
        FixedClock(datetime.now(UTC)),
        locks,
        RecordingRunLog(),
        RecordingMetrics(),
        write_page=3,
    )
    encoder = dramatiq.get_encoder()  # process-global: a worker test may have set ours
    dramatiq.set_encoder(JSONEncoder())
    broker = StubBroker()
    broker.emit_after("process_boot")
    register_actors(broker, "q", deps, retries)
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        yield Stub(broker, worker, salesforce, state, publisher, locks)
    finally:
        worker.stop()
        broker.close()
        dramatiq.set_encoder(encoder)


@pytest.fixture
def world() -> Iterator[Stub]:
    yield from stub()


def fail_reads(salesforce: FakeSalesforce, error: BaseException, times: int) -> None:
    """The next `times` reads fail after their first page."""
    real_pages, left = salesforce._pages, [times]

    def pages(contacts):
        for number, batch in enumerate(real_pages(contacts)):
            if number == 1 and left[0] > 0:
                left[0] -= 1
                raise error
            yield batch

    salesforce._pages = pages


def test_retries_used_up_close_the_run_as_failed_and_dead_letter_the_message(world):
    fail_reads(world.salesforce, TransientFailure("Salesforce unreachable"), times=2)
    request = world.send()
    (run,) = world.state.runs.values()
    assert run.status == "failed" and run.finished_at is not None
    assert run.counts["created"] == 6  # a page committed by each attempt
    assert run.errors[-1] == {
        "code": "transient",
        "message": "Salesforce unreachable; no retry left",
        "salesforce_id": None,
    }
    assert world.events() == [(request, "failed")]
    assert len(world.broker.dead_letters) == 1


def test_a_failure_with_a_retry_left_closes_nothing(world):
    fail_reads(world.salesforce, TransientFailure("Salesforce unreachable"), times=1)
    request = world.send()
    (run,) = world.state.runs.values()
    assert run.status == "succeeded" and run.counts["created"] == 7
    assert world.events() == [(request, "succeeded")] and world.broker.dead_letters == []


def test_busy_on_every_attempt_still_gives_the_client_a_failed_run(world):
    world.locks.held.add(ACCOUNT)
    request = world.send()
    (run,) = world.state.runs.values()
    assert (run.request_id, run.status, run.errors[0]["code"]) == (request, "failed", "busy")
    assert world.events() == [(request, "failed")]


def test_an_unexpected_error_is_reported_by_its_type_only(world):
    fail_reads(world.salesforce, ValueError("ada@example.com is odd"), times=2)
    world.send()
    (run,) = world.state.runs.values()
    assert run.errors[-1]["code"] == "internal_error"
    assert run.errors[-1]["message"] == "unexpected ValueError; no retry left"


@pytest.fixture
def one_try() -> Iterator[Stub]:
    yield from stub(attrs.evolve(QUICK, max_retries=0))


def test_an_attempt_past_the_time_limit_on_the_last_try_closes_the_run(one_try):
    real_pages = one_try.salesforce._pages

    def slow_pages(contacts):
        for batch in real_pages(contacts):
            yield batch
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:  # past the 1 s limit, in short sleeps
                time.sleep(0.01)

    one_try.salesforce._pages = slow_pages
    request = one_try.send()
    (run,) = one_try.state.runs.values()
    assert (run.status, run.errors[-1]["code"]) == ("failed", "time_limit")
    assert one_try.events() == [(request, "failed")]


def test_an_invalid_or_unknown_request_is_a_dead_letter_only(world):
    world.send(account_id="acc_nobody")
    world.send(scope="everything")
    assert world.state.runs == {} and world.events() == []
    assert len(world.broker.dead_letters) == 2
