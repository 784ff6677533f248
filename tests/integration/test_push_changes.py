"""The push reads only the candidates that may need a write (real Postgres): whatever
changes in between, none is missed, and a changed push configuration plans them all."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.domain.messages import Scope, SyncRequested, Trigger
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    Candidate,
    MappingDirection,
)
from sfsync.domain.ports import SalesforceConnection
from sfsync.services.imports import ImportDeps, run_sync
from tests.fake_salesforce import FakeSalesforce
from tests.fakes import (
    FakeGateways,
    FixedClock,
    InMemoryLocks,
    RecordingMetrics,
    RecordingPublisher,
    RecordingRunLog,
)

pytestmark = pytest.mark.integration

COLOR = AttributeMapping("favorite_color_c", "Favorite_Color__c", MappingDirection.EXPORT)
FITS = ("Red", "Green", "Blue")
OPT_OUT_FIELDS = ("HasOptedOutOfEmail", "gq_import__c")  # both checkboxes
CANDIDATES = 3


@pytest.fixture(scope="module")
def pool(migrated_database_url: str) -> Iterator:
    with make_pool(migrated_database_url, max_size=2, timeout=5.0) as pool:
        yield pool


class Push:
    """One account with linked candidates, a fake org and the push over real Postgres."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.cipher = TokenCipher([TokenCipher.generate_key()])
        self.account = AccountId(f"acc_{secrets.token_hex(6)}")
        self.salesforce = FakeSalesforce()
        self.deps = ImportDeps(
            self.uow,
            FakeGateways(self.salesforce),
            RecordingPublisher(),
            FixedClock(datetime.now(UTC)),
            InMemoryLocks(),
            RecordingRunLog(),
            RecordingMetrics(),
            push_page=2,
        )
        self.opt_out = OPT_OUT_FIELDS[0]
        with self.uow() as uow:
            uow.accounts.save_settings(AccountSettings(self.account, push_enabled=True))
            uow.accounts.save_mapping(self.account, COLOR)
            uow.connections.save(
                SalesforceConnection(self.account, "https://x", "https://login", "tok", "ref")
            )
            self.ids = []
            for n in range(CANDIDATES):
                contact = self.salesforce.add_contact(f"c{n}@example.com")
                candidate = Candidate(
                    f"{self.account}_{n}",
                    self.account,
                    f"c{n}@example.com",
                    salesforce_id=contact,
                    attributes={"favorite_color_c": "Red"},
                )
                uow.candidates.add(candidate)
                self.ids.append((candidate.id, contact))
            uow.commit()

    def uow(self) -> PsycopgUnitOfWork:
        return PsycopgUnitOfWork(self.pool, self.cipher)

    def sql(self, statement: str, *params: object) -> None:
        """As another service writing the table would (no sfsync code involved)."""
        with self.pool.connection() as conn:
            conn.execute(statement, params)

    def set_opt_out_field(self, name: str) -> None:
        self.opt_out = name
        settings = AccountSettings(self.account, push_enabled=True, unsubscribe_field=name)
        with self.uow() as uow:
            uow.accounts.save_settings(settings)
            uow.commit()

    def push(self):
        self.deps.clock.advance(seconds=1)  # type: ignore[attr-defined]
        request = SyncRequested(
            "sync.requested", 1, secrets.token_hex(8), datetime.now(UTC), self.account,
            Scope.EXPORT, Trigger.MANUAL,
        )  # fmt: skip
        return run_sync(request, self.deps)

    def assert_salesforce_holds_every_candidate(self) -> None:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, attributes ->> 'favorite_color_c', unsubscribed FROM candidates"
                " WHERE account_id = %s",
                (self.account,),
            ).fetchall()
        contacts = dict(self.ids)
        for candidate_id, color, unsubscribed in rows:
            record = self.salesforce.records[contacts[candidate_id]]
            if color in FITS:
                assert record["Favorite_Color__c"] == color, candidate_id
            if unsubscribed:
                assert record[self.opt_out] is True, candidate_id


step = st.one_of(
    st.tuples(st.just("color"), st.integers(0, CANDIDATES - 1), st.sampled_from((*FITS, "Plum"))),
    st.tuples(st.just("unsubscribe"), st.integers(0, CANDIDATES - 1), st.just("")),
    st.tuples(st.just("opt_out_field"), st.just(0), st.sampled_from(OPT_OUT_FIELDS)),
    st.tuples(st.just("push"), st.just(0), st.just("")),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(step, max_size=12))
def test_a_changed_candidate_is_never_missed(pool, steps) -> None:
    world = Push(pool)
    world.push()
    for kind, n, value in steps:
        candidate_id = world.ids[n][0]
        if kind == "color":
            world.sql(
                "UPDATE candidates SET attributes = attributes"
                " || jsonb_build_object('favorite_color_c', %s::text) WHERE id = %s",
                value,
                candidate_id,
            )
        elif kind == "unsubscribe":
            world.sql("UPDATE candidates SET unsubscribed = true WHERE id = %s", candidate_id)
        elif kind == "opt_out_field":
            world.set_opt_out_field(value)
        else:
            world.push()
            world.assert_salesforce_holds_every_candidate()
    world.push()
    world.assert_salesforce_holds_every_candidate()
    calls = len(world.salesforce.update_calls)
    world.push()
    assert len(world.salesforce.update_calls) == calls  # nothing changed: no write


def test_a_no_op_push_reads_no_candidate_and_a_new_mapping_reads_them_all(pool) -> None:
    world = Push(pool)
    world.push()
    with world.uow() as uow:
        assert uow.candidates.from_salesforce(world.account, None, 10, _config(world)) == []
        uow.accounts.save_mapping(
            world.account, AttributeMapping("city", "MailingCity", MappingDirection.EXPORT)
        )
        uow.commit()
    world.sql(
        'UPDATE candidates SET attributes = attributes || \'{"city": "Oslo"}\' WHERE id = %s',
        world.ids[0][0],
    )
    world.salesforce.updates.clear()
    run = world.push()
    assert run.status == "succeeded"
    assert {u.contact_id: dict(u.values) for u in world.salesforce.updates} == {
        world.ids[0][1]: {"MailingCity": "Oslo"}
    }
    with world.uow() as uow:  # every candidate planned under the new mapping set
        assert uow.candidates.from_salesforce(world.account, None, 10, _config(world)) == []


def _config(world: Push) -> str | None:
    from sfsync.domain.push import preflight
    from sfsync.services.push.run import push_config

    with world.uow() as uow:
        settings_ = uow.accounts.get_settings(world.account)
        mappings = uow.accounts.mappings(world.account)
    return push_config(preflight(settings_, world.salesforce.describe_contact(), mappings))
