"""Validated writes shared by REST, sObject Collections and Bulk ingest."""

from __future__ import annotations

from typing import Any

from sfsync_emulator.errors import ApiError, not_found
from sfsync_emulator.ids import canonical
from sfsync_emulator.state import Fault
from sfsync_emulator.store import Store
from sfsync_emulator.values import coerce

SKIP = ("attributes", "id", "Id")


def prepare(store: Store, body: Any, create: bool = False) -> dict[str, Any]:
    """Field values to store for one record body, or ApiError."""
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of Contact")
    values: dict[str, Any] = {}
    for key, raw in body.items():
        if key in SKIP:
            continue
        f = store.schema.writable(key, create)
        values[f.name] = coerce(f, raw)
    if create and values.get("LastName") is None:
        raise ApiError(
            400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"]
        )
    return values


def target(store: Store, raw: Any, rest: bool = False) -> int:
    """Row index of a record id for an update; the REST variant answers 404s."""
    cid = canonical(raw) if isinstance(raw, str) else None
    if cid is None:
        if rest:
            raise not_found()
        raise ApiError(
            400, "MALFORMED_ID", f"Contact ID: id value of incorrect type: {raw}", ["Id"]
        )
    i = store.index_of(cid)
    if i is None:
        if rest:
            raise not_found()
        raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
    if i in store.deleted:
        raise ApiError(404 if rest else 400, "ENTITY_IS_DELETED", "entity is deleted", [])
    return i


def check_lock(fault: Fault | None, rid: str) -> None:
    if fault is None or not fault.lock:
        return
    wanted = {canonical(r) for r in fault.record_ids} if fault.record_ids else None
    if wanted is None or rid in wanted:
        raise ApiError(
            400,
            fault.error_code or "UNABLE_TO_LOCK_ROW",
            fault.message
            or f"unable to obtain exclusive access to this record or 1 records: {rid}",
            [],
        )


def duplicated(ids: list[Any]) -> set[str]:
    """Canonical ids named more than once in one save: Salesforce fails every one of them."""
    seen: set[str] = set()
    twice: set[str] = set()
    for raw in ids:
        cid = canonical(raw) if isinstance(raw, str) else None
        if cid is not None:
            (twice if cid in seen else seen).add(cid)
    return twice


def duplicate_error(rid: str) -> ApiError:
    return ApiError(400, "DUPLICATE_VALUE", f"Duplicate id specified: {rid}", [])


def save_error(err: ApiError) -> dict[str, Any]:
    return {"statusCode": err.code, "message": err.message, "fields": err.fields or []}


ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the "
    "request was using AllOrNone header",
    "fields": [],
}


def collection_update(
    store: Store, records: list[Any], all_or_none: bool, fault: Fault | None
) -> list[dict[str, Any]]:
    """sObject Collections PATCH: one SaveResult per input, in order (reference §6.2)."""
    planned: list[tuple[int, dict[str, Any]] | ApiError] = []
    ids: list[Any] = []
    for rec in records:
        rid = rec.get("id") if isinstance(rec, dict) else None
        ids.append(canonical(rid) if isinstance(rid, str) and canonical(rid) else rid)
    twice = duplicated(ids)
    for rec, rid in zip(records, ids, strict=True):
        try:
            if isinstance(rid, str) and rid in twice:
                raise duplicate_error(rid)
            if (
                not isinstance(rec, dict)
                or not isinstance(rec.get("attributes"), dict)
                or str(rec["attributes"].get("type", "")).lower() != "contact"
            ):
                raise ApiError(400, "INVALID_TYPE", "sObject type must be Contact", [])
            i = target(store, rid)
            check_lock(fault, rid)
            planned.append((i, prepare(store, rec)))
        except ApiError as err:
            planned.append(err)
    failed = any(isinstance(p, ApiError) for p in planned)
    results = []
    for rid, p in zip(ids, planned, strict=True):
        if isinstance(p, ApiError):
            results.append({"id": rid, "success": False, "errors": [save_error(p)]})
        elif failed and all_or_none:
            results.append({"id": rid, "success": False, "errors": [ROLLED_BACK]})
        else:
            store.write(p[0], p[1])
            results.append({"id": rid, "success": True, "errors": []})
    return results


def collection_create(
    store: Store, records: list[Any], all_or_none: bool, fault: Fault | None
) -> list[dict[str, Any]]:
    planned: list[dict[str, Any] | ApiError] = []
    for rec in records:
        try:
            if fault is not None and fault.lock and not fault.record_ids:
                check_lock(fault, "")
            planned.append(prepare(store, rec, create=True))
        except ApiError as err:
            planned.append(err)
    failed = any(isinstance(p, ApiError) for p in planned)
    results = []
    for p in planned:
        if isinstance(p, ApiError):
            results.append({"success": False, "errors": [save_error(p)]})
        elif failed and all_or_none:
            results.append({"success": False, "errors": [ROLLED_BACK]})
        else:
            results.append({"id": store.id_of(store.create(p)), "success": True, "errors": []})
    return results
