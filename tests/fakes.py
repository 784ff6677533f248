"""Hand-written fakes of the ports; the storage fakes pass the same contract tests as Postgres.

`InMemoryUnitOfWork` keeps committed data in an `InMemoryState` (share one between units of
work to model one database); a unit of work works on a copy, so changes are visible only
after commit and rollback discards them. Uniqueness and "unknown account" rules match the
schema and raise the same error families.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from sfsync.domain.errors import Conflict, PermanentFailure, TransientFailure, UnknownAccount
from sfsync.domain.messages import SyncRequested
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    Candidate,
    SalesforceId,
    SyncCursor,
    SyncMarks,
    normalize_email,
)
from sfsync.domain.ports import (
    AccountLocks,
    ApiUsage,
    Clock,
    ConnectionSummary,
    ContactCache,
    ContactReader,
    EventPublisher,
    GatewayFactory,
    PushAck,
    PushFailure,
    RunIds,
    RunLog,
    RunRecord,
    SalesforceConnection,
    SalesforceGateway,
    ScheduleSlots,
    SyncRequests,
    UnitOfWork,
    VendorLink,
    VendorLinkSummary,
)
from sfsync.domain.push.consent import ConsentChange
from sfsync.domain.schedule import AccountSchedule, Slot
from sfsync.domain.signups import Signup, SignupOutcome
from sfsync.domain.stored_values import attribute_to_json


@attrs.define
class FixedClock:
    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@attrs.define
class RecordingPublisher:
    events: list[tuple[str, Mapping[str, Any]]] = attrs.Factory(list)

    def publish(self, event_type: str, payload: Mapping[str, Any]) -> None:
        self.events.append((event_type, payload))


@attrs.define
class RecordingRequests:
    """SyncRequests keeping what was sent; `fail_next` makes the next send raise."""

    sent: list[SyncRequested] = attrs.Factory(list)
    fail_next: bool = False

    def send(self, requests: Sequence[SyncRequested]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise TransientFailure("the broker did not confirm", code="broker_down")
        self.sent.extend(requests)


@attrs.define
class InMemoryScheduleSlots:
    """ScheduleSlots over the committed `state` of the in-memory units of work."""

    state: InMemoryState

    def scheduled_accounts(self) -> list[AccountSchedule]:
        connections = self.state.connections
        return [
            AccountSchedule(
                account_id,
                settings.time_zone,
                settings.export_at,
                settings.import_at,
                settings.push_enabled and settings.direct_api and account_id in connections,
                self.state.created.get(account_id),
            )
            for account_id, settings in sorted(self.state.settings.items())
            if account_id in connections or account_id in self.state.vendor_links
        ]

    @contextmanager
    def claim(self, slots: Sequence[Slot]) -> Iterator[list[Slot]]:
        new = self._new(slots)
        yield new
        self._record(new, "published")

    def record_missed(self, slots: Sequence[Slot]) -> int:
        new = self._new(slots)
        self._record(new, "missed")
        return len(new)

    def forget_before(self, instant: datetime) -> int:
        old = [key for key, (_, _, at) in self.state.schedule_slots.items() if at < instant]
        for key in old:
            del self.state.schedule_slots[key]
        return len(old)

    def _new(self, slots: Sequence[Slot]) -> list[Slot]:
        recorded = self.state.schedule_slots
        return [s for s in slots if s.key not in recorded and s.account_id in self.state.settings]

    def _record(self, slots: Sequence[Slot], status: str) -> None:
        for slot in slots:
            self.state.schedule_slots[slot.key] = (slot.request_id(), status, slot.at)


@attrs.define
class InMemoryState:
    """What a database would hold; compare or inspect it in tests."""

    settings: dict[AccountId, AccountSettings] = attrs.Factory(dict)
    mappings: dict[tuple[AccountId, str], AttributeMapping] = attrs.Factory(dict)
    connections: dict[AccountId, SalesforceConnection] = attrs.Factory(dict)
    # accounts whose stored tokens no configured key opens (as if their key was dropped)
    unreadable_tokens: set[AccountId] = attrs.Factory(set)
    api_usage: dict[AccountId, tuple[ApiUsage, datetime]] = attrs.Factory(dict)
    vendor_links: dict[AccountId, VendorLink] = attrs.Factory(dict)
    # accounts whose stored vendor token no configured key opens
    unreadable_vendor_tokens: set[AccountId] = attrs.Factory(set)
    candidates: dict[str, Candidate] = attrs.Factory(dict)
    runs: dict[str, RunRecord] = attrs.Factory(dict)
    cursors: dict[AccountId, SyncCursor] = attrs.Factory(dict)
    marks: dict[AccountId, SyncMarks] = attrs.Factory(dict)
    seen: dict[str, dict[str, datetime]] = attrs.Factory(dict)  # reconcile runs
    processed: set[str] = attrs.Factory(set)
    # push storage, by candidate id (gone with the candidate, as the tables cascade)
    push_state: dict[str, PushAck] = attrs.Factory(dict)
    consent: list[ConsentChange] = attrs.Factory(list)  # in the order appended
    push_failures: dict[str, PushFailure] = attrs.Factory(dict)

    def forget_push_rows(self, candidate_id: str) -> None:
        self.push_state.pop(candidate_id, None)
        self.push_failures.pop(candidate_id, None)
        self.consent = [c for c in self.consent if c.candidate_id != candidate_id]

    signups: dict[str, Signup] = attrs.Factory(dict)  # by message id
    signup_flushes: dict[AccountId, datetime] = attrs.Factory(dict)
    created: dict[AccountId, datetime] = attrs.Factory(dict)  # when settings were first saved
    # the scheduler's slots: key -> (request id, "published" or "missed", instant)
    schedule_slots: dict[tuple[str, str, date], tuple[str, str, datetime]] = attrs.Factory(dict)


@attrs.define
class _Transaction:
    committed: InMemoryState
    working: InMemoryState | None = None

    def state(self) -> InMemoryState:
        if self.working is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self.working

    def known_account(self, account_id: AccountId) -> None:
        if account_id not in self.state().settings:
            raise UnknownAccount("the account is not registered (save its settings first)")

    def known_candidates(self, account_id: AccountId, candidate_ids: Iterable[str]) -> None:
        candidates = self.state().candidates
        for candidate_id in candidate_ids:
            found = candidates.get(candidate_id)
            if found is None or found.account_id != account_id:
                raise PermanentFailure("candidate not found in this account", code="not_found")


@attrs.define
class InMemoryCandidates:
    _tx: _Transaction

    def get(self, account_id: AccountId, candidate_id: str) -> Candidate | None:
        found = self._tx.state().candidates.get(candidate_id)
        return found if found is not None and found.account_id == account_id else None

    def account_of(self, candidate_id: str) -> AccountId | None:
        found = self._tx.state().candidates.get(candidate_id)
        return None if found is None else found.account_id

    def get_by_email(self, account_id: AccountId, email: str) -> Candidate | None:
        key = normalize_email(email)
        return self._find(account_id, lambda c: c.email_key == key)

    def get_by_salesforce_id(
        self, account_id: AccountId, contact_id: SalesforceId
    ) -> Candidate | None:
        return self._find(account_id, lambda c: c.salesforce_id == contact_id)

    def add(self, candidate: Candidate) -> None:
        self._tx.known_account(candidate.account_id)
        if candidate.id in self._tx.state().candidates:
            raise Conflict("a candidate with this id already exists")
        self._store(candidate)

    def update(self, candidate: Candidate) -> None:
        if self.get(candidate.account_id, candidate.id) is None:
            raise PermanentFailure("candidate not found", code="not_found")
        self._store(candidate)

    def delete(self, account_id: AccountId, candidate_id: str) -> bool:
        if self.get(account_id, candidate_id) is None:
            return False
        del self._tx.state().candidates[candidate_id]
        self._tx.state().forget_push_rows(candidate_id)
        return True

    def count(self, account_id: AccountId) -> int:
        return sum(c.account_id == account_id for c in self._tx.state().candidates.values())

    def find_for_contacts(
        self, account_id: AccountId, contact_ids: Sequence[str], email_keys: Sequence[str]
    ) -> list[Candidate]:
        ids, keys = set(contact_ids), set(email_keys)
        return [
            c
            for c in self._tx.state().candidates.values()
            if c.account_id == account_id and (c.salesforce_id in ids or c.email_key in keys)
        ]

    def apply_changes(
        self,
        account_id: AccountId,
        upserts: Sequence[Candidate],
        deletes: Sequence[str],
        *,
        creates: Sequence[Candidate] = (),
    ) -> None:
        """Like the bulk write in Postgres: uniqueness is checked once the page is written;
        `creates` are only a hint, written like upserts."""
        upserts = [*upserts, *creates]
        self._tx.known_account(account_id)
        candidates = self._tx.state().candidates
        for candidate_id in deletes:
            if self.get(account_id, candidate_id) is not None:
                del candidates[candidate_id]
                self._tx.state().forget_push_rows(candidate_id)
        for candidate in upserts:
            current = candidates.get(candidate.id)
            if candidate.account_id != account_id or (
                current is not None and current.account_id != account_id
            ):
                raise PermanentFailure("a candidate of another account", code="wrong_account")
            stored = _stored_form(candidate)
            times = _changed_at(current, stored)
            candidates[candidate.id] = attrs.evolve(stored, attributes_changed_at=times)
        for candidate in upserts:
            self._store(candidates[candidate.id])

    def from_salesforce(
        self, account_id: AccountId, after: str | None, limit: int, changed_under: str | None = None
    ) -> list[Candidate]:
        state = self._tx.state()
        linked = sorted(
            (
                attrs.evolve(c, push_basis=_push_basis(c))
                for c in state.candidates.values()
                if c.account_id == account_id and c.salesforce_id and c.id > (after or "")
            ),
            key=lambda c: c.id,
        )
        if changed_under is not None:
            linked = [c for c in linked if _may_need_a_write(state, c, changed_under)]
        return linked[:limit]

    def record_seen(
        self, account_id: AccountId, run_id: str, stamps: Sequence[tuple[str, datetime]]
    ) -> None:
        self._tx.state().seen.setdefault(run_id, {}).update(stamps)

    def reconcile_seen(
        self, account_id: AccountId, run_id: str
    ) -> tuple[list[SalesforceId], list[SalesforceId]]:
        seen = self._tx.state().seen.pop(run_id, {})
        linked = {
            c.salesforce_id: c
            for c in self._tx.state().candidates.values()
            if c.account_id == account_id and c.salesforce_id
        }
        gone = sorted(sf_id for sf_id in linked if sf_id not in seen)
        missed = sorted(
            sf_id
            for sf_id, c in linked.items()
            if sf_id in seen and (c.source_modstamp is None or seen[sf_id] > c.source_modstamp)
        )
        return gone, missed

    def _find(self, account_id: AccountId, matches: Any) -> Candidate | None:
        for candidate in self._tx.state().candidates.values():
            if candidate.account_id == account_id and matches(candidate):
                return candidate
        return None

    def _store(self, candidate: Candidate) -> None:
        for other in self._tx.state().candidates.values():
            if other.account_id != candidate.account_id or other.id == candidate.id:
                continue
            if other.email_key == candidate.email_key:
                raise Conflict("another candidate of this account has this email")
            if candidate.salesforce_id and other.salesforce_id == candidate.salesforce_id:
                raise Conflict("another candidate of this account is linked to this Contact")
        stored = _stored_form(candidate)
        before = self._tx.state().candidates.get(candidate.id)
        stored = attrs.evolve(stored, attributes_changed_at=_changed_at(before, stored))
        self._tx.state().candidates[candidate.id] = stored


def _changed_at(before: Candidate | None, after: Candidate) -> dict[str, datetime]:
    """As the Postgres trigger keeps it: a value changed by an update is timed now, an
    unchanged one keeps its time, a new candidate's values have none."""
    if before is None:
        return {}
    now = datetime.now(UTC)
    old, times = before.attributes, before.attributes_changed_at
    changed = {
        name: times[name] if name in old and old[name] == value and name in times else now
        for name, value in after.attributes.items()
        if name not in old or old[name] != value or name in times
    }
    return changed


