"""`HttpxSalesforce`: the SalesforceGateway port over Salesforce's REST and Bulk 2.0 APIs.

One instance serves one run for one org: the Contact describe is fetched once and cached.
Every field name is checked against that describe before it reaches SOQL or a write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain

import attrs
import httpx

from sfsync.adapters.salesforce import reads, soql, writes
from sfsync.adapters.salesforce.auth import SessionAuth
from sfsync.adapters.salesforce.client import ClientSettings, SalesforceClient
from sfsync.adapters.salesforce.records import parse_datetime
from sfsync.domain.model import (
    CURSOR_FIELD,
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

KNOWN_TYPES = frozenset(t.value for t in FieldType)
IDS_PER_QUERY = 200  # ~4 KB of quoted ids keeps an id-filtered GET far below 16,384 bytes
# An email lookup's URL: half Salesforce's 16,384 bytes, so a proxy (or server) with the
# common 8 KB request-line limit passes it too.
EMAIL_QUERY_URL_BYTES = 8_000


@attrs.frozen
class SalesforceSettings:
    client: ClientSettings = ClientSettings()
    reads: reads.ReadSettings = reads.ReadSettings()
    bulk_write_threshold: int = 2_000  # updates above this go through a Bulk ingest job


class HttpxSalesforce:
    """SalesforceGateway over httpx. `calls` counts HTTP requests (token grants included)."""

    def __init__(
        self,
        auth: SessionAuth,
        settings: SalesforceSettings = SalesforceSettings(),
        http: httpx.Client | None = None,
        *,
        on_call: Callable[[str], None] | None = None,
        on_usage: Callable[[ApiUsage], None] | None = None,
    ) -> None:
        """`on_call` and `on_usage`: as SalesforceClient's (the metrics)."""
        self.client = SalesforceClient(
            auth, settings.client, http, on_call=on_call, on_usage=on_usage
        )
        self.settings = settings
        self._schema: ContactSchema | None = None

    @property
    def calls(self) -> int:
        return self.client.calls

    def close(self) -> None:
        self.client.close()

    def call_stats(self) -> SourceCalls:
        return SourceCalls(self.client.calls)  # quota is shared, never waited for

    def capabilities(self) -> Capabilities:
        return Capabilities(changes=self, writer=self)

    def describe_contact(self) -> ContactSchema:
        if self._schema is None:
            body = self.client.json("GET", "sobjects/Contact/describe")
            self._schema = ContactSchema({f["name"]: _field_info(f) for f in body["fields"]})
        return self._schema

    def read_contacts(self, query: ContactQuery) -> ContactRead:
        """REST first; its first page's totalSize decides whether to switch to Bulk.

        That page replaces a separate COUNT() call (same cost: one request) and is used as
        is for small reads; a read above `bulk_threshold` drops it and runs a Bulk job.
        """
        schema = self.describe_contact()
        if query.ids is not None:
            return self._read_by_ids(query, schema)
        text = soql.contacts_soql(query, schema)
        if reads.query_url_bytes(self.client, text, query.include_deleted) > reads.MAX_URL_BYTES:
            return self._bulk(text, query)
        first = reads.rest_first_page(self.client, text, query.include_deleted)
        if first["totalSize"] > self.settings.reads.bulk_threshold and not first["done"]:
            return self._bulk(text, query)
        return ContactRead(first["totalSize"], reads.rest_batches(self.client, first))

    def contact_stamps(self) -> ContactRead:
        """Id and SystemModstamp of every live Contact: no personal data crosses the wire."""
        self.describe_contact()
        text = soql.STAMPS_SOQL
        first = reads.rest_first_page(self.client, text, include_deleted=False)
        if first["totalSize"] > self.settings.reads.bulk_threshold and not first["done"]:
            return self._bulk(text, ContactQuery(()))
        return ContactRead(first["totalSize"], reads.rest_batches(self.client, first))

    def get_contact(self, contact_id: SalesforceId, fields: Sequence[str]) -> Contact | None:
        read = self.read_contacts(
            ContactQuery(tuple(fields), ids=(contact_id,), include_deleted=True)
        )
        return next((c for batch in read.batches for c in batch), None)

    def deleted_contacts(self, start: datetime, end: datetime) -> DeletedContacts:
        body = self.client.json(
            "GET",
            "sobjects/Contact/deleted/",
            params={
                "start": start.isoformat(timespec="seconds"),
                "end": end.isoformat(timespec="seconds"),
            },
        )
        ids = tuple(SalesforceId(r["id"]) for r in body.get("deletedRecords", []))
        return DeletedContacts(ids, parse_datetime(body["latestDateCovered"]) or end)

    def find_contact_ids_by_email(self, email: str) -> list[SalesforceId]:
        first = reads.rest_first_page(self.client, soql.email_soql(email), include_deleted=False)
        return [
            SalesforceId(c.id) for batch in reads.rest_batches(self.client, first) for c in batch
        ]

    def find_contacts_by_email(
        self, emails: Sequence[str], fields: Sequence[str] = ()
    ) -> list[Contact]:
        """Live Contacts whose Email is one of `emails`, ignoring case, ordered by Id within
        each query: `Email IN (...)` queries as long as a URL allows."""
        wanted = list(dict.fromkeys(emails))
        if not wanted:
            return []
        schema = self.describe_contact()
        select = list(dict.fromkeys(["Id", "Email", CURSOR_FIELD]))
        select += [f for f in (soql.checked_field(n, schema) for n in fields) if f not in select]
        budget = EMAIL_QUERY_URL_BYTES - reads.query_url_bytes(self.client, "", False)
        found: list[Contact] = []
        for batch in soql.email_batches(wanted, select, budget):
            text = soql.emails_soql(batch, select)
            first = reads.rest_first_page(self.client, text, include_deleted=False)
            found.extend(c for page in reads.rest_batches(self.client, first) for c in page)
        return found

    def update_contacts(self, updates: Sequence[ContactUpdate]) -> list[WriteResult]:
        """Refuse unknown or read-only fields locally (named per record); send the rest."""
        schema = self.describe_contact()
        refused = [_refusal(u, schema) for u in updates]
        to_send = [u for u, r in zip(updates, refused, strict=True) if r is None]
        if len(to_send) > self.settings.bulk_write_threshold:
            fields = list(dict.fromkeys(name for u in to_send for name in u.values))
            streamed = writes.bulk_update_streamed(
                self.client, schema, fields, to_send, self.settings.reads
            )
            by_id = {r.contact_id: r for r in streamed}
            sent = [by_id.get(u.contact_id) or writes.no_result(u.contact_id) for u in to_send]
        else:
            sent = list(writes.collections_update(self.client, to_send))
        results = iter(sent)
        return [r or next(results) for r in refused]

    def update_contacts_streamed(
        self, fields: Sequence[str], pages: Iterable[Sequence[ContactUpdate]]
    ) -> Iterator[WriteResult]:
        """Collections when the whole stream fits under `bulk_write_threshold`; otherwise
        one Bulk ingest job (per 100 MB of CSV) with a column per field."""
        schema = self.describe_contact()
        columns = list(dict.fromkeys(fields))
        allowed = frozenset(columns)
        refused: list[WriteResult] = []  # unknown or read-only fields: rare, kept to the end

        def sendable(updates: Iterable[ContactUpdate]) -> Iterator[ContactUpdate]:
            for update in updates:
                if not update.values.keys() <= allowed:
                    raise ValueError("an update sets a field outside the declared fields")
                refusal = _refusal(update, schema)
                if refusal is None:
                    yield update
                else:
                    refused.append(attrs.evolve(refusal, values=update.values))

        stream = sendable(chain.from_iterable(pages))
        first: list[ContactUpdate] = []
        for update in stream:
            first.append(update)
            if len(first) > self.settings.bulk_write_threshold:
                rest = chain(first, stream)
                yield from writes.bulk_update_streamed(
                    self.client, schema, columns, rest, self.settings.reads
                )
                break
        else:
            if first:
                yield from writes.collections_update(self.client, first)
        yield from refused

    def api_usage(self) -> ApiUsage | None:
        return self.client.usage

    def _bulk(self, text: str, query: ContactQuery) -> ContactRead:
        return reads.bulk_read(self.client, text, query.include_deleted, self.settings.reads)

    def _read_by_ids(self, query: ContactQuery, schema: ContactSchema) -> ContactRead:
        ids = query.ids or ()
        chunks = [ids[i : i + IDS_PER_QUERY] for i in range(0, len(ids), IDS_PER_QUERY)]
        if not chunks:
            return ContactRead(0, iter(()))
        if len(chunks) == 1:
            text = soql.contacts_soql(query, schema, chunks[0])
            first = reads.rest_first_page(self.client, text, query.include_deleted)
            return ContactRead(first["totalSize"], reads.rest_batches(self.client, first))
        return ContactRead(None, self._chunked(query, schema, chunks))

    def _chunked(
        self, query: ContactQuery, schema: ContactSchema, chunks: list[tuple[SalesforceId, ...]]
    ) -> Iterator[list[Contact]]:
        for chunk in chunks:
            text = soql.contacts_soql(query, schema, chunk)
            first = reads.rest_first_page(self.client, text, query.include_deleted)
            yield from reads.rest_batches(self.client, first)


