"""Ports: what the services need from the outside world, typed with domain types only.

Adapters satisfy these structurally (no inheritance); each has an in-memory fake in
tests/fakes.py that passes the same contract tests as the real adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

import attrs

from sfsync.domain.messages import SyncRequested
from sfsync.domain.model import (
    AccountId,
    AccountSettings,
    AttributeMapping,
    Candidate,
    Contact,
    ContactSchema,
    SalesforceId,
    SyncCursor,
    SyncMarks,
)
from sfsync.domain.push.consent import ConsentChange
from sfsync.domain.schedule import AccountSchedule, Slot
from sfsync.domain.signups import Signup


class Clock(Protocol):
    def now(self) -> datetime: ...


# --- Salesforce -------------------------------------------------------------------------


@attrs.frozen
class ContactQuery:
    """What to read; the adapter turns it into escaped SOQL (or a Bulk job)."""

    fields: tuple[str, ...]
    modified_after: SyncCursor | None = None  # rows with (SystemModstamp, Id) > cursor
    flag_field: str | None = None  # only rows whose boolean flag is true
    ids: tuple[SalesforceId, ...] | None = None
    include_deleted: bool = False  # queryAll: recycle-bin rows with IsDeleted = true
    # with modified_after: also rows with after < SystemModstamp <= until (late commits)
    recheck: tuple[datetime, datetime] | None = None


@attrs.frozen
class ContactRead:
    """A streaming read: `expected` is what Salesforce announced, `batches` yields pages."""

    expected: int | None
    batches: Iterator[Sequence[Contact]]


@attrs.frozen
class DeletedContacts:
    ids: tuple[SalesforceId, ...]
    latest_date_covered: datetime


@attrs.frozen
class ContactUpdate:
    contact_id: SalesforceId
    values: Mapping[str, Any] = attrs.field(repr=False)  # API name -> wire value


@attrs.frozen
class WriteResult:
    contact_id: SalesforceId
    ok: bool
    error_code: str | None = None
    message: str | None = None
    fields: tuple[str, ...] = ()
    # What was sent for this Contact (API name -> wire value): a streamed update's results
    # come back in Salesforce's order, so they carry what they answer for.
    values: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class ApiUsage:
    used: int
    limit: int


@attrs.frozen
class SourceCalls:
    """What reading the org cost a run so far: calls made, and time spent waiting for a
    rate limit (the source's own pacing and its 429 answers)."""

    calls: int = 0
    waited_seconds: float = 0.0
    # Rows the source answered but could not be used (a vendor's row without a Salesforce
    # Id, say), by reason: counted, never stored.
    rows_skipped: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen
class CacheStatus:
    """How current a vendor's copy of the org is: its last Contact sync."""

    last_sync_finished: datetime | None
    last_sync_started: datetime | None = None
    syncing: bool = False  # a sync is running: rows it stamps may still appear


class ContactReader(Protocol):
    """Reading an org's Contacts: what every way of reaching an org offers (the Salesforce
    API itself, or a vendor's copy of it). What a source offers beyond this is in its
    `capabilities()`; services choose by those, never by the adapter's type."""

    def describe_contact(self) -> ContactSchema: ...

    def read_contacts(self, query: ContactQuery) -> ContactRead: ...

    def get_contact(self, contact_id: SalesforceId, fields: Sequence[str]) -> Contact | None: ...

    def find_contact_ids_by_email(self, email: str) -> list[SalesforceId]: ...

    def api_usage(self) -> ApiUsage | None: ...

    def call_stats(self) -> SourceCalls: ...

    def capabilities(self) -> Capabilities: ...


class OrgChanges(Protocol):
    """The org's own change log (the Salesforce API): reads in (SystemModstamp, Id) order
    that a cursor resumes, getDeleted, and the cheap listing of every live Contact."""

    def contact_stamps(self) -> ContactRead:
        """Id and SystemModstamp of every live Contact, nothing else (the reconcile)."""
        ...

    def deleted_contacts(self, start: datetime, end: datetime) -> DeletedContacts: ...


class ContactWriter(Protocol):
    """Writing back to Contacts, and the reads that only write-back needs."""

    def find_contacts_by_email(
        self, emails: Sequence[str], fields: Sequence[str] = ()
    ) -> list[Contact]:
        """Live Contacts whose Email is one of `emails`, compared as Salesforce does
        (ignoring case), with Id, Email, SystemModstamp and `fields`; in as few queries
        as Salesforce's limits allow."""
        ...

    def update_contacts(self, updates: Sequence[ContactUpdate]) -> list[WriteResult]: ...

    def update_contacts_streamed(
        self, fields: Sequence[str], pages: Iterable[Sequence[ContactUpdate]]
    ) -> Iterator[WriteResult]:
        """Every update of `pages` (each Contact once; values only of `fields`), sent as
        few calls as Salesforce allows: sObject Collections when all of them fit under the
        adapter's bulk threshold, otherwise one Bulk ingest job streamed from disk (a few
        when the upload outgrows Salesforce's limit). `pages` is read as it is sent, so
        never held whole; one result per update, in any order, each with the values sent."""
        ...


class ContactCache(Protocol):
    """A vendor's copy of the org, refreshed only by the vendor's own syncs."""

    def status(self) -> CacheStatus: ...

    def resync(self) -> str | None:
        """Ask the vendor to sync now: None when asked, else why it refused (its plan)."""
        ...


@attrs.frozen
class Capabilities:
    """What a source offers beyond reading Contacts: each a port, None when not offered."""

    changes: OrgChanges | None = None
    writer: ContactWriter | None = None
    cache: ContactCache | None = None
    filters_on_fields: bool = True  # a read's flag_field is applied by the source
    # A read selects exactly the fields it names (False: the source reads a whole model of
    # its own, and a run can name only what it asked for).
    reads_named_fields: bool = True


class SalesforceGateway(ContactReader, OrgChanges, ContactWriter, Protocol):
    """One connected org through the Salesforce API: every capability."""


# --- Storage ----------------------------------------------------------------------------


@attrs.frozen
class SalesforceConnection:
    """An account's OAuth connection. Tokens are plain here; the store encrypts them."""

    account_id: AccountId
    instance_url: str
    login_url: str
    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(repr=False)
    issued_at: datetime | None = None
    needs_reauth: bool = False
    org_id: str | None = None  # from the token response's identity URL (None: older rows)
    user_id: str | None = None  # the Salesforce user the connection was made as
    connected_at: datetime | None = None  # when a person last connected it (OAuth)


@attrs.frozen
class ConnectionSummary:
    """What may be shown of a connection: where and since when, never a token."""

    instance_url: str
    login_url: str
    issued_at: datetime | None  # when the current access token was issued
    needs_reauth: bool
    tokens_readable: bool  # False: no configured key opens the stored tokens
    org_id: str | None = None
    user_id: str | None = None
    connected_at: datetime | None = None
    api_usage: ApiUsage | None = None  # the org's daily API calls, as a run last saw them
    api_seen_at: datetime | None = None


class CandidateStore(Protocol):
    def get(self, account_id: AccountId, candidate_id: str) -> Candidate | None: ...

    def account_of(self, candidate_id: str) -> AccountId | None:
        """The account that holds the candidate (candidate ids are unique across accounts)."""
        ...

    def get_by_email(self, account_id: AccountId, email: str) -> Candidate | None: ...

    def get_by_salesforce_id(
        self, account_id: AccountId, contact_id: SalesforceId
    ) -> Candidate | None: ...

    def add(self, candidate: Candidate) -> None: ...

    def update(self, candidate: Candidate) -> None: ...

    def delete(self, account_id: AccountId, candidate_id: str) -> bool: ...

    def count(self, account_id: AccountId) -> int: ...

    def find_for_contacts(
        self, account_id: AccountId, contact_ids: Sequence[str], email_keys: Sequence[str]
    ) -> list[Candidate]:
        """Every candidate linked to one of `contact_ids` or holding one of `email_keys`."""
        ...

    def apply_changes(
        self,
        account_id: AccountId,
        upserts: Sequence[Candidate],
        deletes: Sequence[str],
        *,
        creates: Sequence[Candidate] = (),
    ) -> None:
        """Write a page in bulk: delete by id, then insert or update whole rows by id.

        `creates` are candidates the caller believes new: written like `upserts`, but a
        store may insert them the cheap way first (and fall back if one exists after all).
        """
        ...

    def from_salesforce(
        self, account_id: AccountId, after: str | None, limit: int, changed_under: str | None = None
    ) -> list[Candidate]:
        """Up to `limit` candidates linked to a Contact, in id order after candidate id
        `after` (None: from the first), with their `attributes_changed_at` and `push_basis`
        (one query). With `changed_under` (a push configuration), only those that may need
        a write: never planned, or planned from other content (`push_basis`), for another
        Contact or under another configuration, with an update on its way, or a failure kept
        (even one given up)."""
        ...

    def record_seen(
        self, account_id: AccountId, run_id: str, stamps: Sequence[tuple[str, datetime]]
    ) -> None:
        """Remember (Contact Id, SystemModstamp) pairs listed by a reconcile run."""
        ...

    def reconcile_seen(
        self, account_id: AccountId, run_id: str
    ) -> tuple[list[SalesforceId], list[SalesforceId]]:
        """Contacts linked to a candidate but not listed (gone), and listed with a newer
        SystemModstamp than the candidate's (missed); forgets what the run recorded."""
        ...


class AccountStore(Protocol):
    def get_settings(self, account_id: AccountId) -> AccountSettings | None: ...

    def save_settings(self, settings: AccountSettings) -> None: ...

    def mappings(self, account_id: AccountId) -> list[AttributeMapping]: ...

    def save_mapping(self, account_id: AccountId, mapping: AttributeMapping) -> None: ...

    def remove_mapping(self, account_id: AccountId, name: str) -> bool:
        """Forget the mapping of attribute `name`; False when there was none. Values already
        stored on candidates stay."""
        ...


@attrs.frozen
class VendorLink:
    """An account linked through a unified-CRM vendor (vendor mode): the linked account's
    token, plain here; the store encrypts it."""

    account_id: AccountId
    account_token: str = attrs.field(repr=False)
    linked_at: datetime | None = None


@attrs.frozen
class VendorLinkSummary:
    """What may be shown of a vendor link: since when, never its token."""

    linked_at: datetime | None
    token_readable: bool  # False: no configured key opens the stored token


class VendorLinkStore(Protocol):
    def get(self, account_id: AccountId) -> VendorLink | None:
        """The link with its token opened; PermanentFailure (token_decryption_failed) when
        no configured key opens it."""
        ...

    def summary(self, account_id: AccountId) -> VendorLinkSummary | None:
        """The link without its token; works whatever keys are configured, and says whether
        they open the stored token."""
        ...

    def save(self, link: VendorLink) -> None:
        """Insert or replace."""
        ...

    def delete(self, account_id: AccountId) -> bool:
        """Forget the link and its token; False when there was none."""
        ...


class ConnectionStore(Protocol):
    def get(self, account_id: AccountId) -> SalesforceConnection | None:
        """The connection with its tokens opened; PermanentFailure (token_decryption_failed)
        when no configured key opens them."""
        ...

    def summary(self, account_id: AccountId) -> ConnectionSummary | None:
        """The connection without its tokens; works whatever keys are configured, and says
        whether they open the stored tokens."""
        ...

    def save(self, connection: SalesforceConnection) -> None:
        """Insert or replace; an org id, user id or connected_at left None keeps the stored
        one (a token refresh does not know them)."""
        ...

    def note_usage(self, account_id: AccountId, usage: ApiUsage, seen_at: datetime) -> None:
        """Remember the org's API usage as a run saw it; no-op without a connection."""
        ...

    def mark_needs_reauth(self, account_id: AccountId) -> None: ...

    def delete(self, account_id: AccountId) -> bool:
        """Forget the connection and its tokens; False when there was none."""
        ...


@attrs.frozen
class RunRecord:
    id: str
    account_id: AccountId
    request_id: str | None
    scope: str
    status: str  # queued, running, succeeded, partial, failed, quota
    started_at: datetime | None = None
    finished_at: datetime | None = None
    processed: int = 0
    expected: int | None = None
    counts: Mapping[str, Any] = attrs.field(factory=dict)
    errors: tuple[Mapping[str, Any], ...] = ()
    fields_read: tuple[str, ...] = ()
    mode: str = ""  # full, incremental or candidate, once decided
    # The (SystemModstamp, Id) the run's committed pages reached, in the order it reads:
    # where a retry of the run carries on.
    position: SyncCursor | None = None
    # Where the run read from and what that cost (`via`, `calls`, `rate_limit_wait_seconds`;
    # in vendor mode the vendor's `last_sync_finished`, the `resync` and the `filter`).
    source: Mapping[str, Any] = attrs.field(factory=dict)


class SyncRunStore(Protocol):
    def start(self, run: RunRecord) -> None: ...

    def checkpoint(self, run: RunRecord) -> None:
        """Save what a committed page changed: progress, counts, errors, fields read, mode
        and position (status and times stay as they are). Called in the page's unit of work,
        so a run resumed after a crash starts from exactly what its pages committed."""
        ...

    def finish(self, run: RunRecord) -> None: ...

    def get(self, run_id: str) -> RunRecord | None: ...

    def find_by_request(self, account_id: AccountId, request_id: str) -> RunRecord | None: ...

    def recent(self, account_id: AccountId, limit: int) -> Sequence[RunRecord]:
        """The account's last `limit` runs, newest start first (ties: the greater id first).
        A run with no start time is left out: every run is written once it started."""
        ...

    def cursor(self, account_id: AccountId) -> SyncCursor | None: ...

    def save_cursor(self, account_id: AccountId, cursor: SyncCursor) -> None: ...

    def marks(self, account_id: AccountId) -> SyncMarks: ...

    def save_marks(self, account_id: AccountId, marks: SyncMarks) -> None: ...


class ProcessedMessages(Protocol):
    def claim(self, message_id: str) -> bool:
        """Record the id; False when it was already processed (a redelivery)."""
        ...


# --- Push storage: what Salesforce acknowledged, consent history, per-record failures ---


@attrs.frozen
class PushAck:
    """What Salesforce acknowledged for one candidate's Contact: field API name -> value
    as pushed (JSON form), when, and the Contact's SystemModstamp after it if known."""

    candidate_id: str
    contact_id: SalesforceId
    values: Mapping[str, Any] = attrs.field(repr=False)
    acknowledged_at: datetime
    contact_modstamp: datetime | None = None
    # What the next push needs to know whether to plan the candidate again: the
    # `Candidate.push_basis` and push configuration it was planned from (None: keep what
    # is stored), and the values of an update on its way (planned, no answer kept yet).
    planned_from: str | None = None
    config: str | None = None
    sending: Mapping[str, Any] | None = attrs.field(default=None, repr=False)


@attrs.frozen
class PushFailure:
    """One failed update of a candidate's Contact, as Salesforce reported it.

    `message` is Salesforce's text and may echo record values: only the push failure store
    keeps it; runs, events and logs take the code and fields."""

    candidate_id: str
    contact_id: SalesforceId
    code: str  # Salesforce's errorCode, e.g. ENTITY_IS_DELETED
    fields: tuple[str, ...] = ()
    message: str = attrs.field(default="", repr=False)
    retryable: bool = True
    # Kept by the store (ignored when recording): failures in a row for this Contact, and
    # when the first and the last of them happened.
    attempts: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class PushStateStore(Protocol):
    def acknowledged(
        self, account_id: AccountId, candidate_ids: Sequence[str]
    ) -> dict[str, PushAck]:
        """The acknowledgements of a page of candidates, by candidate id (one query)."""
        ...

    def acknowledge(self, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        """Save a page of acknowledgements, each candidate once. Values merge field by field
        into what was acknowledged for the same Contact, and replace what was acknowledged
        for another; time and SystemModstamp are replaced. `not_found` for a candidate the
        account does not hold."""
        ...

    def settle(
        self,
        account_id: AccountId,
        accepted: Sequence[SalesforceId],
        refused: Sequence[SalesforceId],
        at: datetime,
    ) -> dict[SalesforceId, str]:
        """Salesforce's answers to the updates on their way, by Contact: an accepted
        update's values join what was acknowledged (at `at`), a refused one's are dropped,
        and neither is on its way any more. Returns the candidate of each Contact settled;
        a Contact with no update on its way to it from its candidate is left out."""
        ...

    def read_back(self, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        """Values an import read on the candidates' Contacts (an opt-out Salesforce holds):
        merged into the acknowledgement of the same Contact, or a new one where there is
        none; another Contact's acknowledgement, the plan state and an update in flight are
        left as they are. `not_found` for a candidate the account does not hold."""
        ...


class ConsentStore(Protocol):
    def append(self, account_id: AccountId, changes: Sequence[ConsentChange]) -> None:
        """Keep consent changes (never updated); `not_found` for another account's
        candidate."""
        ...

    def history(self, account_id: AccountId, candidate_id: str) -> list[ConsentChange]:
        """A candidate's consent changes, oldest first (ties: in the order appended)."""
        ...


class PushFailureStore(Protocol):
    def record(self, account_id: AccountId, failures: Sequence[PushFailure], at: datetime) -> None:
        """Keep a page of failures that happened `at`, each candidate once (their attempts
        and times are the store's). A candidate that failed before for the same Contact
        counts one more attempt and keeps its first_seen; code, fields, message and
        `retryable` are replaced. `not_found` for another account's candidate."""
        ...

    def for_candidates(
        self, account_id: AccountId, candidate_ids: Sequence[str]
    ) -> dict[str, PushFailure]:
        """The failures kept for a page of candidates, by candidate id (one query)."""
        ...

    def retryable(
        self, account_id: AccountId, limit: int, after: str | None = None
    ) -> list[PushFailure]:
        """Up to `limit` retryable failures in candidate id order, after candidate `after`."""
        ...

    def latest(
        self, account_id: AccountId, limit: int, *, given_up: bool = False
    ) -> list[PushFailure]:
        """Up to `limit` of the account's failures, the last seen first (ties: in candidate
        id order); `given_up`: only those not retryable."""
        ...

    def clear(self, account_id: AccountId, candidate_ids: Sequence[str]) -> None:
        """Forget the failures of candidates whose update went through."""
        ...

    def give_up(self, account_id: AccountId, candidate_ids: Sequence[str]) -> None:
        """Mark failures not retryable (kept, shown, never retried until recorded anew)."""
        ...


# --- end of push storage ---


class SignupStore(Protocol):
    def add(self, signup: Signup) -> bool:
        """Record a pending sign-up; False when its message id is already recorded."""
        ...

    def get(self, message_id: str) -> Signup | None: ...

    def pending(self, account_id: AccountId) -> list[Signup]:
        """The account's pending sign-ups, oldest first."""
        ...

    def settle(self, signups: Sequence[Signup]) -> None:
        """Save the outcome, reason and Contact ids of each (found by message id)."""
        ...

    def claim_flush(self, account_id: AccountId, now: datetime, stale_before: datetime) -> bool:
        """Note that a flush of the account is asked for; False when one asked for at or
        after `stale_before` is still pending (an older claim is taken over: its flush
        was lost)."""
        ...

    def release_flush(self, account_id: AccountId) -> None:
        """The account's flush has started (or could not be asked for): the next sign-up
        asks for another."""
        ...


class UnitOfWork(Protocol):
    """A transaction over the stores; leaving the block without commit() rolls back."""

    # Read-only, so an adapter's own store types satisfy them.
    @property
    def candidates(self) -> CandidateStore: ...

    @property
    def accounts(self) -> AccountStore: ...

    @property
    def connections(self) -> ConnectionStore: ...

    @property
    def vendor_links(self) -> VendorLinkStore: ...

    @property
    def runs(self) -> SyncRunStore: ...

    @property
    def messages(self) -> ProcessedMessages: ...

    # push storage
    @property
    def push_state(self) -> PushStateStore: ...

    @property
    def consent(self) -> ConsentStore: ...

    @property
    def push_failures(self) -> PushFailureStore: ...
    @property
    def signups(self) -> SignupStore: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class AccountLocks(Protocol):
    """One sync per account at a time, across worker processes."""

    def hold(self, account_id: AccountId) -> AbstractContextManager[bool]:
        """Enter to try the lock: True when this caller holds it until the block ends."""
        ...


class ScheduleSlots(Protocol):
    """The daily schedule's state, shared by every scheduler: the accounts to schedule and
    the slots recorded, each (account, kind, local date) once."""

    def scheduled_accounts(self) -> list[AccountSchedule]:
        """Every account with a Salesforce connection or a vendor link, with its time zone
        and slot times, whether it pushes (direct API mode with a Salesforce connection), and
        since when it exists."""
        ...

    def claim(self, slots: Sequence[Slot]) -> AbstractContextManager[list[Slot]]:
        """Enter to record `slots` as published (one statement); yields those no one
        recorded before, which this caller alone now publishes. They stay recorded when the
        block ends, and are forgotten when it raises (a publish that failed), so they stay
        due. Slots of an account that is gone are left out."""
        ...

    def record_missed(self, slots: Sequence[Slot]) -> int:
        """Record slots that were not published in time; those already recorded are left
        as they are. Returns how many were new."""
        ...

    def forget_before(self, instant: datetime) -> int:
        """Delete the records of slots before `instant`; returns how many."""
        ...


class SyncRequests(Protocol):
    """Sends sync.requested messages to the worker's queue."""

    def send(self, requests: Sequence[SyncRequested]) -> None:
        """Publish each request, confirmed by the broker; TransientFailure when one is not
        (those before it may have gone: a request id makes a second send harmless)."""
        ...


class GatewayFactory(Protocol):
    """Opens the way to one account's org: the Salesforce API (direct mode, tokens
    refreshed and persisted) or a vendor's copy of it (vendor mode)."""

    def open(
        self, connection: SalesforceConnection, settings: AccountSettings
    ) -> AbstractContextManager[SalesforceGateway]:
        """Enter for a gateway; it is closed when the block ends."""
        ...

    def open_vendor(
        self, link: VendorLink, settings: AccountSettings
    ) -> AbstractContextManager[ContactReader]:
        """Enter for a reader of the vendor's copy; it is closed when the block ends."""
        ...

    def unlink_vendor(self, link: VendorLink) -> None:
        """Tell the vendor to unlink the account (its token stops working)."""
        ...


class SignupFlushes(Protocol):
    """Asks for a flush of an account's pending sign-ups, later."""

    def flush_later(self, account_id: AccountId, delay_seconds: float) -> None: ...


class EventPublisher(Protocol):
    def publish(self, event_type: str, payload: Mapping[str, Any]) -> None: ...


# --- The run log ------------------------------------------------------------------------


@attrs.frozen
class RunIds:
    """What every line a run logs carries."""

    account_id: AccountId
    request_id: str  # the sync.requested message's id
    run_id: str | None  # None when no run was started for the request (the account was busy)


class RunLog(Protocol):
    """The operator's trace of an import run: ids, codes, modes and counts, never a record
    value. `counts` and `totals` map a count (seen, created, ..., skipped, errors) to a
    number; zeros are left out."""

    def started(self, ids: RunIds, *, scope: str, resumed: bool) -> None:
        """An attempt starts (or, `resumed`, carries on) the run of `scope` (import,
        candidate or export); its mode is decided once Salesforce's describe is read."""
        ...

    def page(
        self,
        ids: RunIds,
        *,
        mode: str,
        counts: Mapping[str, int],
        totals: Mapping[str, int],
        expected: int | None,
    ) -> None:
        """A page is committed: what it counted, and the run's totals as of it."""
        ...

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
        """The run ended with `status`; `error` is the code of what ended it (failed, quota),
        `mode` None when it ended before its mode was decided. `seconds` run from the run's
        start, over all its attempts."""
        ...

    def skipped(self, ids: RunIds, *, reason: str) -> None:
        """No run was worked on for the request: `busy` (another run of the account holds
        its lock; the request is retried) or `already_finished` (a redelivery: its
        sync.completed is published again)."""
        ...


# --- Metrics ----------------------------------------------------------------------------


class Metrics(Protocol):
    """Counters for ops: every label is a code, a kind or one of our own account ids, never a
    record value, an email, a record id or an error message."""

    def message(self, message_type: str, outcome: str) -> None:
        """A message of `message_type` (its actor) was `processed`, `failed` (its handling
        raised), `retried` or `dead_lettered`."""
        ...

    def run_finished(self, *, scope: str, status: str, seconds: float) -> None:
        """A run of `scope` ended with `status` after `seconds` (over all its attempts)."""
        ...

    def records(self, outcome: str, count: int, *, reason: str = "") -> None:
        """A committed page counted `count` records as `outcome` (created, updated, ...;
        `skipped` with its reason)."""
        ...

    def salesforce_call(self, kind: str) -> None:
        """One call to Salesforce: its method and path template (`GET query`)."""
        ...

    def api_remaining(self, account_id: AccountId, remaining: int) -> None:
        """The org of `account_id` has `remaining` API requests left today."""
        ...

    def slots(self, *, published: int, missed: int) -> None:
        """A scheduler tick published and missed (past the grace period) so many slots."""
        ...