def _stored_form(candidate: Candidate) -> Candidate:
    """Attributes are kept in their stored JSON form, as Postgres returns them."""
    attributes = {name: attribute_to_json(v) for name, v in candidate.attributes.items()}
    return attrs.evolve(candidate, attributes=attributes)


@attrs.define
class InMemoryAccounts:
    _tx: _Transaction

    def get_settings(self, account_id: AccountId) -> AccountSettings | None:
        return self._tx.state().settings.get(account_id)

    def save_settings(self, settings: AccountSettings) -> None:
        self._tx.state().settings[settings.account_id] = settings
        self._tx.state().created.setdefault(settings.account_id, datetime.now(UTC))

    def mappings(self, account_id: AccountId) -> list[AttributeMapping]:
        found = [m for (owner, _), m in self._tx.state().mappings.items() if owner == account_id]
        return sorted(found, key=lambda mapping: mapping.name)

    def save_mapping(self, account_id: AccountId, mapping: AttributeMapping) -> None:
        self._tx.known_account(account_id)
        self._tx.state().mappings[(account_id, mapping.name)] = mapping

    def remove_mapping(self, account_id: AccountId, name: str) -> bool:
        return self._tx.state().mappings.pop((account_id, name), None) is not None


@attrs.define
class InMemoryConnections:
    _tx: _Transaction

    def get(self, account_id: AccountId) -> SalesforceConnection | None:
        if account_id in self._tx.state().unreadable_tokens:
            raise PermanentFailure(
                "stored token cannot be decrypted with the configured keys",
                code="token_decryption_failed",
            )
        return self._tx.state().connections.get(account_id)

    def summary(self, account_id: AccountId) -> ConnectionSummary | None:
        found = self._tx.state().connections.get(account_id)
        if found is None:
            return None
        readable = account_id not in self._tx.state().unreadable_tokens
        usage, seen_at = self._tx.state().api_usage.get(account_id, (None, None))
        return ConnectionSummary(
            found.instance_url,
            found.login_url,
            found.issued_at,
            found.needs_reauth,
            readable,
            org_id=found.org_id,
            user_id=found.user_id,
            connected_at=found.connected_at,
            api_usage=usage,
            api_seen_at=seen_at,
        )

    def save(self, connection: SalesforceConnection) -> None:
        self._tx.known_account(connection.account_id)
        before = self._tx.state().connections.get(connection.account_id)
        if before is not None:  # what a token refresh does not know is kept
            connection = attrs.evolve(
                connection,
                org_id=connection.org_id or before.org_id,
                user_id=connection.user_id or before.user_id,
                connected_at=connection.connected_at or before.connected_at,
            )
        self._tx.state().connections[connection.account_id] = connection
        self._tx.state().unreadable_tokens.discard(connection.account_id)  # sealed anew

    def note_usage(self, account_id: AccountId, usage: ApiUsage, seen_at: datetime) -> None:
        if account_id in self._tx.state().connections:
            self._tx.state().api_usage[account_id] = (usage, seen_at)

    def mark_needs_reauth(self, account_id: AccountId) -> None:
        connections = self._tx.state().connections
        if account_id in connections:
            connections[account_id] = attrs.evolve(connections[account_id], needs_reauth=True)

    def delete(self, account_id: AccountId) -> bool:
        self._tx.state().unreadable_tokens.discard(account_id)
        self._tx.state().api_usage.pop(account_id, None)
        return self._tx.state().connections.pop(account_id, None) is not None


