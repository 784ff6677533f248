"""Account settings, attribute mappings and Salesforce connections: one contract, two stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from sfsync.domain.errors import PermanentFailure, UnknownAccount
from sfsync.domain.model import (
    AccountSettings,
    AttributeMapping,
    DeletionBehaviour,
    DuplicatePolicy,
    MappingDirection,
)
from sfsync.domain.ports import ApiUsage, ConnectionSummary, SalesforceConnection, UnitOfWork
from tests.fakes import InMemoryUnitOfWork

ISSUED = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def a_connection(account_id, **changes) -> SalesforceConnection:
    values = {
        "account_id": account_id,
        "instance_url": "https://acme.my.salesforce.com",
        "login_url": "https://login.salesforce.com",
        "access_token": "00D!access-token",
        "refresh_token": "5Aep-refresh-token",
        "issued_at": ISSUED,
    }
    return SalesforceConnection(**{**values, **changes})


def summary_of(connection: SalesforceConnection, *, readable: bool = True) -> ConnectionSummary:
    return ConnectionSummary(
        connection.instance_url,
        connection.login_url,
        connection.issued_at,
        connection.needs_reauth,
        tokens_readable=readable,
    )


@pytest.fixture
def save_under_a_lost_key(
    new_uow: Callable[[], UnitOfWork], request: pytest.FixtureRequest
) -> Callable[[SalesforceConnection], None]:
    """Stores a connection as if sealed with a key that has since been dropped."""

    def save(connection: SalesforceConnection) -> None:
        uow = new_uow()
        if isinstance(uow, InMemoryUnitOfWork):
            with uow:
                uow.connections.save(connection)
                uow.commit()
            uow.state.unreadable_tokens.add(connection.account_id)
            return
        from sfsync.adapters.postgres.crypto import TokenCipher
        from sfsync.adapters.postgres.pool import make_pool
        from sfsync.adapters.postgres.uow import PsycopgUnitOfWork

        lost_key = TokenCipher([TokenCipher.generate_key()])
        with make_pool(request.getfixturevalue("migrated_database_url"), max_size=1) as pool:
            with PsycopgUnitOfWork(pool, lost_key) as lost:
                lost.connections.save(connection)
                lost.commit()

    return save


class TestSettings:
    def test_default_settings_round_trip(self, new_uow, new_account_id):
        settings = AccountSettings(account_id=new_account_id())
        with new_uow() as uow:
            uow.accounts.save_settings(settings)
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.get_settings(settings.account_id) == settings

    def test_every_setting_is_saved_and_replaced(self, new_uow, account):
        settings = AccountSettings(
            account_id=account,
            only_import_tagged=True,
            import_flag_field="Import__c",
            deletion_field=None,
            deletion_behaviour=DeletionBehaviour.UNSUBSCRIBE,
            direct_api=False,
            push_enabled=True,
            signup_flag_enabled=False,
            duplicate_policy=DuplicatePolicy.REVIEW,
            unsubscribe_field="Opted_Out__c",
            quota_share=0.25,
        )
        with new_uow() as uow:
            uow.accounts.save_settings(settings)
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.get_settings(account) == settings

    def test_unknown_account_has_no_settings(self, new_uow, new_account_id):
        with new_uow() as uow:
            assert uow.accounts.get_settings(new_account_id()) is None


class TestMappings:
    def test_mappings_come_back_sorted_by_name(self, new_uow, account):
        color = AttributeMapping("favorite_color_c", "Favorite_Color__c")
        age = AttributeMapping("age_c", "Age__c")
        with new_uow() as uow:
            uow.accounts.save_mapping(account, color)
            uow.accounts.save_mapping(account, age)
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.mappings(account) == [age, color]

    def test_saving_a_mapping_again_replaces_its_field(self, new_uow, account):
        with new_uow() as uow:
            uow.accounts.save_mapping(account, AttributeMapping("color_c", "Color__c"))
            uow.accounts.save_mapping(account, AttributeMapping("color_c", "Colour__c"))
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.mappings(account) == [AttributeMapping("color_c", "Colour__c")]

    def test_each_direction_round_trips(self, new_uow, account):
        saved = [
            AttributeMapping("a_c", "A__c"),
            AttributeMapping("b_c", "B__c", MappingDirection.EXPORT),
            AttributeMapping("c_c", "C__c", MappingDirection.TWO_WAY),
        ]
        with new_uow() as uow:
            for mapping in saved:
                uow.accounts.save_mapping(account, mapping)
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.mappings(account) == saved
        assert saved[0].direction == MappingDirection.IMPORT

    def test_saving_a_mapping_again_replaces_its_direction(self, new_uow, account):
        with new_uow() as uow:
            uow.accounts.save_mapping(account, AttributeMapping("color_c", "Color__c"))
            uow.commit()
        two_way = AttributeMapping("color_c", "Color__c", MappingDirection.TWO_WAY)
        with new_uow() as uow:
            uow.accounts.save_mapping(account, two_way)
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.mappings(account) == [two_way]

    def test_mappings_belong_to_one_account(self, new_uow, account, new_account_id):
        with new_uow() as uow:
            uow.accounts.save_mapping(account, AttributeMapping("color_c", "Color__c"))
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.mappings(new_account_id()) == []

    def test_remove_forgets_one_mapping_and_says_it_existed(self, new_uow, account):
        color = AttributeMapping("color_c", "Color__c")
        with new_uow() as uow:
            uow.accounts.save_mapping(account, color)
            uow.accounts.save_mapping(account, AttributeMapping("age_c", "Age__c"))
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.remove_mapping(account, "age_c") is True
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.mappings(account) == [color]

    def test_remove_of_an_unknown_mapping_says_so(self, new_uow, account):
        with new_uow() as uow:
            assert uow.accounts.remove_mapping(account, "color_c") is False

    def test_remove_touches_only_its_account(self, new_uow, account, new_account_id):
        other = new_account_id()
        color = AttributeMapping("color_c", "Color__c")
        with new_uow() as uow:
            uow.accounts.save_settings(AccountSettings(account_id=other))
            uow.accounts.save_mapping(account, color)
            uow.accounts.save_mapping(other, color)
            assert uow.accounts.remove_mapping(account, "color_c") is True
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.mappings(other) == [color]
            assert uow.accounts.mappings(account) == []

    def test_remove_is_undone_without_commit(self, new_uow, account):
        color = AttributeMapping("color_c", "Color__c")
        with new_uow() as uow:
            uow.accounts.save_mapping(account, color)
            uow.commit()
        with new_uow() as uow:
            uow.accounts.remove_mapping(account, "color_c")
        with new_uow() as uow:
            assert uow.accounts.mappings(account) == [color]

    def test_mapping_for_unregistered_account_is_refused(self, new_uow, new_account_id):
        with new_uow() as uow, pytest.raises(UnknownAccount):
            uow.accounts.save_mapping(new_account_id(), AttributeMapping("a_c", "A__c"))


class TestConnections:
    def test_connection_round_trips_with_its_tokens(self, new_uow, account):
        connection = a_connection(account)
        with new_uow() as uow:
            uow.connections.save(connection)
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.get(account) == connection

    def test_connection_without_refresh_token_round_trips(self, new_uow, account):
        connection = a_connection(account, refresh_token=None, issued_at=None)
        with new_uow() as uow:
            uow.connections.save(connection)
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.get(account) == connection

    def test_unconnected_account_has_no_connection(self, new_uow, account):
        with new_uow() as uow:
            assert uow.connections.get(account) is None

    def test_mark_needs_reauth_keeps_the_rest(self, new_uow, account):
        with new_uow() as uow:
            uow.connections.save(a_connection(account))
            uow.connections.mark_needs_reauth(account)
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.get(account) == a_connection(account, needs_reauth=True)

    def test_org_user_and_connected_at_round_trip_and_a_refresh_keeps_them(self, new_uow, account):
        made = a_connection(
            account, org_id="00D000000000001AAA", user_id="005000000000001AAA", connected_at=ISSUED
        )
        refreshed = a_connection(account, access_token="refreshed")  # knows none of them
        with new_uow() as uow:
            uow.connections.save(made)
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.get(account) == made
            uow.connections.save(refreshed)
            uow.commit()
        with new_uow() as uow:
            stored = uow.connections.get(account)
            summary = uow.connections.summary(account)
        assert stored.access_token == "refreshed"
        assert (stored.org_id, stored.user_id, stored.connected_at) == (
            made.org_id,
            made.user_id,
            ISSUED,
        )
        assert (summary.org_id, summary.user_id, summary.connected_at) == (
            made.org_id,
            made.user_id,
            ISSUED,
        )

    def test_api_usage_noted_shows_in_the_summary(self, new_uow, account, new_account_id):
        with new_uow() as uow:
            uow.connections.save(a_connection(account))
            uow.connections.note_usage(account, ApiUsage(120, 15000), ISSUED)
            uow.connections.note_usage(new_account_id(), ApiUsage(1, 2), ISSUED)  # no connection
            uow.commit()
        with new_uow() as uow:
            summary = uow.connections.summary(account)
            assert uow.connections.get(account) == a_connection(account)
        assert (summary.api_usage, summary.api_seen_at) == (ApiUsage(120, 15000), ISSUED)

    def test_saving_fresh_tokens_clears_needs_reauth(self, new_uow, account):
        with new_uow() as uow:
            uow.connections.save(a_connection(account, needs_reauth=True))
            uow.connections.save(a_connection(account, access_token="new-token"))
            uow.commit()
        with new_uow() as uow:
            stored = uow.connections.get(account)
        assert (stored.access_token, stored.needs_reauth) == ("new-token", False)

    def test_mark_needs_reauth_without_connection_does_nothing(self, new_uow, account):
        with new_uow() as uow:
            uow.connections.mark_needs_reauth(account)
            assert uow.connections.get(account) is None

    def test_connection_for_unregistered_account_is_refused(self, new_uow, new_account_id):
        with new_uow() as uow, pytest.raises(UnknownAccount):
            uow.connections.save(a_connection(new_account_id()))

    def test_delete_forgets_the_connection_and_its_tokens(self, new_uow, account):
        with new_uow() as uow:
            uow.connections.save(a_connection(account))
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.delete(account) is True
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.get(account) is None
            assert uow.accounts.get_settings(account) is not None  # the account stays

    def test_delete_without_a_connection_says_so(self, new_uow, account):
        with new_uow() as uow:
            assert uow.connections.delete(account) is False

    def test_delete_is_undone_without_commit(self, new_uow, account):
        with new_uow() as uow:
            uow.connections.save(a_connection(account))
            uow.commit()
        with new_uow() as uow:
            uow.connections.delete(account)
        with new_uow() as uow:
            assert uow.connections.get(account) == a_connection(account)

    def test_delete_leaves_other_accounts_connected(self, new_uow, account, new_account_id):
        other = new_account_id()
        with new_uow() as uow:
            uow.accounts.save_settings(AccountSettings(account_id=other))
            uow.connections.save(a_connection(account))
            uow.connections.save(a_connection(other))
            uow.connections.delete(account)
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.get(other) == a_connection(other)


class TestConnectionSummary:
    def test_shows_where_and_since_when_and_that_the_tokens_open(self, new_uow, account):
        connection = a_connection(account, needs_reauth=True)
        with new_uow() as uow:
            uow.connections.save(connection)
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.summary(account) == summary_of(connection)

    def test_an_unconnected_account_has_none(self, new_uow, account):
        with new_uow() as uow:
            assert uow.connections.summary(account) is None

    def test_tokens_no_configured_key_opens_are_reported_not_raised(
        self, new_uow, account, save_under_a_lost_key
    ):
        connection = a_connection(account, refresh_token=None)
        save_under_a_lost_key(connection)
        with new_uow() as uow:
            assert uow.connections.summary(account) == summary_of(connection, readable=False)
            with pytest.raises(PermanentFailure) as raised:
                uow.connections.get(account)
        assert raised.value.code == "token_decryption_failed"

    def test_saving_fresh_tokens_makes_them_readable_again(
        self, new_uow, account, save_under_a_lost_key
    ):
        save_under_a_lost_key(a_connection(account))
        with new_uow() as uow:
            uow.connections.save(a_connection(account))
            uow.commit()
        with new_uow() as uow:
            assert uow.connections.summary(account) == summary_of(a_connection(account))
            assert uow.connections.get(account) == a_connection(account)
