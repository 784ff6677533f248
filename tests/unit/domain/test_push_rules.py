"""Consent stickiness and two-way conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sfsync.domain.push import (
    ABSENT,
    ConsentChange,
    ConsentSource,
    Side,
    decide_consent,
    decide_two_way,
)

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)
LATER = NOW + timedelta(hours=1)


class TestConsent:
    def test_an_opt_out_in_salesforce_unsubscribes_the_candidate(self):
        decision = decide_consent("c1", False, salesforce=True, acknowledged=None, now=NOW)
        assert (decision.unsubscribed, decision.push_opt_out) == (True, False)
        assert decision.changes == (ConsentChange("c1", True, ConsentSource.SALESFORCE, NOW),)

    def test_an_unsubscribe_here_is_pushed_as_true(self):
        decision = decide_consent("c1", True, salesforce=False, acknowledged=None, now=NOW)
        assert (decision.unsubscribed, decision.push_opt_out) == (True, True)
        assert decision.changes == (ConsentChange("c1", True, ConsentSource.SFSYNC, NOW),)

    def test_a_later_false_from_salesforce_never_resubscribes(self):
        """Salesforce cleared the opt-out after it acknowledged it: the unsubscribe wins."""
        decision = decide_consent("c1", True, salesforce=False, acknowledged=True, now=NOW)
        assert (decision.unsubscribed, decision.push_opt_out) == (True, True)

    def test_an_opt_out_in_salesforce_undoes_a_resubscribe_here(self):
        decision = decide_consent("c1", False, salesforce=True, acknowledged=True, now=NOW)
        assert decision.unsubscribed is True

    @pytest.mark.parametrize("acknowledged", [None, False, True])
    def test_both_subscribed_changes_nothing(self, acknowledged):
        decision = decide_consent("c1", False, False, acknowledged, NOW)
        assert (decision.unsubscribed, decision.push_opt_out, decision.changes) == (
            False,
            False,
            (),
        )

    def test_both_unsubscribed_changes_nothing(self):
        decision = decide_consent("c1", True, True, None, NOW)
        assert (decision.unsubscribed, decision.push_opt_out, decision.changes) == (True, False, ())

    def test_with_salesforce_unread_an_acknowledged_opt_out_is_not_sent_again(self):
        assert not decide_consent("c1", True, None, True, NOW).push_opt_out
        assert decide_consent("c1", True, None, False, NOW).push_opt_out
        assert decide_consent("c1", True, None, None, NOW).push_opt_out

    def test_false_is_never_pushed(self):
        for salesforce in (None, False, True):
            for acknowledged in (None, False, True):
                decision = decide_consent("c1", False, salesforce, acknowledged, NOW)
                assert not decision.push_opt_out


class TestTwoWay:
    def test_nothing_changed_since_the_acknowledgement(self):
        decision = decide_two_way("blue", NOW, "blue", NOW, "blue")
        assert (decision.winner, decision.push, decision.update_candidate, decision.conflict) == (
            None,
            False,
            False,
            False,
        )

    def test_only_the_candidate_changed_so_it_is_pushed(self):
        decision = decide_two_way("red", NOW, "blue", LATER, "blue")
        assert (decision.winner, decision.push, decision.conflict) == (Side.CANDIDATE, True, False)

    def test_only_salesforce_changed_so_the_candidate_takes_it(self):
        decision = decide_two_way("blue", LATER, "red", EARLIER, "blue")
        assert (decision.winner, decision.push, decision.update_candidate) == (
            Side.SALESFORCE,
            False,
            True,
        )
        assert not decision.conflict

    def test_both_changed_and_the_candidate_changed_last(self):
        decision = decide_two_way("red", LATER, "green", NOW, "blue")
        assert (decision.winner, decision.push, decision.update_candidate, decision.conflict) == (
            Side.CANDIDATE,
            True,
            False,
            True,
        )

    def test_both_changed_and_salesforce_changed_last(self):
        decision = decide_two_way("red", EARLIER, "green", NOW, "blue")
        assert (decision.winner, decision.push, decision.update_candidate, decision.conflict) == (
            Side.SALESFORCE,
            False,
            True,
            True,
        )

    @pytest.mark.parametrize(("changed_at", "modstamp"), [(NOW, NOW), (None, NOW), (NOW, None)])
    def test_a_tie_or_an_unknown_time_goes_to_salesforce(self, changed_at, modstamp):
        decision = decide_two_way("red", changed_at, "green", modstamp, "blue")
        assert (decision.winner, decision.conflict) == (Side.SALESFORCE, True)

    def test_both_changed_to_the_same_value_is_no_conflict(self):
        decision = decide_two_way("red", LATER, "red", NOW, "blue")
        assert (decision.winner, decision.push, decision.conflict) == (None, False, False)

    def test_salesforce_unread_leaves_the_candidates_change_to_push(self):
        assert decide_two_way("red", NOW, ABSENT, None, "blue").push
        assert not decide_two_way("blue", NOW, ABSENT, None, "blue").push

    def test_never_acknowledged_and_unread_is_pushed(self):
        assert decide_two_way("red", NOW, ABSENT, None, ABSENT).push

    def test_never_acknowledged_and_different_is_a_conflict(self):
        decision = decide_two_way("red", LATER, "green", NOW, ABSENT)
        assert (decision.winner, decision.conflict) == (Side.CANDIDATE, True)

    def test_a_cleared_value_is_a_change(self):
        decision = decide_two_way(None, NOW, "blue", EARLIER, "blue")
        assert (decision.winner, decision.push) == (Side.CANDIDATE, True)
