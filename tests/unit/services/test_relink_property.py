"""Property: after any import, a linked candidate carries its Contact's base fields.

The real import service runs on the in-memory fakes, over pages of three Contacts and
several imports (full and incremental), with Contacts added and edited in between: emails
that are case or space variants of one another (so duplicates meet within a page and
across pages), blank names, and Contacts older or newer than the ones already linked.

After every import, every candidate linked to a Contact has email (trimmed), first_name,
last_name and name equal to that Contact's, except in the two documented cases:
- The Contact's email moved to one another candidate holds (EMAIL_TAKEN), or to no usable
  email (skipped as no_email / invalid_email). Nothing of the Contact is applied, so the
  candidate keeps what it had. Excluded exactly when the candidate's base fields are the
  ones it had before this import and its email key is no longer its Contact's.
- A sign-up's own name: a candidate who signed up (unlinked) keeps its own first name,
  last name or name where its Contact's is blank. Excluded exactly when the candidate is
  one of the sign-ups, the Contact's value is blank (None or "") and the candidate's value
  is the one it signed up with.
Deleted Contacts are not generated (the `keep` behaviour leaves a candidate as it was).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfsync.domain.messages import Scope, SyncRequested, Trigger
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    Candidate,
    DuplicatePolicy,
    normalize_email,
)
from sfsync.domain.ports import SalesforceConnection
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

ACCOUNT = AccountId("acc_prop")
LOCALS = ("ada", "fatima", "li", "sam")
FIRST = (None, "", "Ada", "Fatima", "Li")
LAST = (None, "", "Lovelace", "Moreau")
UNUSABLE = (None, "", "ada")  # no email, or not an address: the Contact is skipped
_requests = itertools.count(1)

# One person's address, written four ways: all four are the same candidate email key.
emails = st.builds(
    lambda local, style: style(f"{local}@example.org"),
    st.sampled_from(LOCALS),
    st.sampled_from([str, str.upper, str.title, lambda e: f" {e} "]),
)
names = st.sampled_from(FIRST + LAST)
add = st.tuples(st.just("add"), emails, names, names, st.booleans())
index = st.integers(0, 50)
edit = st.tuples(st.just("edit"), index, st.just("Email"), emails | st.sampled_from(UNUSABLE))
rename = st.tuples(st.just("edit"), index, st.sampled_from(["FirstName", "LastName"]), names)
rounds = st.lists(
    st.tuples(st.lists(add | edit | rename, min_size=1, max_size=7), st.booleans()),
    min_size=1,
    max_size=4,
)
signups = st.lists(
    st.tuples(st.sampled_from(LOCALS), names, names), max_size=3, unique_by=lambda s: s[0]
)


def _name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p)


def _apply(salesforce: FakeSalesforce, op: tuple, start: datetime) -> None:
    if op[0] == "add":
        _, email, first, last, older = op
        # an older Contact: committed late, or read only by a full import
        stamp = start - timedelta(minutes=len(salesforce.records) + 1) if older else None
        salesforce.add_contact(email, first, last, stamp, Name=_name(first, last))
        return
    _, at, field, value = op
    if salesforce.records:
        record = list(salesforce.records.values())[at % len(salesforce.records)]
        record[field] = value
        name = _name(record["FirstName"], record["LastName"])
        record.update(Name=name, SystemModstamp=salesforce._tick())


def _base(candidate: Candidate) -> tuple[str | None, ...]:
    return (candidate.email, candidate.first_name, candidate.last_name, candidate.name)


def _check(state: InMemoryState, salesforce: FakeSalesforce, before: dict, signed: dict) -> None:
    for candidate in state.candidates.values():
        if candidate.salesforce_id is None:
            continue
        contact = salesforce.records[candidate.salesforce_id]
        email = contact["Email"] or ""
        want = (email.strip(), contact["FirstName"], contact["LastName"], contact["Name"])
        got = _base(candidate)
        if got == want:
            continue
        earlier = before.get(candidate.id)
        if earlier and _base(earlier) == got and candidate.email_key != normalize_email(email):
            continue  # its Contact's email is another candidate's, or unusable: left as it was
        own = signed.get(candidate.id)  # a sign-up keeps its own name where the Contact's is blank
        assert own is not None and got[0] == want[0], (candidate, contact)
        for value, wanted, mine in zip(got[1:], want[1:], own, strict=True):
            assert value == wanted or (not wanted and value == mine), (candidate, contact)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=st.sampled_from(DuplicatePolicy), people=signups, changes=rounds)
def test_linked_candidates_carry_their_contacts_base_fields(policy, people, changes):
    salesforce = FakeSalesforce(page_size=3)
    state = InMemoryState()
    uow = lambda: InMemoryUnitOfWork(state)  # noqa: E731
    signed = {}
    with uow() as tx:
        tx.accounts.save_settings(AccountSettings(ACCOUNT, duplicate_policy=policy))
        tx.connections.save(SalesforceConnection(ACCOUNT, "https://x", "https://l", "t", "r"))
        for n, (local, first, last) in enumerate(people):
            signup = Candidate(f"signup_{n}", ACCOUNT, f"{local}@example.org", first, last)
            signup = attrs.evolve(signup, name=_name(first, last) or None)
            tx.candidates.add(signup)
            signed[signup.id] = (signup.first_name, signup.last_name, signup.name)
        tx.commit()
    start = salesforce._clock
    clock = FixedClock(start)
    deps = ImportDeps(
        uow,
        FakeGateways(salesforce),
        RecordingPublisher(),
        clock,
        InMemoryLocks(),
        RecordingRunLog(),
        RecordingMetrics(),
        write_page=3,
    )
    for ops, full in changes:
        for op in ops:
            _apply(salesforce, op, start)
        clock.current = max(clock.current, salesforce._clock) + timedelta(minutes=2)
        before = dict(state.candidates)
        request = SyncRequested(
            "sync.requested", 1, f"req-{next(_requests)}", datetime.now(UTC), ACCOUNT,
            Scope.IMPORT, Trigger.MANUAL, full_resync=full,
        )  # fmt: skip
        run = run_sync(request, deps)
        assert run.status == "succeeded", run.errors
        _check(state, salesforce, before, signed)
