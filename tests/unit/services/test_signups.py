"""The sign-up flag with fakes: coalescing, idempotency, outcomes, links, skips."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sfsync.domain.errors import TransientFailure, UnknownAccount
from sfsync.domain.messages import CandidateSignedUp
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    Candidate,
    DuplicatePolicy,
    SalesforceId,
)
from sfsync.domain.ports import ContactUpdate, SalesforceConnection, WriteResult
from sfsync.domain.signups import SignupOutcome
from sfsync.services.signups import SignupDeps, SignupSettings, flush, record_signup
from tests.fake_salesforce import FakeSalesforce
from tests.fakes import FakeGateways, FixedClock, InMemoryLocks, InMemoryState, InMemoryUnitOfWork

ACCOUNT = AccountId("acc_1")
_ids = itertools.count(1)


@attrs.define
class RecordingFlushes:
    asked: list[tuple[AccountId, float]] = attrs.Factory(list)
    fail: bool = False

    def flush_later(self, account_id: AccountId, delay_seconds: float) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.asked.append((account_id, delay_seconds))


@attrs.define
class World:
    salesforce: FakeSalesforce
    state: InMemoryState
    flushes: RecordingFlushes
    locks: InMemoryLocks
    deps: SignupDeps

    def settings(self, **changes: object) -> None:
        with self.deps.uow() as uow:
            uow.accounts.save_settings(AccountSettings(ACCOUNT, **changes))  # type: ignore[arg-type]
            uow.commit()

    def sign_up(self, email: str, candidate_id: str | None = None, message_id: str | None = None):
        message = CandidateSignedUp(
            "candidate.signed_up",
            1,
            message_id or f"msg-{next(_ids)}",
            datetime.now(UTC),
            ACCOUNT,
            candidate_id or f"cand-{next(_ids)}",
            email,
        )
        return record_signup(message, self.deps)

    def flush(self):
        return flush(ACCOUNT, self.deps)

    def outcome(self, message_id: str) -> tuple[SignupOutcome, str | None]:
        signup = self.state.signups[message_id]
        return signup.outcome, signup.reason

    def flagged(self, contact_id: SalesforceId) -> bool:
        return self.salesforce.records[contact_id]["gq_import__c"] is True


@pytest.fixture(name="world")
def _world() -> World:
    salesforce, state = FakeSalesforce(), InMemoryState()
    uow = lambda: InMemoryUnitOfWork(state)  # noqa: E731
    with uow() as tx:
        tx.accounts.save_settings(AccountSettings(ACCOUNT))
        tx.connections.save(
            SalesforceConnection(ACCOUNT, "https://x", "https://login", "tok", "ref")
        )
        tx.commit()
    flushes, locks = RecordingFlushes(), InMemoryLocks()
    deps = SignupDeps(
        uow,
        FakeGateways(salesforce),
        locks,
        FixedClock(datetime.now(UTC)),
        flushes,
        SignupSettings(delay_seconds=3.0),
    )
    return World(salesforce, state, flushes, locks, deps)


class TestCoalescing:
    def test_a_burst_asks_for_one_flush_after_the_delay(self, world: World) -> None:
        for n in range(20):
            world.sign_up(f"p{n}@example.com")
        assert world.flushes.asked == [(ACCOUNT, 3.0)]
        assert world.salesforce.used == 0  # nothing reached Salesforce yet

    def test_five_hundred_signups_take_one_lookup_and_one_update_per_200(
        self, world: World
    ) -> None:
        ids = [world.salesforce.add_contact(f"p{n}@example.com") for n in range(500)]
        for n in range(500):
            world.sign_up(f"P{n}@Example.com")
        settled = world.flush()
        assert len(settled) == 500
        assert {s.outcome for s in settled} == {SignupOutcome.FLAGGED}
        assert world.salesforce.email_lookups == [500]
        assert world.salesforce.update_calls == [200, 200, 100]
        assert all(world.flagged(i) for i in ids)
        assert world.salesforce.used == 1 + 1 + 3  # describe, lookup, updates

    def test_a_signup_after_the_flush_started_asks_for_another(self, world: World) -> None:
        world.sign_up("a@example.com")
        world.flush()
        world.sign_up("b@example.com")
        assert len(world.flushes.asked) == 2

    def test_a_lost_flush_is_asked_for_again_once_stale(self, world: World) -> None:
        world.sign_up("a@example.com")
        world.sign_up("b@example.com")
        world.deps.clock.advance(seconds=301)  # type: ignore[attr-defined]
        world.sign_up("c@example.com")
        assert len(world.flushes.asked) == 2

    def test_a_failed_ask_is_released_for_the_retry(self, world: World) -> None:
        world.flushes.fail = True
        with pytest.raises(ConnectionError):
            world.sign_up("a@example.com", message_id="m-1")
        world.flushes.fail = False
        world.sign_up("a@example.com", message_id="m-1")
        assert world.flushes.asked == [(ACCOUNT, 3.0)]

    def test_an_account_busy_with_an_import_is_retried_and_stays_pending(
        self, world: World
    ) -> None:
        world.sign_up("a@example.com", message_id="m-1")
        with world.locks.hold(ACCOUNT), pytest.raises(TransientFailure):
            world.flush()
        assert world.outcome("m-1") == (SignupOutcome.PENDING, None)


class TestOutcomes:
    def test_redelivery_is_recorded_once(self, world: World) -> None:
        world.salesforce.add_contact("a@example.com")
        world.sign_up("a@example.com", message_id="m-1")
        world.sign_up("a@example.com", message_id="m-1")
        assert len(world.state.signups) == 1
        world.flush()
        world.sign_up("a@example.com", message_id="m-1")
        assert world.outcome("m-1") == (SignupOutcome.FLAGGED, None)
        assert len(world.flushes.asked) == 1
        assert world.flush() == []

    def test_no_contact_is_recorded_not_an_error(self, world: World) -> None:
        world.sign_up("nobody@example.com", message_id="m-1")
        world.flush()
        assert world.outcome("m-1") == (SignupOutcome.NO_CONTACT, None)
        assert world.salesforce.update_calls == []

    def test_an_already_flagged_contact_is_not_written(self, world: World) -> None:
        world.salesforce.add_contact("a@example.com", gq_import__c=True)
        world.sign_up("a@example.com", message_id="m-1")
        world.flush()
        assert world.outcome("m-1") == (SignupOutcome.ALREADY_FLAGGED, None)
        assert world.salesforce.update_calls == []

    def test_the_account_s_own_flag_field_is_set(self, world: World) -> None:
        world.settings(import_flag_field="is_deleted__c")  # any updateable checkbox
        cid = world.salesforce.add_contact("a@example.com")
        world.sign_up("a@example.com")
        world.flush()
        assert world.salesforce.records[cid]["is_deleted__c"] is True
        assert not world.flagged(cid)

    def test_a_missing_flag_field_is_a_skip(self, world: World) -> None:
        world.settings(import_flag_field="No_Such__c")
        world.salesforce.add_contact("a@example.com")
        world.sign_up("a@example.com", message_id="m-1")
        world.flush()
        assert world.outcome("m-1") == (SignupOutcome.SKIPPED, "missing_flag_field")

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"direct_api": False}, "vendor_mode"),
            ({"signup_flag_enabled": False}, "signup_flag_disabled"),
        ],
    )
    def test_settings_that_keep_salesforce_out_are_skips_at_once(
        self, world: World, changes: dict, reason: str
    ) -> None:
        world.settings(**changes)
        world.salesforce.add_contact("a@example.com")
        world.sign_up("a@example.com", message_id="m-1")
        assert world.outcome("m-1") == (SignupOutcome.SKIPPED, reason)
        assert world.flushes.asked == [] and world.salesforce.used == 0

    def test_vendor_mode_set_after_the_signup_is_a_skip_at_the_flush(self, world: World) -> None:
        world.sign_up("a@example.com", message_id="m-1")
        world.settings(direct_api=False)
        world.flush()
        assert world.outcome("m-1") == (SignupOutcome.SKIPPED, "vendor_mode")
        assert world.salesforce.used == 0

    @pytest.mark.parametrize("how", ["deleted", "needs_reauth", "unreadable"])
    def test_a_disconnected_account_is_a_skip(self, world: World, how: str) -> None:
        world.sign_up("a@example.com", message_id="m-1")
        with world.deps.uow() as uow:
            if how == "deleted":
                uow.connections.delete(ACCOUNT)
            elif how == "needs_reauth":
                uow.connections.mark_needs_reauth(ACCOUNT)
            uow.commit()
        if how == "unreadable":
            world.state.unreadable_tokens.add(ACCOUNT)
        world.flush()
        reason = {"deleted": "not_connected", "needs_reauth": "needs_reauth"}.get(
            how, "token_decryption_failed"
        )
        assert world.outcome("m-1") == (SignupOutcome.SKIPPED, reason)
        assert world.salesforce.used == 0

    def test_an_unknown_account_is_refused(self, world: World) -> None:
        with pytest.raises(UnknownAccount):
            record_signup(
                CandidateSignedUp(
                    "candidate.signed_up",
                    1,
                    "m-x",
                    datetime.now(UTC),
                    AccountId("acc_x"),
                    "cand-1",
                    "a@example.com",
                ),
                world.deps,
            )


class TestLinks:
    def test_a_new_candidate_is_made_and_linked_at_once(self, world: World) -> None:
        cid = world.salesforce.add_contact("Ada@Example.com")
        world.sign_up("ada@example.com", candidate_id="cand-ada")
        world.flush()
        candidate = world.state.candidates["cand-ada"]
        assert (candidate.salesforce_id, candidate.email) == (cid, "ada@example.com")
        assert candidate.source_modstamp is None  # the next import brings the data

    def test_an_existing_candidate_is_linked(self, world: World) -> None:
        with world.deps.uow() as uow:
            uow.candidates.add(Candidate("cand-ada", ACCOUNT, "ada@example.com", first_name="Ada"))
            uow.commit()
        cid = world.salesforce.add_contact("ada@example.com")
        world.sign_up("ada@example.com", candidate_id="cand-ada")
        world.flush()
        candidate = world.state.candidates["cand-ada"]
        assert (candidate.salesforce_id, candidate.first_name) == (cid, "Ada")

    @pytest.mark.parametrize(
        ("policy", "kept", "review"),
        [
            (DuplicatePolicy.NEWEST, "newer", False),
            (DuplicatePolicy.OLDEST, "older", False),
            (DuplicatePolicy.REVIEW, "older", True),
        ],
    )
    def test_two_contacts_with_one_email_follow_the_duplicate_policy(
        self, world: World, policy: DuplicatePolicy, kept: str, review: bool
    ) -> None:
        world.settings(duplicate_policy=policy)
        now = datetime.now(UTC)
        older = world.salesforce.add_contact("ada@example.com", modstamp=now - timedelta(days=2))
        newer = world.salesforce.add_contact("ADA@example.com", modstamp=now - timedelta(days=1))
        world.sign_up("ada@example.com", candidate_id="cand-ada", message_id="m-1")
        (settled,) = world.flush()
        assert settled.outcome is SignupOutcome.FLAGGED
        assert set(settled.contact_ids) == {older, newer}
        assert world.flagged(older) and world.flagged(newer)
        candidate = world.state.candidates["cand-ada"]
        assert candidate.salesforce_id == {"older": older, "newer": newer}[kept]
        assert candidate.needs_review is review

    def test_a_contact_another_candidate_holds_is_not_taken(self, world: World) -> None:
        cid = world.salesforce.add_contact("ada@example.com")
        with world.deps.uow() as uow:
            uow.candidates.add(Candidate("cand-old", ACCOUNT, "old@example.com", salesforce_id=cid))
            uow.commit()
        world.sign_up("ada@example.com", candidate_id="cand-ada", message_id="m-1")
        world.flush()
        assert world.outcome("m-1")[0] is SignupOutcome.FLAGGED
        assert "cand-ada" not in world.state.candidates
        assert world.state.candidates["cand-old"].salesforce_id == cid

    def test_a_refused_flag_is_kept_with_salesforce_s_code(self, world: World) -> None:
        world.salesforce.add_contact("ada@example.com")

        def refuse(updates: Sequence[ContactUpdate]) -> list[WriteResult]:
            code = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
            return [WriteResult(u.contact_id, ok=False, error_code=code) for u in updates]

        world.salesforce.update_contacts = refuse  # type: ignore[method-assign]
        world.sign_up("ada@example.com", message_id="m-1")
        world.flush()
        assert world.outcome("m-1") == (
            SignupOutcome.SKIPPED,
            "flag_refused:FIELD_CUSTOM_VALIDATION_EXCEPTION",
        )
