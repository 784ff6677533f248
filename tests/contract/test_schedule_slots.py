"""The scheduler's ports, one contract each: ScheduleSlots over memory, Postgres and the
fast clock's process-local store; SyncRequests recorded or sent to RabbitMQ."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta

import attrs
import pytest

from sfsync.adapters.local_slots import LocalScheduleSlots
from sfsync.domain.errors import TransientFailure
from sfsync.domain.messages import SyncRequested
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import (
    SalesforceConnection,
    ScheduleSlots,
    SyncRequests,
    UnitOfWork,
    VendorLink,
)
from sfsync.domain.schedule import AccountSchedule, Slot, SlotKind
from sfsync.entrypoints.codec import decode
from sfsync.services.scheduler import scheduled_request
from tests.fakes import InMemoryScheduleSlots, InMemoryState, InMemoryUnitOfWork, RecordingRequests


@attrs.frozen
class Store:
    new_uow: Callable[[], UnitOfWork]
    slots: ScheduleSlots


@pytest.fixture(scope="session")
def slots_pool(migrated_database_url: str) -> Iterator[object]:
    from sfsync.adapters.postgres.pool import make_pool

    with make_pool(migrated_database_url, max_size=2) as pool:
        yield pool


@pytest.fixture(params=["memory", "postgres", "local"])
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "memory":
        state = InMemoryState()
        return Store(lambda: InMemoryUnitOfWork(state), InMemoryScheduleSlots(state))
    from sfsync.adapters.postgres.schedule_slots import PostgresScheduleSlots

    new_uow = request.getfixturevalue("postgres_uow_factory")
    postgres = PostgresScheduleSlots(request.getfixturevalue("slots_pool"))
    if request.param == "postgres":
        return Store(new_uow, postgres)
    return Store(new_uow, LocalScheduleSlots(postgres.scheduled_accounts))


def an_account(
    store: Store, *, connected: bool = True, linked: bool = False, **settings: object
) -> AccountId:
    account_id = AccountId(f"acc_{secrets.token_hex(6)}")
    with store.new_uow() as uow:
        uow.accounts.save_settings(AccountSettings(account_id, **settings))  # type: ignore[arg-type]
        if connected:
            uow.connections.save(
                SalesforceConnection(account_id, "https://x.my.salesforce.com", "", "t", None)
            )
        if linked:
            uow.vendor_links.save(VendorLink(account_id, "vendor-token"))
        uow.commit()
    return account_id


def a_slot(account_id: str, day: int = 1, kind: SlotKind = SlotKind.IMPORT) -> Slot:
    at = datetime(2026, 1, day, 8, tzinfo=UTC)
    return Slot(AccountId(account_id), kind, date(2026, 1, day), at)


def test_connected_accounts_are_listed_with_their_schedule_and_creation_time(store):
    before = datetime.now(UTC) - timedelta(minutes=1)
    berlin = an_account(store, time_zone="Europe/Berlin", export_at=time(21, 15), push_enabled=True)
    plain = an_account(store)
    unconnected = an_account(store, connected=False)
    listed = {s.account_id: s for s in store.slots.scheduled_accounts()}
    assert unconnected not in listed
    assert attrs.evolve(listed[berlin], since=None) == AccountSchedule(
        berlin, "Europe/Berlin", time(21, 15), time(0), exports=True
    )
    assert listed[plain].kinds == (SlotKind.IMPORT,)  # no push, no export
    assert listed[plain].since is not None and listed[plain].since >= before


def test_vendor_linked_accounts_are_listed_and_never_export(store):
    vendor = an_account(store, connected=False, linked=True, direct_api=False)
    # push asked for, but the account reads through its vendor link only: no export slot
    direct = an_account(store, connected=False, linked=True, push_enabled=True)
    both = an_account(store, linked=True, push_enabled=True)
    listed = {s.account_id: s for s in store.slots.scheduled_accounts()}
    assert listed[vendor].kinds == listed[direct].kinds == (SlotKind.IMPORT,)
    assert listed[both].exports is True
    with store.slots.claim([a_slot(vendor)]) as claimed:
        assert claimed == [a_slot(vendor)]


def test_a_slot_is_claimed_once_and_a_failed_block_claims_nothing(store):
    account = an_account(store)
    slots = [a_slot(account, 1), a_slot(account, 2), a_slot(account, 2, SlotKind.EXPORT)]
    with pytest.raises(TransientFailure), store.slots.claim(slots[:1]):
        raise TransientFailure("the publish was not confirmed")
    with store.slots.claim(slots[:2]) as claimed:
        assert claimed == slots[:2]
    with store.slots.claim(slots) as claimed:
        assert claimed == slots[2:]
    with store.slots.claim(slots) as claimed:
        assert claimed == []


def test_missed_slots_are_recorded_once_and_never_claimed(store):
    account = an_account(store)
    slots = [a_slot(account, 1), a_slot(account, 2)]
    assert store.slots.record_missed(slots[:1]) == 1
    assert store.slots.record_missed(slots) == 1
    with store.slots.claim(slots) as claimed:
        assert claimed == []


def test_slots_of_an_unknown_account_are_left_out(store):
    known = an_account(store)
    slots = [a_slot("acc_gone_" + secrets.token_hex(4)), a_slot(known)]
    with store.slots.claim(slots) as claimed:
        assert claimed == slots[1:]


def test_records_before_an_instant_are_forgotten_and_those_slots_can_be_claimed_again(store):
    account = an_account(store)
    old, new = a_slot(account, 1), a_slot(account, 3)
    store.slots.record_missed([old, new])
    assert store.slots.forget_before(datetime(2026, 1, 2, tzinfo=UTC)) >= 1
    with store.slots.claim([old, new]) as claimed:
        assert claimed == [old]


# --- SyncRequests ---------------------------------------------------------------------


@attrs.frozen
class Sender:
    requests: SyncRequests
    received: Callable[[], list[SyncRequested]]


@pytest.fixture(params=["recording", "rabbitmq"])
def sender(request: pytest.FixtureRequest) -> Iterator[Sender]:
    if request.param == "recording":
        recording = RecordingRequests()
        yield Sender(recording, lambda: list(recording.sent))
        return
    import pika

    from sfsync.adapters.rabbitmq.requests import RequestPublisher

    amqp_url = request.getfixturevalue("amqp_url")
    queue = f"{request.getfixturevalue('queue_prefix')}.requests_{secrets.token_hex(3)}"
    publisher = RequestPublisher(amqp_url, queue)

    def received() -> list[SyncRequested]:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel, found = connection.channel(), []
            while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
                assert got[1].content_type == "application/json"
                assert got[1].delivery_mode == 2
                message = decode(json.loads(got[2]))
                assert isinstance(message, SyncRequested)
                found.append(message)
            channel.queue_delete(queue)
            return found
        finally:
            connection.close()

    yield Sender(publisher, received)
    publisher.close()


def test_requests_arrive_as_contract_messages_in_order(sender):
    now = datetime(2026, 1, 1, 8, 0, 1, tzinfo=UTC)
    requests = [scheduled_request(a_slot("acc_1", day), now) for day in (1, 2, 3)]
    sender.requests.send(requests[:1])
    sender.requests.send(requests[1:])
    assert sender.received() == requests
