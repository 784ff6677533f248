"""Account services with fakes: mappings checked against the describe, listed, removed; the
account overview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NoReturn

import attrs
import pytest

from sfsync.domain.errors import (
    InvalidAttributeName,
    MappingRefused,
    PermanentFailure,
    TransientFailure,
    UnknownAccount,
)
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    MappingDirection,
    SalesforceId,
    SyncCursor,
    SyncMarks,
)
from sfsync.domain.ports import ConnectionSummary, RunRecord, SalesforceConnection, VendorLink
from sfsync.services.accounts import (
    add_checked_attribute,
    list_attributes,
    remove_attribute,
    save_settings,
    show_account,
)
from tests.fake_salesforce import FakeSalesforce
from tests.fake_vendor import FakeVendor
from tests.fakes import FakeGateways, InMemoryState, InMemoryUnitOfWork

ACCOUNT = AccountId("acc_1")
COLOR = AttributeMapping("favorite_color_c", "Favorite_Color__c")
ISSUED = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
CONNECTION = SalesforceConnection(
    ACCOUNT,
    "https://acme.my.salesforce.com",
    "https://login.salesforce.com",
    "00D!access-secret",
    "5Aep-refresh-secret",
    issued_at=ISSUED,
)


class Unreachable:
    """A gateway whose describe fails as a network outage does (after the adapter's retries)."""

    def describe_contact(self) -> NoReturn:
        raise TransientFailure(
            "Salesforce said: <record value here>", code="salesforce_unavailable"
        )


@pytest.fixture(name="state")
def _state() -> InMemoryState:
    state = InMemoryState()
    with InMemoryUnitOfWork(state) as uow:
        uow.accounts.save_settings(AccountSettings(ACCOUNT))
        uow.commit()
    return state


def connect(state: InMemoryState, connection: SalesforceConnection = CONNECTION) -> None:
    with InMemoryUnitOfWork(state) as uow:
        uow.connections.save(connection)
        uow.commit()


def saved(state: InMemoryState) -> list[AttributeMapping]:
    with InMemoryUnitOfWork(state) as uow:
        return uow.accounts.mappings(ACCOUNT)


def add(state: InMemoryState, gateways: FakeGateways, mapping: AttributeMapping, **kw):
    return add_checked_attribute(
        lambda: InMemoryUnitOfWork(state), gateways, ACCOUNT, mapping, **kw
    )


class TestAddConnected:
    def test_a_field_the_describe_has_is_saved_with_its_type(self, state):
        connect(state)
        gateways = FakeGateways(FakeSalesforce())
        added = add(state, gateways, COLOR)
        assert added.connected and added.field is not None and added.field.type == "picklist"
        assert saved(state) == [COLOR] and gateways.opened == 1

    def test_a_misspelt_field_is_refused_with_a_suggestion_and_not_saved(self, state):
        connect(state)
        with pytest.raises(MappingRefused) as err:
            add(
                state,
                FakeGateways(FakeSalesforce()),
                AttributeMapping("color_c", "Favorit_Color__c"),
            )
        assert err.value.suggestions == ("Favorite_Color__c",)
        assert saved(state) == []

    def test_a_describe_that_fails_saves_nothing_and_says_only_the_code(self, state):
        connect(state)
        with pytest.raises(PermanentFailure) as err:
            add(state, FakeGateways(Unreachable()), COLOR)
        assert err.value.code == "describe_failed"
        assert "salesforce_unavailable" in err.value.message and "--unchecked" in err.value.message
        assert "record value" not in err.value.message
        assert saved(state) == []

    def test_a_spent_quota_is_a_failed_describe_too(self, state):
        connect(state)
        salesforce = FakeSalesforce()
        salesforce.exhaust_quota()
        with pytest.raises(PermanentFailure, match=r"\(quota\)"):
            add(state, FakeGateways(salesforce), COLOR)

    def test_a_connection_needing_reauthorisation_is_not_tried(self, state):
        connect(state, attrs.evolve(CONNECTION, needs_reauth=True))
        gateways = FakeGateways(FakeSalesforce())
        with pytest.raises(PermanentFailure, match="sfsync connect"):
            add(state, gateways, COLOR)
        assert gateways.opened == 0

    def test_unchecked_saves_without_reading_the_describe(self, state):
        connect(state)
        gateways = FakeGateways(Unreachable())
        added = add(state, gateways, AttributeMapping("shoe_size_c", "Shoe_Size__c"), check=False)
        assert (added.field, added.connected, gateways.opened) == (None, True, 0)
        assert saved(state) == [AttributeMapping("shoe_size_c", "Shoe_Size__c")]


class TestAddInVendorMode:
    """A vendor-linked account's mapping is checked against the vendor's field classes."""

    @pytest.fixture(autouse=True)
    def _linked(self, state):
        with InMemoryUnitOfWork(state) as uow:
            uow.accounts.save_settings(AccountSettings(ACCOUNT, direct_api=False))
            uow.vendor_links.save(VendorLink(ACCOUNT, "linked-token"))
            uow.commit()

    def test_a_field_the_vendor_lists_is_saved_without_asking_salesforce(self, state):
        gateways = FakeGateways(FakeSalesforce(), vendor=FakeVendor())
        added = add(state, gateways, COLOR)
        assert added.connected and added.field is not None
        assert added.checked_with == "the vendor's field classes"
        assert (gateways.vendor_opened, gateways.opened) == (1, 0)
        assert saved(state) == [COLOR]

    def test_a_field_the_vendor_does_not_list_is_refused(self, state):
        gateways = FakeGateways(FakeSalesforce(), vendor=FakeVendor())
        with pytest.raises(MappingRefused):
            add(state, gateways, AttributeMapping("color_c", "Favorit_Color__c"))
        assert saved(state) == []

    def test_a_vendor_that_cannot_be_reached_saves_nothing_and_names_the_fix(self, state):
        with pytest.raises(PermanentFailure, match="SFSYNC_VENDOR_BASE_URL") as err:
            add(state, FakeGateways(FakeSalesforce()), COLOR)  # no vendor configured
        assert err.value.code == "describe_failed" and saved(state) == []


class TestAddForPush:
    """An export or two-way mapping must be able to write its field, when the org can say."""

    @pytest.mark.parametrize("direction", [MappingDirection.EXPORT, MappingDirection.TWO_WAY])
    def test_a_field_the_user_cannot_edit_is_refused(self, state, direction):
        connect(state)
        with pytest.raises(MappingRefused) as err:
            add(state, FakeGateways(FakeSalesforce()), AttributeMapping("name", "Name", direction))
        assert err.value.code == "field_not_updateable" and "Name" in err.value.message
        assert saved(state) == []

    def test_the_same_field_may_be_imported(self, state):
        connect(state)
        add(state, FakeGateways(FakeSalesforce()), AttributeMapping("name", "Name"))
        assert saved(state) == [AttributeMapping("name", "Name", MappingDirection.IMPORT)]

    def test_an_editable_field_is_saved_with_its_direction(self, state):
        connect(state)
        two_way = AttributeMapping(
            "favorite_color_c", "Favorite_Color__c", MappingDirection.TWO_WAY
        )
        added = add(state, FakeGateways(FakeSalesforce()), two_way)
        assert added.field is not None and saved(state) == [two_way]

    def test_unconnected_the_direction_is_saved_unchecked(self, state):
        export = AttributeMapping("name", "Name", MappingDirection.EXPORT)
        add(state, FakeGateways(None), export)
        assert saved(state) == [export]


class TestSaveSettings:
    def test_push_outside_direct_mode_is_refused_with_the_reason(self):
        state = InMemoryState()
        vendor_push = AccountSettings(ACCOUNT, direct_api=False, push_enabled=True)
        with pytest.raises(PermanentFailure) as err:
            save_settings(InMemoryUnitOfWork(state), vendor_push)
        assert err.value.code == "not_direct_mode" and "direct API mode" in err.value.message
        assert state.settings == {}

    @pytest.mark.parametrize(
        ("direct_api", "push_enabled"), [(True, True), (False, False), (True, False)]
    )
    def test_every_other_combination_is_saved(self, direct_api, push_enabled):
        state = InMemoryState()
        settings = AccountSettings(
            ACCOUNT, direct_api=direct_api, push_enabled=push_enabled, unsubscribe_field="Out__c"
        )
        save_settings(InMemoryUnitOfWork(state), settings)
        assert state.settings == {ACCOUNT: settings}


class TestAddDisconnected:
    def test_saved_after_the_syntax_checks_and_marked_unchecked(self, state):
        gateways = FakeGateways(FakeSalesforce())
        added = add(state, gateways, AttributeMapping("shoe_size_c", "Shoe_Size__c"))
        assert (added.field, added.connected, gateways.opened) == (None, False, 0)
        assert saved(state) == [AttributeMapping("shoe_size_c", "Shoe_Size__c")]

    def test_the_c_rule_needs_no_org(self, state):
        with pytest.raises(InvalidAttributeName):
            add(state, FakeGateways(None), AttributeMapping("favorite_color", "Favorite_Color__c"))

    def test_unknown_account_is_refused(self):
        with pytest.raises(UnknownAccount):
            add(InMemoryState(), FakeGateways(None), COLOR)


class TestListAndRemove:
    def test_list_gives_the_mappings_by_name(self, state):
        add(state, FakeGateways(None), COLOR)
        add(state, FakeGateways(None), AttributeMapping("age_c", "Age__c"))
        names = [m.name for m in list_attributes(InMemoryUnitOfWork(state), ACCOUNT)]
        assert names == ["age_c", "favorite_color_c"]

    def test_list_of_an_unknown_account_is_refused(self, state):
        with pytest.raises(UnknownAccount):
            list_attributes(InMemoryUnitOfWork(state), AccountId("acc_nobody"))

    def test_remove_forgets_the_mapping(self, state):
        add(state, FakeGateways(None), COLOR)
        remove_attribute(InMemoryUnitOfWork(state), ACCOUNT, "favorite_color_c")
        assert saved(state) == []

    def test_remove_leaves_candidate_values_alone(self, state):
        """Only the mapping goes: what candidates hold is theirs until the next import."""
        from sfsync.domain.model import Candidate

        add(state, FakeGateways(None), COLOR)
        with InMemoryUnitOfWork(state) as uow:
            uow.candidates.add(
                Candidate(
                    "cand_1", ACCOUNT, "a@example.com", attributes={"favorite_color_c": "Red"}
                )
            )
            uow.commit()
        remove_attribute(InMemoryUnitOfWork(state), ACCOUNT, "favorite_color_c")
        with InMemoryUnitOfWork(state) as uow:
            assert uow.candidates.get(ACCOUNT, "cand_1").attributes == {"favorite_color_c": "Red"}

    def test_remove_of_an_unknown_mapping_suggests_the_close_one(self, state):
        add(state, FakeGateways(None), COLOR)
        with pytest.raises(PermanentFailure, match="did you mean favorite_color_c") as err:
            remove_attribute(InMemoryUnitOfWork(state), ACCOUNT, "favourite_color_c")
        assert err.value.code == "unknown_attribute" and saved(state) == [COLOR]

    def test_remove_on_an_unknown_account_is_refused(self):
        with pytest.raises(UnknownAccount):
            remove_attribute(InMemoryUnitOfWork(), ACCOUNT, "favorite_color_c")


class TestShowAccount:
    def test_an_unconnected_account_shows_its_settings_and_mappings(self, state):
        add(state, FakeGateways(None), COLOR)
        overview = show_account(InMemoryUnitOfWork(state), ACCOUNT)
        assert overview.settings == AccountSettings(ACCOUNT)
        assert (overview.connection, overview.mappings) == (None, (COLOR,))
        assert (overview.cursor, overview.marks) == (None, SyncMarks())

    def test_a_connection_shows_without_its_tokens(self, state):
        connect(state)
        cursor = SyncCursor(ISSUED, SalesforceId("003000000000001AAA"))
        with InMemoryUnitOfWork(state) as uow:
            uow.runs.save_cursor(ACCOUNT, cursor)
            uow.commit()
        overview = show_account(InMemoryUnitOfWork(state), ACCOUNT)
        assert overview.connection == ConnectionSummary(
            "https://acme.my.salesforce.com",
            "https://login.salesforce.com",
            ISSUED,
            needs_reauth=False,
            tokens_readable=True,
        )
        assert overview.cursor == cursor
        assert "secret" not in repr(overview)

    def test_an_unknown_account_is_refused(self):
        with pytest.raises(UnknownAccount):
            show_account(InMemoryUnitOfWork(), ACCOUNT)

    def test_the_last_five_runs_newest_first_unless_asked_for_more(self, state):
        runs = [run(hour) for hour in range(7)]
        with InMemoryUnitOfWork(state) as uow:
            for started in runs:
                uow.runs.start(started)
            uow.commit()
        newest_first = runs[::-1]
        assert show_account(InMemoryUnitOfWork(state), ACCOUNT).runs == tuple(newest_first[:5])
        assert show_account(InMemoryUnitOfWork(state), ACCOUNT, runs=50).runs == tuple(newest_first)
        assert show_account(InMemoryUnitOfWork(state), ACCOUNT, runs=0).runs == ()

    def test_tokens_no_key_opens_leave_the_rest_shown(self, state):
        connect(state)
        add(state, FakeGateways(None), COLOR, check=False)
        with InMemoryUnitOfWork(state) as uow:
            uow.runs.start(run(0))
            uow.commit()
        state.unreadable_tokens.add(ACCOUNT)  # the key they were sealed with was dropped
        overview = show_account(InMemoryUnitOfWork(state), ACCOUNT)
        assert overview.connection is not None
        assert overview.connection.tokens_readable is False
        assert (overview.mappings, len(overview.runs)) == ((COLOR,), 1)


def run(hour: int) -> RunRecord:
    return RunRecord(
        id=f"run_{hour}",
        account_id=ACCOUNT,
        request_id=f"req_{hour}",
        scope="import",
        status="succeeded",
        started_at=ISSUED + timedelta(hours=hour),
    )
