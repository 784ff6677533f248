"""FakeSalesforce: the SalesforceGateway port in memory, for service tests and the contract suite.

It behaves like HttpxSalesforce where the port can observe it: pages of at most `page_size`,
order by (SystemModstamp, Id), strict cursor, recycle-bin rows only with include_deleted,
field names checked against the schema, per-record write failures, quota exhaustion.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from sfsync.domain.errors import InvalidFieldName, QuotaExhausted
from sfsync.domain.mapping import validate_field_name
from sfsync.domain.model import (
    BASE_FIELDS,
    COMPOUND_TYPES,
    Contact,
    ContactSchema,
    FieldInfo,
    FieldType,
    SalesforceId,
)
from sfsync.domain.ports import (
    ApiUsage,
    Capabilities,
    ContactQuery,
    ContactRead,
    ContactUpdate,
    DeletedContacts,
    SourceCalls,
    WriteResult,
)

_READ_ONLY = ("Id", "Name", "IsDeleted", "SystemModstamp")
_BASE_KEYS = (*BASE_FIELDS, "SystemModstamp")


def default_schema() -> ContactSchema:
    """A small Contact describe: base fields, opt-out, the sync flags, one custom picklist."""
    B, S, E = FieldType.BOOLEAN, FieldType.STRING, FieldType.EMAIL
    fields = [
        FieldInfo("Id", FieldType.ID, nillable=False),
        FieldInfo("Email", E, updateable=True),
        FieldInfo("FirstName", S, updateable=True),
        FieldInfo("LastName", S, updateable=True, nillable=False),
        FieldInfo("Name", S, nillable=False),
        FieldInfo("IsDeleted", B, nillable=False),
        FieldInfo("SystemModstamp", FieldType.DATETIME, nillable=False),
        FieldInfo("HasOptedOutOfEmail", B, updateable=True, nillable=False),
        FieldInfo("MailingCity", S, updateable=True, compound_field_name="MailingAddress"),
        FieldInfo("MailingPostalCode", S, updateable=True, compound_field_name="MailingAddress"),
        FieldInfo("MailingAddress", FieldType.ADDRESS),
        FieldInfo("gq_import__c", B, updateable=True, nillable=False, custom=True),
        FieldInfo("is_deleted__c", B, updateable=True, nillable=False, custom=True),
        FieldInfo(
            "Favorite_Color__c",
            FieldType.PICKLIST,
            updateable=True,
            custom=True,
            picklist_values=("Red", "Green", "Blue"),
            restricted_picklist=True,
            length=255,
        ),
    ]
    return ContactSchema({f.name: f for f in fields})


class FakeSalesforce:
    """In-memory org. Arrange with `add_contact` / `delete_contact`; inspect `updates`."""

    def __init__(
        self, schema: ContactSchema | None = None, page_size: int = 2000, api_limit: int = 15_000
    ) -> None:
        self.schema = schema or default_schema()
        self.page_size = page_size
        self.records: dict[str, dict[str, Any]] = {}
        self.deleted_log: list[tuple[SalesforceId, datetime]] = []
        self.updates: list[ContactUpdate] = []
        self.update_calls: list[int] = []  # the size of each update_contacts call
        self.email_lookups: list[int] = []  # the number of emails of each lookup
        self.locked: dict[str, int] = {}  # Contact Id -> updates refused UNABLE_TO_LOCK_ROW
        self.used, self.limit = 0, api_limit
        self._clock = datetime.now(UTC).replace(microsecond=0)
        self._serial = 0

    # --- arranging ----------------------------------------------------------------------

    def add_contact(
        self,
        email: str | None,
        first_name: str | None = None,
        last_name: str = "Doe",
        modstamp: datetime | None = None,
        **fields: Any,
    ) -> SalesforceId:
        self._serial += 1
        contact_id = SalesforceId(f"003FAKE{self._serial:08d}AAA")
        self.records[contact_id] = {
            "Id": contact_id,
            "Email": email,
            "FirstName": first_name,
            "LastName": last_name,
            "Name": " ".join(p for p in (first_name, last_name) if p),
            "IsDeleted": False,
            "SystemModstamp": modstamp or self._tick(),
            "HasOptedOutOfEmail": False,
            "gq_import__c": False,
            "is_deleted__c": False,
            **fields,
        }
        return contact_id

    def delete_contact(self, contact_id: SalesforceId) -> None:
        """Soft delete: into the recycle bin, SystemModstamp bumped."""
        when = self._tick()
        self.records[contact_id].update(IsDeleted=True, SystemModstamp=when)
        self.deleted_log.append((contact_id, when))

    def exhaust_quota(self) -> None:
        self.used = self.limit

    # --- the port ------------------------------------------------------------------------

    def describe_contact(self) -> ContactSchema:
        self._call()
        return self.schema

    def read_contacts(self, query: ContactQuery) -> ContactRead:
        self._call()
        names = [self._checked(f) for f in query.fields]
        if query.flag_field is not None:
            flag = self._checked(query.flag_field)
            if self.schema.fields[flag].type != FieldType.BOOLEAN:
                raise InvalidFieldName(f"{flag} is not a checkbox field")
        rows = sorted(
            (r for r in self.records.values() if self._matches(r, query)),
            key=lambda r: (r["SystemModstamp"], r["Id"]),
        )
        contacts = [contact_of(r, names) for r in rows]
        return ContactRead(len(contacts), self._pages(contacts))

    def contact_stamps(self) -> ContactRead:
        self._call()
        live = sorted(
            (r for r in self.records.values() if not r["IsDeleted"]), key=lambda r: r["Id"]
        )
        stamps = [
            Contact(id=r["Id"], email=None, system_modstamp=r["SystemModstamp"]) for r in live
        ]
        return ContactRead(len(stamps), self._pages(stamps))

    def get_contact(self, contact_id: SalesforceId, fields: Sequence[str]) -> Contact | None:
        read = self.read_contacts(
            ContactQuery(tuple(fields), ids=(contact_id,), include_deleted=True)
        )
        return next((c for page in read.batches for c in page), None)

    def deleted_contacts(self, start: datetime, end: datetime) -> DeletedContacts:
        self._call()
        ids = tuple(cid for cid, when in self.deleted_log if start <= when < end)
        return DeletedContacts(ids, end.replace(second=0, microsecond=0))

    def find_contact_ids_by_email(self, email: str) -> list[SalesforceId]:
        self._call()
        wanted = email.lower()
        return [
            SalesforceId(r["Id"])
            for r in self.records.values()
            if not r["IsDeleted"] and (r["Email"] or "").lower() == wanted
        ]

    def find_contacts_by_email(
        self, emails: Sequence[str], fields: Sequence[str] = ()
    ) -> list[Contact]:
        wanted = {email.lower() for email in emails}
        if not wanted:
            return []
        names = [self._checked(f) for f in fields]
        self._call()  # one query: the fake has no URL to overflow
        self.email_lookups.append(len(wanted))
        rows = sorted(
            (
                r
                for r in self.records.values()
                if not r["IsDeleted"] and (r["Email"] or "").lower() in wanted
            ),
            key=lambda r: r["Id"],
        )
        return [contact_of(r, names) for r in rows]

    def update_contacts(self, updates: Sequence[ContactUpdate]) -> list[WriteResult]:
        """Per record, as Salesforce saves with allOrNone=false; one Id named twice in one
        call fails every time it is named (DUPLICATE_VALUE), never last-wins."""
        self._call()
        self.update_calls.append(len(updates))
        local = [self._unwritable(u) for u in updates]  # as the adapter refuses before sending
        named = Counter(u.contact_id for u, r in zip(updates, local, strict=True) if r is None)
        return [
            r
            or (
                _refused(u, "DUPLICATE_VALUE", "duplicate id specified")
                if named[u.contact_id] > 1
                else self._update(u)
            )
            for u, r in zip(updates, local, strict=True)
        ]

    def update_contacts_streamed(
        self, fields: Sequence[str], pages: Iterable[Sequence[ContactUpdate]]
    ) -> Iterator[WriteResult]:
        """One call for the whole stream (as one Bulk job would be), pages read as they come;
        results last first (Salesforce promises no order), each with the values sent."""
        updates: list[ContactUpdate] = []
        for page in pages:
            for update in page:
                if not update.values.keys() <= set(fields):
                    raise ValueError("an update sets a field outside the declared fields")
                updates.append(update)
        if not updates:
            return
        results = self.update_contacts(updates)
        for update, result in reversed(list(zip(updates, results, strict=True))):
            yield attrs.evolve(result, values=update.values)

    def _unwritable(self, update: ContactUpdate) -> WriteResult | None:
        for name in update.values:
            info = self.schema.get(name)
            if info is None:
                return _refused(update, "INVALID_FIELD", "no such field", (name,))
            if not info.updateable or name in _READ_ONLY:
                return _refused(update, "INVALID_FIELD_FOR_INSERT_UPDATE", "read-only", (name,))
        return None

    def api_usage(self) -> ApiUsage | None:
        return ApiUsage(self.used, self.limit)

    def call_stats(self) -> SourceCalls:
        return SourceCalls(self.used)

    def capabilities(self) -> Capabilities:
        return Capabilities(changes=self, writer=self)

    # --- internals -----------------------------------------------------------------------

    def _call(self) -> None:
        if self.used >= self.limit:
            raise QuotaExhausted("REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.")
        self.used += 1

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def _checked(self, name: str) -> str:
        validate_field_name(name)
        info = self.schema.get(name) or next(
            (f for f in self.schema.fields.values() if f.name.lower() == name.lower()), None
        )
        if info is None:
            raise InvalidFieldName(f"Contact has no field {name!r} visible to this user")
        if info.type in COMPOUND_TYPES:
            parts = ", ".join(self.schema.components_of(info.name))
            raise InvalidFieldName(f"{info.name} is a compound field; select {parts} instead")
        return info.name

    def _matches(self, record: Mapping[str, Any], query: ContactQuery) -> bool:
        cursor, stamp = query.modified_after, record["SystemModstamp"]
        rechecked = query.recheck is not None and query.recheck[0] < stamp <= query.recheck[1]
        return (
            (query.include_deleted or not record["IsDeleted"])
            and (
                cursor is None
                or rechecked
                or (stamp, record["Id"]) > (cursor.modstamp, cursor.contact_id)
            )
            and (query.flag_field is None or record.get(query.flag_field) is True)
            and (query.ids is None or record["Id"] in query.ids)
        )

    def _pages(self, contacts: list[Contact]) -> Iterator[list[Contact]]:
        for start in range(0, len(contacts), self.page_size):
            if start:
                self._call()  # each further page is one more call, as nextRecordsUrl is
            yield contacts[start : start + self.page_size]

    def _update(self, update: ContactUpdate) -> WriteResult:
        self.updates.append(update)
        record = self.records.get(update.contact_id)
        if record is None or record["IsDeleted"]:
            return WriteResult(
                update.contact_id,
                ok=False,
                error_code="ENTITY_IS_DELETED",
                message="entity is deleted",
            )
        if self.locked.get(update.contact_id):
            self.locked[update.contact_id] -= 1
            return _refused(update, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access")
        for name, value in update.values.items():
            refusal = _field_refusal(self.schema.get(name), value)
            if refusal is not None:
                return _refused(update, refusal, "the field refused the value", (name,))
        record.update(update.values, SystemModstamp=self._tick())
        return WriteResult(update.contact_id, ok=True)


def _refused(
    update: ContactUpdate, code: str, message: str, fields: tuple[str, ...] = ()
) -> WriteResult:
    return WriteResult(update.contact_id, ok=False, error_code=code, message=message, fields=fields)


def _field_refusal(info: FieldInfo | None, value: Any) -> str | None:
    """The emulator's codes for the checks the fake makes (docs/emulator.md "Writes")."""
    if info is None:
        return "INVALID_FIELD"
    if info.restricted_picklist and value is not None:
        if not set(str(value).split(";")) <= set(info.picklist_values):
            return "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    if info.length and isinstance(value, str) and len(value) > info.length:
        return "STRING_TOO_LONG"
    return None


def contact_of(
    record: Mapping[str, Any], names: Sequence[str], modstamp: datetime | None = None
) -> Contact:
    """The Contact a read returns of `record` with `names`; `modstamp` in place of its
    SystemModstamp (a vendor's time)."""
    return Contact(
        id=record["Id"],
        email=record["Email"],
        first_name=record["FirstName"],
        last_name=record["LastName"],
        name=record["Name"],
        is_deleted=record["IsDeleted"],
        system_modstamp=modstamp or record["SystemModstamp"],
        fields={n: record.get(n) for n in names if n not in _BASE_KEYS},
    )
