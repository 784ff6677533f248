"""Pending sign-ups and the asked-for flush: one contract, two stores."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from sfsync.domain.errors import UnknownAccount
from sfsync.domain.model import AccountId, AccountSettings, SalesforceId
from sfsync.domain.signups import Signup, SignupOutcome

RECEIVED = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def a_signup(account_id: AccountId, minutes: int = 0, email: str = "o'b@example.com") -> Signup:
    return Signup(
        message_id=f"msg_{secrets.token_hex(6)}",
        account_id=account_id,
        candidate_id=f"cand_{secrets.token_hex(4)}",
        email=email,
        received_at=RECEIVED + timedelta(minutes=minutes),
    )


def add(new_uow, signup: Signup) -> bool:
    with new_uow() as uow:
        added = uow.signups.add(signup)
        uow.commit()
    return added


class TestSignups:
    def test_a_recorded_signup_reads_back_pending(self, new_uow, account):
        signup = a_signup(account, email="zoë+\\x@exämple.com")
        assert add(new_uow, signup) is True
        with new_uow() as uow:
            assert uow.signups.get(signup.message_id) == signup
            assert uow.signups.pending(account) == [signup]

    def test_the_same_message_twice_is_recorded_once(self, new_uow, account):
        signup = a_signup(account)
        assert add(new_uow, signup) is True
        assert add(new_uow, signup) is False
        with new_uow() as uow:
            assert uow.signups.pending(account) == [signup]

    def test_pending_lists_only_unsettled_signups_oldest_first(self, new_uow, account):
        later, earlier, settled = (a_signup(account, m) for m in (5, 1, 3))
        for signup in (later, earlier, settled):
            add(new_uow, signup)
        with new_uow() as uow:
            uow.signups.settle(
                [
                    Signup(
                        settled.message_id,
                        account,
                        settled.candidate_id,
                        settled.email,
                        settled.received_at,
                        SignupOutcome.FLAGGED,
                        None,
                        (SalesforceId("003A"), SalesforceId("003B")),
                    )
                ]
            )
            uow.commit()
        with new_uow() as uow:
            assert uow.signups.pending(account) == [earlier, later]
            stored = uow.signups.get(settled.message_id)
        assert stored is not None
        assert (stored.outcome, stored.contact_ids) == (SignupOutcome.FLAGGED, ("003A", "003B"))

    def test_settle_keeps_a_skip_reason(self, new_uow, account):
        signup = a_signup(account)
        add(new_uow, signup)
        skipped = Signup(
            signup.message_id,
            account,
            signup.candidate_id,
            signup.email,
            signup.received_at,
            SignupOutcome.SKIPPED,
            "vendor_mode",
        )
        with new_uow() as uow:
            uow.signups.settle([skipped])
            uow.commit()
        with new_uow() as uow:
            assert uow.signups.get(signup.message_id) == skipped
            assert uow.signups.pending(account) == []

    def test_an_unknown_account_is_refused(self, new_uow, new_account_id):
        with pytest.raises(UnknownAccount), new_uow() as uow:
            uow.signups.add(a_signup(new_account_id()))


class TestFlushClaims:
    def test_one_claim_until_released(self, new_uow, account):
        with new_uow() as uow:
            assert uow.signups.claim_flush(account, RECEIVED, RECEIVED - timedelta(minutes=5))
            assert not uow.signups.claim_flush(account, RECEIVED, RECEIVED - timedelta(minutes=5))
            uow.commit()
        with new_uow() as uow:
            uow.signups.release_flush(account)
            assert uow.signups.claim_flush(account, RECEIVED, RECEIVED - timedelta(minutes=5))

    def test_a_stale_claim_is_taken_over(self, new_uow, account):
        later = RECEIVED + timedelta(minutes=10)
        with new_uow() as uow:
            assert uow.signups.claim_flush(account, RECEIVED, RECEIVED - timedelta(minutes=5))
            assert uow.signups.claim_flush(account, later, later - timedelta(minutes=5))
            assert not uow.signups.claim_flush(account, later, later - timedelta(minutes=5))

    def test_claims_are_per_account(self, new_uow, account, new_account_id):
        other = new_account_id()
        with new_uow() as uow:
            uow.accounts.save_settings(AccountSettings(account_id=other))
            assert uow.signups.claim_flush(account, RECEIVED, RECEIVED)
            assert uow.signups.claim_flush(other, RECEIVED, RECEIVED)
