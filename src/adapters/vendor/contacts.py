"""`VendorContacts`: ContactReader and ContactCache over the vendor's CRM API (Merge's).

One instance serves one run for one linked account: the field classes are read once. The
vendor is a cache of the org, refreshed by its own syncs; `modified_at` (the vendor's time,
never Salesforce's SystemModstamp) stands in for the SystemModstamp of what it serves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from sfsync.adapters.vendor import errors
from sfsync.adapters.vendor.client import VendorClient, call_kind
from sfsync.adapters.vendor.records import (
    READ_FIELDS,
    RowRefused,
    contact_from_vendor,
    is_salesforce_id,
    parse_time,
)
from sfsync.adapters.vendor.schema import schema_from_classes
from sfsync.adapters.vendor.settings import MAX_PAGE_SIZE
from sfsync.domain.errors import InvalidFieldName, PermanentFailure
from sfsync.domain.mapping import validate_field_name
from sfsync.domain.model import (
    COMPOUND_TYPES,
    Contact,
    ContactSchema,
    FieldType,
    SalesforceId,
)
from sfsync.domain.ports import (
    ApiUsage,
    CacheStatus,
    Capabilities,
    ContactQuery,
    ContactRead,
    SourceCalls,
)

log = structlog.get_logger(__name__)

RESYNC_REFUSED = "the vendor's plan does not allow a resync"
MAX_CURSOR = 2048  # characters of a `next` cursor we send back


class VendorContacts:
    """The org's Contacts as the vendor holds them. `skipped` counts the rows left out,
    by reason (`no_remote_id`, `invalid_remote_id`, `malformed_row`, `value_too_long`,
    `invalid_characters`); each read logs its counts as `vendor.rows_skipped`."""

    def __init__(self, client: VendorClient) -> None:
        self.client = client
        self.settings = client.settings
        self.skipped: Counter[str] = Counter()
        self._schema: ContactSchema | None = None

    def close(self) -> None:
        self.client.close()

    def capabilities(self) -> Capabilities:
        return Capabilities(cache=self, filters_on_fields=False, reads_named_fields=False)

    def call_stats(self) -> SourceCalls:
        return SourceCalls(self.client.calls, self.client.waited, dict(self.skipped))

    def api_usage(self) -> ApiUsage | None:
        return None  # the vendor's calls do not spend the org's API requests

    def describe_contact(self) -> ContactSchema:
        if self._schema is None:
            classes = self._pages("contacts/remote-field-classes", {})
            self._schema = schema_from_classes(
                c for page in classes for c in page if isinstance(c, dict)
            )
        return self._schema

    def read_contacts(self, query: ContactQuery) -> ContactRead:
        """Every Contact the query asks for, in the vendor's order, each once. A cursor
        reads rows the vendor stamped strictly after its time (its Id is not used);
        `recheck` and `flag_field` are not applied (see `capabilities`)."""
        schema = self.describe_contact()
        asked = tuple(dict.fromkeys(_known(f, schema) for f in query.fields))
        asked = tuple(f for f in asked if f not in READ_FIELDS)
        types = {name: info.type for name, info in schema.fields.items()}
        params: dict[str, Any] = {"page_size": self.settings.page_size}
        if query.include_deleted:
            params["include_deleted_data"] = "true"
        if asked:
            params["include_remote_fields"] = "true"
        if query.modified_after is not None:
            params["modified_after"] = wire_time(query.modified_after.modstamp)
        if query.ids is None:
            pages = self._pages("contacts", params)
        else:
            pages = self._pages_by_id(query.ids, params)
        return ContactRead(None, self._contacts(pages, asked, types))

    def get_contact(self, contact_id: SalesforceId, fields: Sequence[str]) -> Contact | None:
        query = ContactQuery(tuple(fields), ids=(contact_id,), include_deleted=True)
        return next((c for batch in self.read_contacts(query).batches for c in batch), None)

    def find_contact_ids_by_email(self, email: str) -> list[SalesforceId]:
        """Live Contacts with this email, ignoring case (the vendor's filter, then ours: it
        splits its filter at commas)."""
        params = {"email_addresses": email, "page_size": self.settings.page_size}
        wanted = email.strip().lower()
        found: list[SalesforceId] = []
        for page in self._pages("contacts", params):
            for row in filter(_is_object, page):
                listed = row.get("email_addresses")
                emails = {
                    e["email_address"].lower()
                    for e in (listed if isinstance(listed, list) else ())
                    if isinstance(e, Mapping) and isinstance(e.get("email_address"), str)
                }
                if wanted in emails and is_salesforce_id(row.get("remote_id")):
                    found.append(SalesforceId(row["remote_id"]))
        return list(dict.fromkeys(found))

    def status(self) -> CacheStatus:
        """The vendor's last Contact sync (none known: never synced)."""
        for page in self._pages("sync-status", {}):
            for model in filter(_is_object, page):
                if model.get("model_name") == "Contact" or model.get("model_id") == "crm.Contact":
                    return CacheStatus(
                        last_sync_finished=_time_or_none(model.get("last_sync_finished")),
                        last_sync_started=_time_or_none(model.get("last_sync_start")),
                        syncing=model.get("status") == "SYNCING",
                    )
        return CacheStatus(last_sync_finished=None)

    def resync(self) -> str | None:
        try:
            self.client.request("POST", "sync-status/resync")
        except PermanentFailure as err:
            if err.code == "vendor_forbidden":
                return RESYNC_REFUSED
            raise
        return None

    def unlink(self) -> None:
        """Tell the vendor to unlink the account: its token stops working."""
        self.client.request("POST", "delete-account")

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        """The `results` of each page, following `next` cursors; a page of another shape,
        with more rows than asked for, or a cursor met before (a loop) is an error."""
        kind = call_kind("GET", path)
        size = params.get("page_size", MAX_PAGE_SIZE)
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page_params = {**params, "cursor": cursor} if cursor else params
            body = self.client.json("GET", path, page_params)
            if not isinstance(body, dict):
                raise errors.bad_response(kind, "the body is not a JSON object")
            results, cursor = body.get("results"), body.get("next")
            if not isinstance(results, list):
                raise errors.bad_page(kind, "its results are not a list")
            if len(results) > size:
                raise errors.bad_page(kind, f"{len(results)} rows for a page of {size}")
            yield results
            if cursor is None or cursor == "":
                return
            if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR:
                raise errors.bad_page(kind, "its next cursor is not a short text")
            if cursor in seen:
                raise errors.cursor_loop(kind, len(seen) + 2)
            seen.add(cursor)

    def _pages_by_id(
        self, ids: Sequence[SalesforceId], params: Mapping[str, Any]
    ) -> Iterator[list[Any]]:
        for contact_id in dict.fromkeys(ids):
            yield from self._pages("contacts", {**params, "remote_id": contact_id})

    def _contacts(
        self,
        pages: Iterator[list[Any]],
        asked: Sequence[str],
        types: Mapping[str, FieldType],
    ) -> Iterator[list[Contact]]:
        """Each page's Contacts not seen before in this read (a row the vendor stamped again
        while it was paged shows twice: the first is kept)."""
        seen: set[str] = set()
        skipped: Counter[str] = Counter()
        for page in pages:
            batch = []
            for row in page:
                try:
                    if not isinstance(row, dict):
                        raise RowRefused("malformed_row")
                    contact = contact_from_vendor(row, asked, types)
                except RowRefused as refused:
                    skipped[refused.reason] += 1
                    continue
                if contact.id not in seen:
                    seen.add(contact.id)
                    batch.append(contact)
            if batch:
                yield batch
        if skipped:
            self.skipped.update(skipped)
            log.warning("vendor.rows_skipped", **dict(sorted(skipped.items())))


def _known(name: str, schema: ContactSchema) -> str:
    """The field's exact name as the vendor lists it; InvalidFieldName when it has not the
    shape of an API name, is not listed, or is compound (its parts are what can be read)."""
    validate_field_name(name)
    info = schema.get(name) or next(
        (f for f in schema.fields.values() if f.name.lower() == name.lower()), None
    )
    if info is None:
        raise InvalidFieldName(f"the vendor lists no Contact field {name!r}")
    if info.type in COMPOUND_TYPES:
        parts = ", ".join(schema.components_of(info.name))
        raise InvalidFieldName(f"{info.name} is a compound field; select {parts} instead")
    return info.name


def _is_object(row: Any) -> bool:
    return isinstance(row, dict)


def _time_or_none(value: Any) -> datetime | None:
    """A sync time; one the vendor garbled counts as unknown (never synced)."""
    try:
        return parse_time(value)
    except ValueError:
        return None


def wire_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and Z (the vendor's precision)."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"
