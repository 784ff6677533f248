"""The push run (scope export, and full) with fakes: what is sent, kept, counted and retried."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sfsync.domain.errors import Interrupted, QuotaExhausted
from sfsync.domain.messages import Scope, SyncRequested, Trigger
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    Candidate,
    MappingDirection,
    SalesforceId,
)
from sfsync.domain.ports import SalesforceConnection
from sfsync.domain.push import ConsentSource
from sfsync.services.imports import ImportDeps, run_sync
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
EXPORT, TWO_WAY = MappingDirection.EXPORT, MappingDirection.TWO_WAY
COLOR = AttributeMapping("favorite_color_c", "Favorite_Color__c", EXPORT)
_ids = itertools.count(1)


@attrs.define
class World:
    salesforce: FakeSalesforce
    state: InMemoryState
    deps: ImportDeps
    publisher: RecordingPublisher

    def sync(self, scope: Scope = Scope.EXPORT):
        self.deps.clock.advance(seconds=1)  # type: ignore[attr-defined]
        request = SyncRequested(
            "sync.requested", 1, f"req-{next(_ids)}", datetime.now(UTC), ACCOUNT, scope,
            Trigger.MANUAL,
        )  # fmt: skip
        return run_sync(request, self.deps)

    def linked(self, email: str, **attributes) -> tuple[Candidate, SalesforceId]:
        """A Contact and its candidate, as an import would have left them."""
        contact_id = self.salesforce.add_contact(email)
        candidate = Candidate(
            f"cand_{email}", ACCOUNT, email, salesforce_id=contact_id, attributes=attributes
        )
        with self.deps.uow() as uow:
            uow.candidates.add(candidate)
            uow.commit()
        return candidate, contact_id

    def change(self, candidate: Candidate, **changes) -> None:
        with self.deps.uow() as uow:
            current = uow.candidates.get(ACCOUNT, candidate.id)
            assert current is not None
            uow.candidates.update(attrs.evolve(current, **changes))
            uow.commit()

    def settings(self, **changes) -> None:
        defaults = {"push_enabled": True}
        with self.deps.uow() as uow:
            uow.accounts.save_settings(AccountSettings(ACCOUNT, **{**defaults, **changes}))
            uow.commit()

    def event(self):
        (name, event) = self.publisher.events[-1]
        assert name == "sync.completed"
        return event

    def sent(self) -> dict[str, dict]:
        return {u.contact_id: dict(u.values) for u in self.salesforce.updates}


@pytest.fixture
def world() -> World:
    salesforce = FakeSalesforce()
    state = InMemoryState()
    uow = lambda: InMemoryUnitOfWork(state)  # noqa: E731
    with uow() as tx:
        tx.accounts.save_settings(AccountSettings(ACCOUNT, push_enabled=True))
        tx.accounts.save_mapping(ACCOUNT, COLOR)
        tx.connections.save(
            SalesforceConnection(ACCOUNT, "https://x", "https://login", "tok", "ref")
        )
        tx.commit()
    publisher = RecordingPublisher()
    deps = ImportDeps(
        uow,
        FakeGateways(salesforce),
        publisher,
        FixedClock(datetime.now(UTC)),
        InMemoryLocks(),
        RecordingRunLog(),
        RecordingMetrics(),
        push_page=2,
    )
    return World(salesforce, state, deps, publisher)


class TestExport:
    def test_changed_values_go_to_the_linked_contacts_only(self, world):
        """A candidate with no Contact is left alone; nothing is created."""
        ada, ada_id = world.linked("ada@example.com", favorite_color_c="Red")
        bob, bob_id = world.linked("bob@example.com", favorite_color_c="Blue")
        with world.deps.uow() as uow:
            uow.candidates.add(
                Candidate("cand_new", ACCOUNT, "new@example.com", attributes={"x": 1})
            )
            uow.commit()
        run = world.sync()
        assert run.status == "succeeded"
        assert world.sent() == {
            ada_id: {"Favorite_Color__c": "Red"},
            bob_id: {"Favorite_Color__c": "Blue"},
        }
        assert world.salesforce.records[ada_id]["Favorite_Color__c"] == "Red"
        assert len(world.salesforce.records) == 2
        counts = world.event()["counts"]
        assert (counts["pushed"], counts["push_failed"], world.event()["scope"]) == (2, 0, "export")

    def test_a_second_export_with_nothing_changed_makes_no_write_call(self, world):
        world.linked("ada@example.com", favorite_color_c="Red")
        world.sync()
        calls = len(world.salesforce.update_calls)
        run = world.sync()
        assert len(world.salesforce.update_calls) == calls
        assert run.counts["pushed"] == 0 and run.status == "succeeded"

    def test_only_the_changed_value_is_sent_again(self, world):
        ada, ada_id = world.linked("ada@example.com", favorite_color_c="Red")
        world.linked("bob@example.com", favorite_color_c="Blue")
        world.sync()
        world.salesforce.updates.clear()
        world.change(ada, attributes={"favorite_color_c": "Green"})
        world.sync()
        assert world.sent() == {ada_id: {"Favorite_Color__c": "Green"}}

    def test_pages_are_logged_with_their_push_counts(self, world):
        for n in range(3):
            world.linked(f"p{n}@example.com", favorite_color_c="Red")
        world.sync()
        pages = world.deps.run_log.of("page")
        # Two pages planned (nothing pushed yet), then Salesforce's results by page.
        assert [p["counts"].get("pushed") for p in pages] == [None, None, 2, 1]
        assert pages[0]["mode"] == "push"


class TestRefusals:
    @pytest.mark.parametrize(
        ("changes", "code"),
        [({"push_enabled": False}, "push_disabled"), ({"direct_api": False}, "not_direct_mode")],
    )
    def test_a_push_the_account_may_not_make_fails_without_calling_salesforce(
        self, world, changes, code
    ):
        world.settings(**changes)
        world.linked("ada@example.com", favorite_color_c="Red")
        run = world.sync()
        assert run.status == "failed" and world.event()["errors"][0]["code"] == code
        assert world.deps.gateways.opened == 0 and world.salesforce.updates == []

    def test_missing_and_read_only_fields_are_named_once_and_the_rest_goes(self, world):
        with world.deps.uow() as uow:
            uow.accounts.save_mapping(ACCOUNT, AttributeMapping("shoe_c", "Shoe__c", EXPORT))
            uow.accounts.save_mapping(ACCOUNT, AttributeMapping("name_c", "Name", EXPORT))
            uow.commit()
        for n in range(3):
            world.linked(f"p{n}@example.com", favorite_color_c="Red", shoe_c=42, name_c="X")
        run = world.sync()
        errors = [(e["code"], e["message"]) for e in world.event()["errors"]]
        assert errors == [
            ("field_not_updateable", "Name: not pushed (field_not_updateable)"),
            ("field_missing", "Shoe__c: not pushed (field_missing)"),
        ]
        assert run.status == "partial" and run.counts["pushed"] == 3
        assert all(v == {"Favorite_Color__c": "Red"} for v in world.sent().values())

    def test_a_value_outside_the_restricted_picklist_is_reported_not_sent(self, world):
        _, bad_id = world.linked("ada@example.com", favorite_color_c="Ultraviolet")
        _, good_id = world.linked("bob@example.com", favorite_color_c="Red")
        world.sync()
        (error,) = world.event()["errors"]
        assert error == {
            "code": "not_in_picklist",
            "message": "Favorite_Color__c: the value does not fit the field",
            "salesforce_id": bad_id,
        }
        assert list(world.sent()) == [good_id]


class TestFailures:
    def test_a_locked_record_is_sent_once_more_on_its_own_in_the_same_run(self, world):
        _, ada_id = world.linked("ada@example.com", favorite_color_c="Red")
        world.linked("bob@example.com", favorite_color_c="Blue")
        world.salesforce.locked[ada_id] = 1
        run = world.sync()
        assert world.salesforce.update_calls == [2, 1]
        assert run.counts["pushed"] == 2 and run.status == "succeeded"

    def test_a_record_failure_is_kept_reported_and_retried_on_the_next_run(self, world):
        ada, ada_id = world.linked("ada@example.com", favorite_color_c="Red")
        world.linked("bob@example.com", favorite_color_c="Blue")
        world.salesforce.locked[ada_id] = 2  # still locked when retried on its own
        run = world.sync()
        assert (run.status, run.counts["pushed"], run.counts["push_failed"]) == ("partial", 1, 1)
        assert run.errors[0]["code"] == "UNABLE_TO_LOCK_ROW"
        assert run.errors[0]["salesforce_id"] == ada_id
        kept = world.state.push_failures[ada.id]
        assert (kept.code, kept.retryable) == ("UNABLE_TO_LOCK_ROW", True)
        world.salesforce.updates.clear()
        again = world.sync()
        assert world.sent() == {ada_id: {"Favorite_Color__c": "Red"}}
        assert again.counts["pushed"] == 1 and ada.id not in world.state.push_failures
        assert +world.deps.metrics.counts == {  # each page's records, each run once
            ("records", "pushed", ""): 2,
            ("records", "push_failed", ""): 1,
            ("runs", "export", "partial"): 1,
            ("runs", "export", "succeeded"): 1,
        }

    def test_a_deleted_contact_is_not_retried(self, world):
        _, ada_id = world.linked("ada@example.com", favorite_color_c="Red")
        world.salesforce.delete_contact(ada_id)
        first = world.sync()
        assert first.errors[0]["code"] == "ENTITY_IS_DELETED"
        assert not world.state.push_failures["cand_ada@example.com"].retryable
        calls = len(world.salesforce.update_calls)
        second = world.sync()
        assert len(world.salesforce.update_calls) == calls
        assert second.counts["skipped"] == {"push_given_up": 1}

    def test_after_n_failures_a_contact_is_given_up(self, world):
        world.deps = attrs.evolve(world.deps, push_attempts=2)
        ada, ada_id = world.linked("ada@example.com", favorite_color_c="Red")
        world.salesforce.locked[ada_id] = 100
        world.sync()
        assert world.state.push_failures[ada.id].retryable
        world.sync()
        assert not world.state.push_failures[ada.id].retryable

    @pytest.mark.parametrize("received", [2, 3])  # a page of results (2), and one more
    def test_quota_ends_the_run_and_the_next_run_sends_only_the_rest(self, world, received):
        """Quota while Salesforce's results are read: every result received before it is
        committed, a page of results or not."""
        for n in range(4):
            world.linked(f"p{n}@example.com", favorite_color_c="Red")
        streamed = world.salesforce.update_contacts_streamed

        def quota_mid_stream(fields, pages):
            yield from itertools.islice(streamed(fields, pages), received)
            raise QuotaExhausted("REQUEST_LIMIT_EXCEEDED")

        world.salesforce.update_contacts_streamed = quota_mid_stream  # type: ignore[method-assign]
        run = world.sync()
        assert run.status == "quota" and run.counts["pushed"] == received
        acknowledged = {a.contact_id for a in world.state.push_state.values() if a.values}
        assert len(acknowledged) == received
        del world.salesforce.update_contacts_streamed
        world.salesforce.updates.clear()
        world.sync()
        second = {u.contact_id for u in world.salesforce.updates}
        assert len(second) == 4 - received and not acknowledged & second

    @pytest.mark.parametrize("pages_before_the_stop", [0, 1])
    def test_a_shutdown_stops_before_a_page_is_planned_and_nothing_is_sent_twice(
        self, world, pages_before_the_stop
    ):
        """The stop flag is asked before each page is planned: what was sent is answered and
        committed, the run stays running, and the same request sends the rest, once."""
        for n in range(4):
            world.linked(f"p{n}@example.com", favorite_color_c="Red")
        request = SyncRequested(
            "sync.requested", 1, "req-stop", datetime.now(UTC), ACCOUNT, Scope.EXPORT,
            Trigger.MANUAL,
        )  # fmt: skip
        asked = iter([False] * pages_before_the_stop + [True] * 10)
        stopping = attrs.evolve(world.deps, stopping=lambda: next(asked))
        with pytest.raises(Interrupted):
            run_sync(request, stopping)
        assert world.publisher.events == []
        assert len(world.salesforce.updates) == 0  # the fake sends the stream at its end
        run = run_sync(request, world.deps)
        assert (run.status, run.counts["pushed"]) == ("succeeded", 4)
        assert len(world.publisher.events) == 1
        written = Counter(u.contact_id for u in world.salesforce.updates)
        assert sorted(written.values()) == [1, 1, 1, 1]
        assert all(r["Favorite_Color__c"] == "Red" for r in world.salesforce.records.values())

    def test_quota_when_the_update_starts_sends_everything_next_run(self, world):
        for n in range(4):
            world.linked(f"p{n}@example.com", favorite_color_c="Red")
        world.salesforce.limit = world.salesforce.used + 1  # the describe, then no more
        run = world.sync()
        assert run.status == "quota" and run.counts["pushed"] == 0
        world.salesforce.limit = 10_000
        world.sync()
        assert len(world.salesforce.updates) == 4

    def test_quota_during_a_serial_retry_keeps_what_was_saved(self, world):
        _, ada_id = world.linked("ada@example.com", favorite_color_c="Red")
        bob, _ = world.linked("bob@example.com", favorite_color_c="Blue")
        world.salesforce.locked[ada_id] = 1
        world.salesforce.limit = world.salesforce.used + 2  # describe and the page's call
        run = world.sync()
        assert run.status == "quota" and run.counts["pushed"] == 1
        assert bob.id in world.state.push_state


class TestConsent:
    def test_an_unsubscribe_is_pushed_once_and_kept_with_its_source(self, world):
        ada, ada_id = world.linked("ada@example.com")
        world.change(ada, unsubscribed=True)
        world.sync()
        world.sync()
        assert world.sent() == {ada_id: {"HasOptedOutOfEmail": True}}
        assert len(world.salesforce.update_calls) == 1
        (change,) = world.state.consent
        assert (change.unsubscribed, change.source) == (True, ConsentSource.SFSYNC)

    def test_a_contact_opted_out_in_salesforce_unsubscribes_a_two_way_candidate(self, world):
        """Read with the two-way fields; never the other way round."""
        with world.deps.uow() as uow:
            uow.accounts.save_mapping(ACCOUNT, attrs.evolve(COLOR, direction=TWO_WAY))
            uow.commit()
        ada, ada_id = world.linked("ada@example.com", favorite_color_c="Red")
        world.salesforce.records[ada_id]["HasOptedOutOfEmail"] = True
        run = world.sync()
        assert world.state.candidates[ada.id].unsubscribed
        assert run.counts["unsubscribed"] == 1
        assert world.state.consent[0].source is ConsentSource.SALESFORCE


class TestTwoWay:
    def test_both_sides_changed_is_a_conflict_the_later_side_wins(self, world):
        with world.deps.uow() as uow:
            uow.accounts.save_mapping(ACCOUNT, attrs.evolve(COLOR, direction=TWO_WAY))
            uow.commit()
        ada, ada_id = world.linked("ada@example.com", favorite_color_c="Red")
        world.sync()  # Red acknowledged on both sides
        world.change(ada, attributes={"favorite_color_c": "Green"})
        record = world.salesforce.records[ada_id]
        record["Favorite_Color__c"] = "Blue"
        record["SystemModstamp"] = datetime.now(UTC) + timedelta(hours=1)  # later
        world.salesforce.updates.clear()
        run = world.sync()
        assert run.counts["push_conflicts"] == 1 and world.sent() == {}
        assert world.state.candidates[ada.id].attributes["favorite_color_c"] == "Blue"


class TestFull:
    def test_full_imports_then_pushes_in_one_run_and_reports_both(self, world):
        world.salesforce.add_contact("new@example.com", Favorite_Color__c="Red")
        ada, ada_id = world.linked("ada@example.com", favorite_color_c="Green")
        run = world.sync(Scope.FULL)
        event = world.event()
        assert event["scope"] == "full" and len(world.publisher.events) == 1
        assert event["counts"]["created"] == 1
        assert event["counts"]["pushed"] == 1
        assert run.status == "succeeded"

    def test_full_with_push_off_imports_and_says_why_nothing_was_pushed(self, world):
        world.settings(push_enabled=False)
        world.salesforce.add_contact("new@example.com")
        run = world.sync(Scope.FULL)
        assert run.counts["created"] == 1 and run.status == "partial"
        assert [e["code"] for e in run.errors] == ["push_disabled"]