def _refusal(update: ContactUpdate, schema: ContactSchema) -> WriteResult | None:
    for name in update.values:
        info = schema.get(name)
        if info is None:
            return WriteResult(
                update.contact_id,
                ok=False,
                error_code="INVALID_FIELD",
                message="no such field visible to this user",
                fields=(name,),
            )
        if not info.updateable:
            return WriteResult(
                update.contact_id,
                ok=False,
                error_code="INVALID_FIELD_FOR_INSERT_UPDATE",
                message="field is not updateable",
                fields=(name,),
            )
    return None


def _field_info(raw: dict) -> FieldInfo:
    picklist = tuple(p["value"] for p in raw.get("picklistValues") or () if p.get("active", True))
    # A describe type sfsync does not know (e.g. encryptedstring) is kept as anyType.
    kind = FieldType(raw["type"]) if raw["type"] in KNOWN_TYPES else FieldType.ANYTYPE
    return FieldInfo(
        name=raw["name"],
        type=kind,
        updateable=bool(raw.get("updateable")),
        nillable=bool(raw.get("nillable")),
        custom=bool(raw.get("custom")),
        compound_field_name=raw.get("compoundFieldName"),
        picklist_values=picklist,
        deprecated_and_hidden=bool(raw.get("deprecatedAndHidden")),
        length=int(raw.get("length") or 0),
        precision=int(raw.get("precision") or 0),
        scale=int(raw.get("scale") or 0),
        restricted_picklist=bool(raw.get("restrictedPicklist")),
    )
