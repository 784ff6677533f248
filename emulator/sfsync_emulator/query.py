"""Run a parsed SOQL query against the store: resolve fields, filter, order, limit."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from attrs import define

from sfsync_emulator.errors import ApiError
from sfsync_emulator.fields import Field
from sfsync_emulator.ids import canonical
from sfsync_emulator.soql import Literal, Query, parse
from sfsync_emulator.store import Store

Pred = Callable[[int], bool]
_LITERAL_FOR = {
    "boolean": "bool",
    "int": "number",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "date": "date",
    "datetime": "datetime",
}
_TYPE_WORD = {"bool": "boolean", "number": "number", "date": "date", "datetime": "dateTime"}


@define
class Plan:
    query: Query
    fields: list[Field]  # selected, in SELECT order (compound address included)
    indices: list[int]  # matching rows, ordered, limited

    @property
    def count_only(self) -> bool:
        return self.query.count


def run(store: Store, soql: str, include_deleted: bool) -> Plan:
    q = parse(soql)
    if q.sobject[0].lower() != "contact":
        raise ApiError(
            400,
            "INVALID_TYPE",
            f"sObject type '{q.sobject[0]}' is not supported. "
            "If you are attempting to use a custom object, be sure to append the "
            "'__c' after the entity name.",
        )
    fields = _select(store, q)
    pred = _compile(store, q.where) if q.where is not None else None
    indices = _candidates(store, q)
    if not include_deleted and store.deleted:
        gone = store.deleted
        indices = [i for i in indices if i not in gone]
    if pred is not None:
        indices = [i for i in indices if pred(i)]
    indices = _order(store, q, indices)
    end = None if q.limit is None else q.offset + q.limit
    if q.offset or end is not None:
        indices = indices[q.offset : end]
    return Plan(q, fields, indices)


def _select(store: Store, q: Query) -> list[Field]:
    schema = store.schema
    if q.fields_fn:
        if q.fields_fn != "STANDARD" and (q.limit is None or q.limit > 200):
            raise ApiError(
                400, "MALFORMED_QUERY", "The SOQL FIELDS function must have a LIMIT of at most 200"
            )
        custom = {"ALL": (True, False), "STANDARD": (False,), "CUSTOM": (True,)}[q.fields_fn]
        picked = [f for f in schema.visible() if f.custom in custom]
    else:
        picked = []
    for name, _ in q.fields:
        if "." in name:
            rel = name.split(".")[0]
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Didn't understand relationship '{rel}' in "
                "field path. If you are attempting to use a custom relationship, be "
                "sure to append the '__r' after the custom relationship name.",
            )
        f = schema.get(name)
        if f in picked:
            raise ApiError(400, "DUPLICATE_FIELD", f"duplicate field selected: {f.name}")
        picked.append(f)
    return picked


def _candidates(store: Store, q: Query) -> list[int]:
    """Rows in (SystemModstamp, Id) order, narrowed by top-level Id/SystemModstamp terms."""
    terms = q.where[1] if q.where and q.where[0] == "and" else [q.where]
    lo = hi = None
    for t in terms:
        if not t or t[0] not in ("cmp", "in") or t[1].lower() not in ("id", "systemmodstamp"):
            continue
        if t[1].lower() == "id" and (t[0] == "in" and not t[3] or t[0] == "cmp" and t[3] == "="):
            lits = t[4] if t[0] == "in" else [t[4]]
            found = {store.index_of(str(lit.value)) for lit in lits if lit.kind == "string"}
            found.discard(None)
            return sorted(found, key=lambda i: (store.stamp(i), i))  # type: ignore[arg-type]
        if t[0] == "cmp" and t[4].kind == "datetime":
            ms, op = t[4].value, t[3]
            if op in (">", ">=", "="):
                bound = ms + 1 if op == ">" else ms
                lo = bound if lo is None else max(lo, bound)
            if op in ("<", "<=", "="):
                bound = ms if op == "<" else ms + 1
                hi = bound if hi is None else min(hi, bound)
    return store.ordered(lo, hi)


def _field(store: Store, name: str) -> Field:
    f = store.schema.get(name)
    if not f.filterable:
        raise ApiError(
            400, "INVALID_FIELD", f"field '{f.name}' can not be filtered in a query call"
        )
    return f


def _check(f: Field, lit: Literal) -> Any:
    """The literal as comparable to stored values, or INVALID_FIELD on a type mismatch."""
    if lit.kind == "null":
        return None
    want = _LITERAL_FOR.get(f.type, "string")
    got = "string" if lit.kind == "like" else lit.kind
    if got != want:
        if want == "string":
            detail = "must be of type string and should be enclosed in quotes"
        else:
            detail = f"must be of type {_TYPE_WORD[want]} and should not be enclosed in quotes"
        raise ApiError(
            400, "INVALID_FIELD", f"value of filter criterion for field '{f.name}' {detail}"
        )
    if f.type in ("id", "reference"):
        cid = canonical(lit.value)
        if cid is None:
            raise ApiError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}")
        return cid
    if want == "string":
        return lit.value.lower()
    return lit.value


def _norm(f: Field) -> Callable[[Any], Any]:
    if f.type == "multipicklist":
        return lambda v: None if v is None else frozenset(v.lower().split(";"))
    if f.is_text:
        return lambda v: None if v is None else v.lower()
    return lambda v: v


def _compile(store: Store, node: Any) -> Pred:
    kind = node[0]
    if kind in ("and", "or"):
        preds = [_compile(store, n) for n in node[1]]
        return (
            (lambda i: all(p(i) for p in preds))
            if kind == "and"
            else (lambda i: any(p(i) for p in preds))
        )
    if kind == "not":
        inner = _compile(store, node[1])
        return lambda i: not inner(i)
    f = _field(store, node[1])
    get, norm = store.getter(f.name), _norm(f)
    if kind == "like":
        pattern = re.compile(_like_regex(node[3].value), re.S | re.I)
        return lambda i: (v := get(i)) is not None and pattern.fullmatch(v) is not None
    if kind in ("includes", "excludes"):
        wanted = [frozenset(_check(f, lit).split(";")) for lit in node[4]]
        hit = lambda i: (v := norm(get(i))) is not None and any(w <= v for w in wanted)  # noqa: E731
        return hit if kind == "includes" else (lambda i: not hit(i))
    if kind == "in":
        values = {
            norm(_check(f, lit)) if f.type == "multipicklist" else _check(f, lit) for lit in node[4]
        }
        if node[3]:
            return lambda i: norm(get(i)) not in values
        return lambda i: norm(get(i)) in values
    op, value = node[3], _check(f, node[4])
    if f.type == "multipicklist" and value is not None:
        value = frozenset(value.split(";"))
    if value is None:
        if op not in ("=", "!="):
            raise ApiError(400, "MALFORMED_QUERY", "null may only be used with = and !=")
        return (lambda i: get(i) is None) if op == "=" else (lambda i: get(i) is not None)
    test = _OPS[op]
    if op == "!=":
        return lambda i: (v := norm(get(i))) is None or v != value
    return lambda i: (v := norm(get(i))) is not None and test(v, value)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _like_regex(pattern: str) -> str:
    out, k = [], 0
    while k < len(pattern):
        ch = pattern[k]
        if ch == "\\" and k + 1 < len(pattern):
            out.append(re.escape(pattern[k + 1]))
            k += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        k += 1
    return "".join(out)


def _order(store: Store, q: Query, indices: list[int]) -> list[int]:
    if not q.order:
        return indices
    names = [(store.schema.get(n).name, d, nf) for n, d, nf in q.order]
    natural = [n for n, _, _ in names] in (["SystemModstamp"], ["SystemModstamp", "Id"])
    if natural and all(nf is None for _, _, nf in names) and len({d for _, d, _ in names}) == 1:
        return indices[::-1] if names[0][1] else indices
    for name, desc, nulls_first in reversed(names):
        f = store.schema.get(name)
        get, norm = store.getter(f.name), _norm(f)
        first = (not desc) if nulls_first is None else nulls_first
        null_rank = (0 if first else 2) if not desc else (2 if first else 0)

        def key(i: int, get=get, norm=norm, null_rank=null_rank) -> tuple:
            v = norm(get(i))
            return (null_rank, 0) if v is None else (1, v)

        indices.sort(key=key, reverse=desc)
    return indices
