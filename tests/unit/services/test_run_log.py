"""What an import run logs through the RunLog port: its start, each committed page, its end."""

from __future__ import annotations

import pytest

from sfsync.domain.errors import PermanentFailure, TransientFailure
from sfsync.domain.ports import RunIds
from sfsync.services.import_plan import RecordError
from sfsync.services.imports import give_up
from tests.fakes import RecordingRunLog
from tests.unit.services import test_imports
from tests.unit.services.test_imports import (
    ACCOUNT,
    GAVE_UP,
    World,
    break_at_page,
    request_of,
)

world = test_imports.world  # the same fixture


def logged(world: World) -> RecordingRunLog:
    return world.deps.run_log  # type: ignore[return-value]


def seed(world: World, n: int) -> None:
    for i in range(n):
        world.salesforce.add_contact(f"p{i}@example.com", FirstName=f"Person{i}")


def test_a_three_page_import_logs_its_start_each_page_and_its_end(world):
    seed(world, 7)  # pages of 3, 3 and 1
    run = world.sync(id="req-three")
    log = logged(world)
    assert log.names() == ["started", "page", "page", "page", "finished"]
    ids = RunIds(ACCOUNT, "req-three", run.id)
    assert all(called_ids == ids for _, called_ids, _ in log.calls)
    assert log.of("started") == [{"scope": "import", "resumed": False}]
    pages = log.of("page")
    assert [p["counts"] for p in pages] == [
        {"seen": 3, "created": 3},
        {"seen": 3, "created": 3},
        {"seen": 1, "created": 1},
    ]
    assert [p["totals"] for p in pages] == [
        {"seen": 3, "created": 3},
        {"seen": 6, "created": 6},
        {"seen": 7, "created": 7},
    ]
    assert {(p["mode"], p["expected"]) for p in pages} == {("full", 7)}
    (end,) = log.of("finished")
    assert end == {
        "status": "succeeded",
        "mode": "full",
        "totals": {"seen": 7, "created": 7},
        "seconds": 0.0,
        "error": None,
    }


def test_no_record_value_reaches_the_run_log(world):
    seed(world, 4)
    world.salesforce.add_contact(None, FirstName="Nomail")  # skipped: no email
    world.sync()
    text = repr(logged(world).calls)
    assert "@" not in text and "Person" not in text and "Nomail" not in text
    assert logged(world).of("finished")[0]["totals"]["skipped"] == 1


def test_skips_and_record_errors_are_counted_and_a_partial_run_ends_without_an_error(world):
    world.salesforce.add_contact("a@example.com")
    world.salesforce.add_contact(None)  # skipped: no email
    world.salesforce.add_contact("b@example.com", Favorite_Color__c=["not", "text"])
    world.sync()
    (page,) = logged(world).of("page")
    assert page["counts"] == {"seen": 3, "created": 2, "skipped": 1, "errors": 1}
    (end,) = logged(world).of("finished")
    assert (end["status"], end["error"], end["totals"]) == ("partial", None, page["totals"])


def test_a_busy_account_logs_a_skipped_request_and_no_run(world):
    world.locks.held.add(ACCOUNT)
    with pytest.raises(TransientFailure):
        world.sync(id="req-busy")
    log = logged(world)
    assert log.calls == [("skipped", RunIds(ACCOUNT, "req-busy", None), {"reason": "busy"})]


def test_a_redelivered_finished_request_logs_a_skip_with_its_run(world):
    seed(world, 1)
    run = world.sync(id="req-twice")
    logged(world).calls.clear()
    world.sync(id="req-twice")
    assert logged(world).calls == [
        ("skipped", RunIds(ACCOUNT, "req-twice", run.id), {"reason": "already_finished"})
    ]


def test_an_account_without_a_connection_logs_a_failed_end_with_its_code(world):
    world.state.connections.clear()
    run = world.sync(id="req-unconnected")
    log = logged(world)
    assert log.names() == ["started", "finished"]
    (end,) = log.of("finished")
    assert (end["status"], end["error"], end["totals"], end["mode"]) == (
        "failed",
        "not_connected",
        {"errors": 1},
        None,
    )
    assert log.calls[-1][1] == RunIds(ACCOUNT, "req-unconnected", run.id)


