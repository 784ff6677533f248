"""What ops see of the push, with fakes: an account's kept failures, a candidate's consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sfsync.domain.errors import PermanentFailure, UnknownAccount
from sfsync.domain.model import AccountId, AccountSettings, Candidate, SalesforceId
from sfsync.domain.ports import PushFailure
from sfsync.domain.push.consent import ConsentChange, ConsentSource
from sfsync.services.push_records import consent_history, kept_failures
from tests.fakes import InMemoryState, InMemoryUnitOfWork

ACCOUNT, OTHER = AccountId("acc_1"), AccountId("acc_2")
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADA = Candidate("cand_ada", ACCOUNT, "ada@example.com", salesforce_id=SalesforceId("003ADA"))


@pytest.fixture(name="state")
def _state() -> InMemoryState:
    state = InMemoryState()
    with InMemoryUnitOfWork(state) as uow:
        uow.accounts.save_settings(AccountSettings(ACCOUNT))
        uow.accounts.save_settings(AccountSettings(OTHER))
        for n in range(3):
            candidate = Candidate(f"cand_{n}", ACCOUNT, f"c{n}@example.com")
            uow.candidates.add(candidate)
            failure = PushFailure(candidate.id, SalesforceId(f"003C{n}"), "X", retryable=n != 1)
            uow.push_failures.record(ACCOUNT, [failure], T0 + timedelta(minutes=n))
        uow.candidates.add(ADA)
        uow.commit()
    return state


class TestKeptFailures:
    def test_the_last_seen_first_and_whether_more_are_kept(self, state):
        kept = kept_failures(InMemoryUnitOfWork(state), ACCOUNT, 2)
        assert [f.candidate_id for f in kept.failures] == ["cand_2", "cand_1"]
        assert kept.more is True
        every = kept_failures(InMemoryUnitOfWork(state), ACCOUNT, 3)
        assert (len(every.failures), every.more) == (3, False)

    def test_given_up_only(self, state):
        kept = kept_failures(InMemoryUnitOfWork(state), ACCOUNT, 10, given_up=True)
        assert [f.candidate_id for f in kept.failures] == ["cand_1"]

    def test_an_account_without_failures_has_none(self, state):
        assert kept_failures(InMemoryUnitOfWork(state), OTHER, 10).failures == ()

    def test_an_unknown_account_is_refused(self, state):
        with pytest.raises(UnknownAccount, match="account acc_nobody is not known"):
            kept_failures(InMemoryUnitOfWork(state), AccountId("acc_nobody"), 10)


def unsubscribe(state: InMemoryState, source: ConsentSource, minutes: int) -> ConsentChange:
    change = ConsentChange(ADA.id, True, source, T0 + timedelta(minutes=minutes))
    with InMemoryUnitOfWork(state) as uow:
        uow.consent.append(ACCOUNT, [change])
        candidate = uow.candidates.get(ACCOUNT, ADA.id)
        assert candidate is not None
        uow.candidates.update(attrs.evolve(candidate, unsubscribed=True))
        uow.commit()
    return change


class TestConsentHistory:
    def test_found_by_its_id_alone_with_its_state_now(self, state):
        later = unsubscribe(state, ConsentSource.SFSYNC, 5)
        first = unsubscribe(state, ConsentSource.SALESFORCE, 1)
        history = consent_history(InMemoryUnitOfWork(state), ADA.id)
        assert (history.account_id, history.contact_id) == (ACCOUNT, ADA.salesforce_id)
        assert history.unsubscribed is True
        assert history.changes == (first, later)

    def test_found_in_its_account(self, state):
        history = consent_history(InMemoryUnitOfWork(state), ADA.id, ACCOUNT)
        assert (history.unsubscribed, history.changes) == (False, ())

    def test_another_account_does_not_hold_it(self, state):
        with pytest.raises(PermanentFailure) as refused:
            consent_history(InMemoryUnitOfWork(state), ADA.id, OTHER)
        assert refused.value.code == "unknown_candidate"
        assert refused.value.message == "candidate cand_ada is not known to sfsync in account acc_2"

    def test_an_unknown_candidate_is_refused(self, state):
        with pytest.raises(PermanentFailure) as refused:
            consent_history(InMemoryUnitOfWork(state), "cand_nobody")
        assert refused.value.code == "unknown_candidate"

    def test_an_unknown_account_is_refused(self, state):
        with pytest.raises(UnknownAccount):
            consent_history(InMemoryUnitOfWork(state), ADA.id, AccountId("acc_nobody"))
