"""Vendor mode with fakes: linking checks the token with the vendor first, stores it and
turns direct API mode off; unlinking tells the vendor first, or keeps the link."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sfsync.domain.errors import PermanentFailure, UnknownAccount
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import CacheStatus, VendorLink
from sfsync.services.vendor_links import (
    MAX_TOKEN_LENGTH,
    VendorLinked,
    link_vendor,
    unlink_vendor,
)
from tests.fake_salesforce import FakeSalesforce
from tests.fake_vendor import FakeVendor
from tests.fakes import InMemoryState, InMemoryUnitOfWork, LinkingGateways

ACCOUNT = AccountId("acc_1")
TOKEN = "vendor-token"
NOW = datetime(2026, 12, 7, 4, 30, tzinfo=UTC)
LAST_SYNC = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


@pytest.fixture
def state() -> InMemoryState:
    state = InMemoryState()
    with InMemoryUnitOfWork(state) as uow:
        uow.accounts.save_settings(AccountSettings(ACCOUNT, quota_share=0.3))
        uow.commit()
    return state


@pytest.fixture
def gateways() -> LinkingGateways:
    vendor = FakeVendor(now=lambda: LAST_SYNC)
    return LinkingGateways(FakeSalesforce(), vendor, tokens={TOKEN, "other-token"})


def link(state, gateways, token=TOKEN, account=ACCOUNT) -> VendorLinked:
    return link_vendor(lambda: InMemoryUnitOfWork(state), gateways, account, token, NOW)


def unlink(state, gateways, **kwargs):
    return unlink_vendor(lambda: InMemoryUnitOfWork(state), gateways, ACCOUNT, **kwargs)


class TestLink:
    def test_a_token_the_vendor_accepts_is_stored_and_vendor_mode_turned_on(self, state, gateways):
        linked = link(state, gateways)
        cache = CacheStatus(LAST_SYNC, LAST_SYNC)
        assert linked == VendorLinked(VendorLink(ACCOUNT, TOKEN, NOW), cache, False)
        assert gateways.vendor_opened == 1 and gateways.vendor.calls == 1  # the status
        assert state.vendor_links[ACCOUNT] == VendorLink(ACCOUNT, TOKEN, NOW)
        assert state.settings[ACCOUNT] == AccountSettings(
            ACCOUNT, quota_share=0.3, direct_api=False
        )

    def test_linking_again_replaces_the_token(self, state, gateways):
        link(state, gateways)
        assert link(state, gateways, "other-token").replaced is True
        assert state.vendor_links[ACCOUNT].account_token == "other-token"

    def test_relinking_works_when_the_old_token_no_longer_opens(self, state, gateways):
        link(state, gateways)
        state.unreadable_vendor_tokens.add(ACCOUNT)
        assert link(state, gateways).replaced is True
        with InMemoryUnitOfWork(state) as uow:
            assert uow.vendor_links.get(ACCOUNT) == VendorLink(ACCOUNT, TOKEN, NOW)

    def test_a_token_the_vendor_refuses_saves_nothing(self, state, gateways):
        with pytest.raises(PermanentFailure) as raised:
            link(state, gateways, "not-linked-anywhere")
        assert raised.value.code == "vendor_check_failed"
        assert "vendor_link_invalid" in raised.value.message
        assert "not-linked-anywhere" not in raised.value.message
        assert state.vendor_links == {} and state.settings[ACCOUNT].direct_api is True

    def test_a_vendor_outage_saves_nothing(self, state, gateways):
        gateways.vendor_down = True
        with pytest.raises(PermanentFailure, match="vendor_unavailable"):
            link(state, gateways)
        assert state.vendor_links == {}

    @pytest.mark.parametrize(
        "token",
        ["", " vendor-token", "vendor-token ", "vendor\ttoken", "vendor\x1btoken", "a\u2028b"],
    )
    def test_an_empty_token_or_one_with_whitespace_or_control_characters_is_refused(
        self, state, gateways, token
    ):
        with pytest.raises(PermanentFailure) as raised:
            link(state, gateways, token)
        assert raised.value.code == "invalid_account_token"
        assert gateways.vendor_opened == 0 and state.vendor_links == {}
        if token:
            assert token not in raised.value.message

    def test_a_token_too_long_is_refused(self, state, gateways):
        with pytest.raises(PermanentFailure) as raised:
            link(state, gateways, "x" * (MAX_TOKEN_LENGTH + 1))
        assert raised.value.code == "invalid_account_token"

    def test_an_unknown_account_is_refused_before_the_vendor_is_asked(self, state, gateways):
        with pytest.raises(UnknownAccount):
            link(state, gateways, account=AccountId("acc_nobody"))
        assert gateways.vendor_opened == 0

    def test_an_account_that_pushes_is_refused(self, state, gateways):
        with InMemoryUnitOfWork(state) as uow:
            uow.accounts.save_settings(AccountSettings(ACCOUNT, push_enabled=True))
            uow.commit()
        with pytest.raises(PermanentFailure) as raised:
            link(state, gateways)
        assert raised.value.code == "not_direct_mode" and "--push" in raised.value.message
        assert gateways.vendor_opened == 0 and state.vendor_links == {}

    def test_a_salesforce_connection_is_left_alone(self, state, gateways):
        from sfsync.domain.ports import SalesforceConnection

        connection = SalesforceConnection(ACCOUNT, "https://x.my.salesforce.com", "", "a", None)
        with InMemoryUnitOfWork(state) as uow:
            uow.connections.save(connection)
            uow.commit()
        link(state, gateways)
        assert state.connections[ACCOUNT] == connection


class TestUnlink:
    def test_the_vendor_is_told_then_the_link_deleted(self, state, gateways):
        link(state, gateways)
        outcome = unlink(state, gateways)
        assert outcome is not None and outcome.told_vendor is True
        assert gateways.unlinked == [ACCOUNT] and TOKEN not in gateways.tokens
        assert state.vendor_links == {}
        assert state.settings[ACCOUNT].direct_api is False  # the mode stays

    def test_an_account_without_a_link_gets_none(self, state, gateways):
        assert unlink(state, gateways) is None
        assert gateways.unlinked == []

    def test_when_the_vendor_cannot_be_told_the_link_is_kept(self, state, gateways):
        link(state, gateways)
        gateways.vendor_down = True
        with pytest.raises(PermanentFailure) as raised:
            unlink(state, gateways)
        assert raised.value.code == "unlink_failed" and "--forget" in raised.value.message
        assert TOKEN not in raised.value.message
        assert state.vendor_links[ACCOUNT].account_token == TOKEN

    def test_forget_deletes_anyway_and_says_the_vendor_was_not_told(self, state, gateways):
        link(state, gateways)
        gateways.vendor_down = True
        outcome = unlink(state, gateways, forget=True)
        assert outcome is not None and outcome.told_vendor is False
        assert "vendor_unavailable" in outcome.reason
        assert state.vendor_links == {}

    def test_a_token_no_key_opens_is_kept_unless_forget(self, state, gateways):
        link(state, gateways)
        state.unreadable_vendor_tokens.add(ACCOUNT)
        with pytest.raises(PermanentFailure, match="token_decryption_failed"):
            unlink(state, gateways)
        assert ACCOUNT in state.vendor_links
        outcome = unlink(state, gateways, forget=True)
        assert outcome is not None and outcome.told_vendor is False
        assert state.vendor_links == {} and gateways.unlinked == []