def test_a_run_stopped_by_the_quota_logs_its_pages_and_the_quota_end(world):
    seed(world, 7)
    world.salesforce.limit = world.salesforce.used + 2  # describe + first page only
    world.sync()
    log = logged(world)
    assert log.names() == ["started", "page", "finished"]
    (end,) = log.of("finished")
    assert (end["status"], end["error"]) == ("quota", "quota")
    assert end["totals"]["created"] == 3


def test_a_run_that_fails_mid_way_logs_its_committed_pages_then_the_failure(world):
    seed(world, 7)
    break_at_page(world, 1, PermanentFailure("Salesforce refused the query", code="refused"))
    world.sync()
    log = logged(world)
    assert log.names() == ["started", "page", "finished"]
    (end,) = log.of("finished")
    assert (end["status"], end["error"]) == ("failed", "refused")
    assert end["totals"] == {"seen": 3, "created": 3, "errors": 1}


def test_a_resumed_run_says_so_and_ends_with_the_totals_of_the_whole_run(world):
    seed(world, 7)
    break_at_page(world, 1, TransientFailure("connection reset"))
    with pytest.raises(TransientFailure):
        world.sync(id="req-resumed")
    world.deps.clock.advance(seconds=90)  # type: ignore[attr-defined]
    run = world.sync(id="req-resumed")
    log = logged(world)
    assert log.names() == ["started", "page", "started", "page", "page", "finished"]
    assert [s["resumed"] for s in log.of("started")] == [False, True]
    assert {ids.run_id for _, ids, _ in log.calls} == {run.id}
    assert [p["counts"]["created"] for p in log.of("page")] == [3, 3, 1]
    (end,) = log.of("finished")
    assert end["totals"] == {"seen": 7, "created": 7} and end["seconds"] >= 90


def test_a_single_candidate_sync_logs_its_scope_and_mode(world):
    seed(world, 2)
    world.sync()
    candidate = next(iter(world.state.candidates))
    logged(world).calls.clear()
    world.sync(candidate_id=candidate)
    log = logged(world)
    assert log.names() == ["started", "page", "finished"]
    assert log.of("started")[0]["scope"] == "candidate"
    assert log.of("page")[0]["mode"] == log.of("finished")[0]["mode"] == "candidate"


def test_giving_up_logs_the_end_of_the_run_with_the_reason(world):
    seed(world, 7)
    break_at_page(world, 1, TransientFailure("connection reset"))
    with pytest.raises(TransientFailure):
        world.sync(id="req-given-up")
    run = give_up(request_of(world, "req-given-up"), GAVE_UP, world.deps)
    log = logged(world)
    assert log.names() == ["started", "page", "finished"]
    assert log.calls[-1][1] == RunIds(ACCOUNT, "req-given-up", run.id)
    (end,) = log.of("finished")
    assert (end["status"], end["error"]) == ("failed", "salesforce_unavailable")
    assert end["totals"]["created"] == 3


def test_giving_up_on_a_request_busy_every_time_logs_the_run_it_records(world):
    world.locks.held.add(ACCOUNT)
    with pytest.raises(TransientFailure):
        world.sync(id="req-always-busy")
    busy = RecordError("busy", "another sync of the account was running on every attempt")
    run = give_up(request_of(world, "req-always-busy"), busy, world.deps)
    log = logged(world)
    assert log.names() == ["skipped", "finished"]
    assert log.calls[-1][1] == RunIds(ACCOUNT, "req-always-busy", run.id)
    assert log.of("finished")[0]["error"] == "busy"


def test_giving_up_on_a_finished_run_logs_a_skip(world):
    seed(world, 1)
    run = world.sync(id="req-done")
    give_up(request_of(world, "req-done"), GAVE_UP, world.deps)
    assert logged(world).calls[-1] == (
        "skipped",
        RunIds(ACCOUNT, "req-done", run.id),
        {"reason": "already_finished"},
    )