@attrs.define
class InMemoryVendorLinks:
    _tx: _Transaction

    def get(self, account_id: AccountId) -> VendorLink | None:
        if account_id in self._tx.state().unreadable_vendor_tokens:
            raise PermanentFailure(
                "stored token cannot be decrypted with the configured keys",
                code="token_decryption_failed",
            )
        return self._tx.state().vendor_links.get(account_id)

    def summary(self, account_id: AccountId) -> VendorLinkSummary | None:
        found = self._tx.state().vendor_links.get(account_id)
        if found is None:
            return None
        readable = account_id not in self._tx.state().unreadable_vendor_tokens
        return VendorLinkSummary(found.linked_at, readable)

    def save(self, link: VendorLink) -> None:
        self._tx.known_account(link.account_id)
        self._tx.state().vendor_links[link.account_id] = link
        self._tx.state().unreadable_vendor_tokens.discard(link.account_id)  # sealed anew

    def delete(self, account_id: AccountId) -> bool:
        self._tx.state().unreadable_vendor_tokens.discard(account_id)
        return self._tx.state().vendor_links.pop(account_id, None) is not None


_CHECKPOINTED = (
    "processed",
    "expected",
    "counts",
    "errors",
    "fields_read",
    "mode",
    "position",
    "source",
)


@attrs.define
class InMemoryRuns:
    _tx: _Transaction

    def start(self, run: RunRecord) -> None:
        self._tx.known_account(run.account_id)
        runs = self._tx.state().runs
        if run.id in runs:
            raise Conflict("a sync run with this id already exists")
        if run.request_id is not None and any(
            (r.account_id, r.request_id) == (run.account_id, run.request_id) for r in runs.values()
        ):
            raise Conflict("a sync run for this request already exists")
        runs[run.id] = copy.deepcopy(run)

    def checkpoint(self, run: RunRecord) -> None:
        saved = self._existing(run.id)
        page = {k: copy.deepcopy(getattr(run, k)) for k in _CHECKPOINTED}
        self._tx.state().runs[run.id] = attrs.evolve(saved, **page)

    def finish(self, run: RunRecord) -> None:
        # Like the table: the run's identity (account, request, scope) stays as started.
        started = self._existing(run.id)
        finished = attrs.evolve(
            copy.deepcopy(run),
            account_id=started.account_id,
            request_id=started.request_id,
            scope=started.scope,
        )
        self._tx.state().runs[run.id] = finished

    def get(self, run_id: str) -> RunRecord | None:
        return self._tx.state().runs.get(run_id)

    def find_by_request(self, account_id: AccountId, request_id: str) -> RunRecord | None:
        runs = self._tx.state().runs.values()
        return next(
            (r for r in runs if (r.account_id, r.request_id) == (account_id, request_id)), None
        )

    def recent(self, account_id: AccountId, limit: int) -> list[RunRecord]:
        started = [
            (r.started_at, r.id, r)
            for r in self._tx.state().runs.values()
            if r.account_id == account_id and r.started_at is not None
        ]
        started.sort(key=lambda s: s[:2], reverse=True)
        return [r for *_, r in started[:limit]]

    def cursor(self, account_id: AccountId) -> SyncCursor | None:
        return self._tx.state().cursors.get(account_id)

    def save_cursor(self, account_id: AccountId, cursor: SyncCursor) -> None:
        self._tx.known_account(account_id)
        self._tx.state().cursors[account_id] = cursor

    def marks(self, account_id: AccountId) -> SyncMarks:
        return self._tx.state().marks.get(account_id, SyncMarks())

    def save_marks(self, account_id: AccountId, marks: SyncMarks) -> None:
        self._tx.known_account(account_id)
        self._tx.state().marks[account_id] = marks

    def _existing(self, run_id: str) -> RunRecord:
        run = self._tx.state().runs.get(run_id)
        if run is None:
            raise PermanentFailure("sync run not found", code="not_found")
        return run


@attrs.define
class InMemoryProcessedMessages:
    _tx: _Transaction

    def claim(self, message_id: str) -> bool:
        processed = self._tx.state().processed
        if message_id in processed:
            return False
        processed.add(message_id)
        return True


# --- push storage ---


def _distinct(candidate_ids: Iterable[str]) -> None:
    ids = list(candidate_ids)
    if len(set(ids)) != len(ids):
        raise PermanentFailure("a page names a candidate twice", code="invalid_data")


@attrs.define
class InMemoryPushState:
    _tx: _Transaction

    def acknowledged(
        self, account_id: AccountId, candidate_ids: Sequence[str]
    ) -> dict[str, PushAck]:
        kept = self._tx.state().push_state
        return {
            i: attrs.evolve(kept[i], planned_from=None, config=None, sending=None)
            for i in candidate_ids
            if i in kept and self._owns(account_id, i)
        }

    def acknowledge(self, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        _distinct(ack.candidate_id for ack in acks)
        self._tx.known_candidates(account_id, (ack.candidate_id for ack in acks))
        kept = self._tx.state().push_state
        for ack in acks:
            values = {name: attribute_to_json(v) for name, v in ack.values.items()}
            before = kept.get(ack.candidate_id)
            if before is not None and before.contact_id == ack.contact_id:
                values = {**before.values, **values}
            sending = ack.sending
            if sending is not None:
                sending = {name: attribute_to_json(v) for name, v in sending.items()}
            kept[ack.candidate_id] = attrs.evolve(
                ack,
                values=values,
                sending=sending,
                planned_from=_kept(ack.planned_from, before.planned_from if before else None),
                config=_kept(ack.config, before.config if before else None),
            )

    def settle(
        self,
        account_id: AccountId,
        accepted: Sequence[SalesforceId],
        refused: Sequence[SalesforceId],
        at: datetime,
    ) -> dict[SalesforceId, str]:
        answers = {**dict.fromkeys(refused, False), **dict.fromkeys(accepted, True)}
        state = self._tx.state()
        settled: dict[SalesforceId, str] = {}
        for candidate in list(state.candidates.values()):
            contact_id = candidate.salesforce_id
            ack = state.push_state.get(candidate.id)
            if candidate.account_id != account_id or contact_id not in answers or ack is None:
                continue
            if ack.contact_id != contact_id or ack.sending is None:
                continue
            sent = ack.sending if answers[contact_id] else {}
            state.push_state[candidate.id] = attrs.evolve(
                ack, values={**ack.values, **sent}, acknowledged_at=at, sending=None
            )
            settled[contact_id] = candidate.id
        return settled

    def read_back(self, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        _distinct(ack.candidate_id for ack in acks)
        self._tx.known_candidates(account_id, (ack.candidate_id for ack in acks))
        kept = self._tx.state().push_state
        for ack in acks:
            values = {name: attribute_to_json(v) for name, v in ack.values.items()}
            before = kept.get(ack.candidate_id)
            if before is None:
                kept[ack.candidate_id] = attrs.evolve(ack, values=values)
            elif before.contact_id == ack.contact_id:
                kept[ack.candidate_id] = attrs.evolve(before, values={**before.values, **values})

    def _owns(self, account_id: AccountId, candidate_id: str) -> bool:
        found = self._tx.state().candidates.get(candidate_id)
        return found is not None and found.account_id == account_id


@attrs.define
class InMemoryConsent:
    _tx: _Transaction

    def append(self, account_id: AccountId, changes: Sequence[ConsentChange]) -> None:
        self._tx.known_candidates(account_id, (change.candidate_id for change in changes))
        self._tx.state().consent.extend(changes)

    def history(self, account_id: AccountId, candidate_id: str) -> list[ConsentChange]:
        found = self._tx.state().candidates.get(candidate_id)
        if found is None or found.account_id != account_id:
            return []
        kept = [c for c in self._tx.state().consent if c.candidate_id == candidate_id]
        return sorted(kept, key=lambda change: change.at)  # stable: appended order


@attrs.define
class InMemoryPushFailures:
    _tx: _Transaction

    def record(self, account_id: AccountId, failures: Sequence[PushFailure], at: datetime) -> None:
        _distinct(f.candidate_id for f in failures)
        self._tx.known_candidates(account_id, (f.candidate_id for f in failures))
        kept = self._tx.state().push_failures
        for failure in failures:
            before = kept.get(failure.candidate_id)
            again = before is not None and before.contact_id == failure.contact_id
            kept[failure.candidate_id] = attrs.evolve(
                failure,
                attempts=before.attempts + 1 if before is not None and again else 1,
                first_seen=before.first_seen if before is not None and again else at,
                last_seen=at,
            )

    def for_candidates(
        self, account_id: AccountId, candidate_ids: Sequence[str]
    ) -> dict[str, PushFailure]:
        mine = self._mine(account_id)
        return {i: mine[i] for i in candidate_ids if i in mine}

    def retryable(
        self, account_id: AccountId, limit: int, after: str | None = None
    ) -> list[PushFailure]:
        mine = self._mine(account_id)
        ids = sorted(i for i, f in mine.items() if f.retryable and i > (after or ""))
        return [mine[i] for i in ids[:limit]]

    def latest(
        self, account_id: AccountId, limit: int, *, given_up: bool = False
    ) -> list[PushFailure]:
        mine = [f for f in self._mine(account_id).values() if not (given_up and f.retryable)]
        mine.sort(key=lambda f: f.candidate_id)
        mine.sort(key=lambda f: f.last_seen or datetime.min.replace(tzinfo=UTC), reverse=True)
        return mine[:limit]

    def clear(self, account_id: AccountId, candidate_ids: Sequence[str]) -> None:
        for candidate_id in set(candidate_ids) & set(self._mine(account_id)):
            del self._tx.state().push_failures[candidate_id]

    def give_up(self, account_id: AccountId, candidate_ids: Sequence[str]) -> None:
        kept = self._tx.state().push_failures
        for candidate_id in set(candidate_ids) & set(self._mine(account_id)):
            kept[candidate_id] = attrs.evolve(kept[candidate_id], retryable=False)

    def _mine(self, account_id: AccountId) -> dict[str, PushFailure]:
        candidates = self._tx.state().candidates
        return {
            i: f
            for i, f in self._tx.state().push_failures.items()
            if i in candidates and candidates[i].account_id == account_id
        }


# --- end of push storage ---
# --- sign-ups ---------------------------------------------------------------------------


@attrs.define
class InMemorySignups:
    _tx: _Transaction

    def add(self, signup: Signup) -> bool:
        self._tx.known_account(signup.account_id)
        signups = self._tx.state().signups
        if signup.message_id in signups:
            return False
        signups[signup.message_id] = signup
        return True

    def get(self, message_id: str) -> Signup | None:
        return self._tx.state().signups.get(message_id)

    def pending(self, account_id: AccountId) -> list[Signup]:
        mine = [
            s
            for s in self._tx.state().signups.values()
            if s.account_id == account_id and s.outcome is SignupOutcome.PENDING
        ]
        return sorted(mine, key=lambda s: (s.received_at, s.message_id))

    def settle(self, signups: Sequence[Signup]) -> None:
        stored = self._tx.state().signups
        for signup in signups:
            if signup.message_id in stored:
                stored[signup.message_id] = attrs.evolve(
                    stored[signup.message_id],
                    outcome=signup.outcome,
                    reason=signup.reason,
                    contact_ids=signup.contact_ids,
                )

    def claim_flush(self, account_id: AccountId, now: datetime, stale_before: datetime) -> bool:
        self._tx.known_account(account_id)
        flushes = self._tx.state().signup_flushes
        if account_id in flushes and flushes[account_id] >= stale_before:
            return False
        flushes[account_id] = now
        return True

    def release_flush(self, account_id: AccountId) -> None:
        self._tx.state().signup_flushes.pop(account_id, None)


@attrs.define(init=False)
class InMemoryUnitOfWork:
    """A unit of work over `state`; `commits` counts successful commits."""

    state: InMemoryState
    commits: int
    candidates: InMemoryCandidates
    accounts: InMemoryAccounts
    connections: InMemoryConnections
    vendor_links: InMemoryVendorLinks
    runs: InMemoryRuns
    messages: InMemoryProcessedMessages
    push_state: InMemoryPushState
    consent: InMemoryConsent
    push_failures: InMemoryPushFailures
    signups: InMemorySignups
    _tx: _Transaction

    def __init__(self, state: InMemoryState | None = None) -> None:
        self.state = state if state is not None else InMemoryState()
        self.commits = 0
        self._tx = _Transaction(self.state)
        self.candidates = InMemoryCandidates(self._tx)
        self.accounts = InMemoryAccounts(self._tx)
        self.connections = InMemoryConnections(self._tx)
        self.vendor_links = InMemoryVendorLinks(self._tx)
        self.runs = InMemoryRuns(self._tx)
        self.messages = InMemoryProcessedMessages(self._tx)
        self.push_state = InMemoryPushState(self._tx)
        self.consent = InMemoryConsent(self._tx)
        self.push_failures = InMemoryPushFailures(self._tx)
        self.signups = InMemorySignups(self._tx)

    def __enter__(self) -> InMemoryUnitOfWork:
        if self._tx.working is not None:
            raise RuntimeError("the unit of work is already open")
        self._tx.working = copy.deepcopy(self.state)
        return self

    def __exit__(self, *exc: object) -> None:
        self._tx.working = None

    def commit(self) -> None:
        working = self._tx.state()
        for name in attrs.fields_dict(InMemoryState):
            setattr(self.state, name, copy.deepcopy(getattr(working, name)))
        self.commits += 1

    def rollback(self) -> None:
        self._tx.state()
        self._tx.working = copy.deepcopy(self.state)


@attrs.define
class InMemoryLocks:
    """AccountLocks in one process: `held` shows which accounts are locked right now."""

    held: set[str] = attrs.Factory(set)

    @contextmanager
    def hold(self, account_id: str) -> Iterator[bool]:
        if account_id in self.held:
            yield False
            return
        self.held.add(account_id)
        try:
            yield True
        finally:
            self.held.discard(account_id)


@attrs.define
class FakeGateways:
    """GatewayFactory handing out one gateway (and, in vendor mode, one vendor reader);
    counts how often each was opened, and the links unlinked."""

    gateway: SalesforceGateway
    vendor: ContactReader | None = None
    opened: int = 0
    vendor_opened: int = 0
    unlinked: list[AccountId] = attrs.Factory(list)

    @contextmanager
    def open(
        self, connection: SalesforceConnection, settings: AccountSettings
    ) -> Iterator[SalesforceGateway]:
        self.opened += 1
        yield self.gateway

    @contextmanager
    def open_vendor(self, link: VendorLink, settings: AccountSettings) -> Iterator[ContactReader]:
        if self.vendor is None:
            raise PermanentFailure("no vendor configured", code="vendor_not_configured")
        self.vendor_opened += 1
        yield self.vendor

    def unlink_vendor(self, link: VendorLink) -> None:
        self.unlinked.append(link.account_id)


@attrs.define
class LinkingGateways(FakeGateways):
    """FakeGateways whose vendor knows the linked accounts' `tokens`: it refuses another,
    and one unlinked stops working; `vendor_down`: every vendor call fails (an outage)."""

    tokens: set[str] = attrs.Factory(set)
    vendor_down: bool = False

    @contextmanager
    def open_vendor(self, link: VendorLink, settings: AccountSettings) -> Iterator[ContactReader]:
        self._answer(link.account_token)
        with super().open_vendor(link, settings) as reader:
            yield reader

    def unlink_vendor(self, link: VendorLink) -> None:
        self._answer(link.account_token)
        super().unlink_vendor(link)
        self.tokens.discard(link.account_token)

    def _answer(self, token: str) -> None:
        if self.vendor_down:
            raise TransientFailure("the vendor answered 503", code="vendor_unavailable")
        if token not in self.tokens:
            raise PermanentFailure(
                "the vendor refused the token (HTTP 401)", code="vendor_link_invalid"
            )


@attrs.define
class RecordingRunLog:
    """RunLog keeping every call as (method, ids, keyword arguments), in order."""

    calls: list[tuple[str, RunIds, dict[str, Any]]] = attrs.Factory(list)

    def started(self, ids: RunIds, *, scope: str, resumed: bool) -> None:
        self.calls.append(("started", ids, {"scope": scope, "resumed": resumed}))

    def page(
        self,
        ids: RunIds,
        *,
        mode: str,
        counts: Mapping[str, int],
        totals: Mapping[str, int],
        expected: int | None,
    ) -> None:
        fields = {"mode": mode, "counts": dict(counts), "totals": dict(totals)}
        self.calls.append(("page", ids, {**fields, "expected": expected}))

    def finished(
        self,
        ids: RunIds,
        *,
        status: str,
        mode: str | None,
        totals: Mapping[str, int],
        seconds: float,
        error: str | None,
    ) -> None:
        fields = {"status": status, "mode": mode, "totals": dict(totals)}
        self.calls.append(("finished", ids, {**fields, "seconds": seconds, "error": error}))

    def skipped(self, ids: RunIds, *, reason: str) -> None:
        self.calls.append(("skipped", ids, {"reason": reason}))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def of(self, name: str) -> list[dict[str, Any]]:
        """The keyword arguments of every call of `name`."""
        return [fields for called, _, fields in self.calls if called == name]


if TYPE_CHECKING:  # mypy proves that each fake satisfies its port (no inheritance ties them)
    from tests.fake_salesforce import FakeSalesforce
    from tests.fake_vendor import FakeVendor

    _vendor: ContactReader = FakeVendor()
    _cache: ContactCache = FakeVendor()
    _clock: Clock = FixedClock(datetime.now())
    _publisher: EventPublisher = RecordingPublisher()
    _uow: UnitOfWork = InMemoryUnitOfWork()
    _locks: AccountLocks = InMemoryLocks()
    _gateways: GatewayFactory = FakeGateways(FakeSalesforce())
    _run_log: RunLog = RecordingRunLog()
    _slots: ScheduleSlots = InMemoryScheduleSlots(InMemoryState())
    _requests: SyncRequests = RecordingRequests()


def _push_basis(candidate: Candidate) -> str:
    """As the Postgres store digests it: attributes (as stored), unsubscribe, Contact."""
    stored = json.dumps(
        {k: attribute_to_json(v) for k, v in candidate.attributes.items()}, sort_keys=True
    )
    return f"{stored}|{candidate.unsubscribed}|{candidate.salesforce_id}"


def _may_need_a_write(state: InMemoryState, candidate: Candidate, config: str) -> bool:
    ack = state.push_state.get(candidate.id)
    failure = state.push_failures.get(candidate.id)  # kept, even given up
    return (
        ack is None
        or ack.sending is not None
        or ack.config != config
        or ack.contact_id != candidate.salesforce_id
        or ack.planned_from != candidate.push_basis
        or failure is not None
    )


def _kept(new: str | None, old: str | None) -> str | None:
    return new if new is not None else old


@attrs.define
class RecordingMetrics:
    """Metrics as plain counts: {(name, labels...): total} and the last remaining quota."""

    counts: Counter[tuple[str, ...]] = attrs.Factory(Counter)
    seconds: list[tuple[str, float]] = attrs.Factory(list)
    remaining: dict[str, int] = attrs.Factory(dict)

    def message(self, message_type: str, outcome: str) -> None:
        self.counts["messages", message_type, outcome] += 1

    def run_finished(self, *, scope: str, status: str, seconds: float) -> None:
        self.counts["runs", scope, status] += 1
        self.seconds.append((scope, seconds))

    def records(self, outcome: str, count: int, *, reason: str = "") -> None:
        if count > 0:
            self.counts["records", outcome, reason] += count

    def salesforce_call(self, kind: str) -> None:
        self.counts["salesforce_calls", kind] += 1

    def api_remaining(self, account_id: AccountId, remaining: int) -> None:
        self.remaining[account_id] = remaining

    def slots(self, *, published: int, missed: int) -> None:
        self.counts["slots", "published"] += published
        self.counts["slots", "missed"] += missed
