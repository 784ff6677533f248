"""Rows out: REST JSON records (with nested compound addresses) and Bulk CSV lines."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sfsync_emulator.fields import Field
from sfsync_emulator.store import Store
from sfsync_emulator.values import format_datetime

_ADDRESS_KEYS = (
    "city",
    "country",
    "geocodeAccuracy",
    "latitude",
    "longitude",
    "postalCode",
    "state",
    "street",
)


def _address_getter(store: Store, f: Field) -> Callable[[int], Any]:
    prefix = f.name.removesuffix("Address")
    parts = [(key, store.getter(prefix + key[0].upper() + key[1:])) for key in _ADDRESS_KEYS]

    def get(i: int) -> dict[str, Any] | None:
        out = {key: g(i) for key, g in parts}
        return out if any(v is not None for v in out.values()) else None

    return get


def json_records(
    store: Store, fields: list[Field], indices: Iterable[int], version: str
) -> list[dict[str, Any]]:
    prefix = f"/services/data/v{version}/sobjects/Contact/"
    names = [f.name for f in fields]
    scalar = [f for f in fields if f.type != "address"]
    read = store.reader([f.name for f in scalar])
    dts = [k for k, f in enumerate(scalar) if f.type == "datetime"]
    compound = [(f.name, _address_getter(store, f)) for f in fields if f.type == "address"]
    id_of, fmt = store.id_of, format_datetime
    scalar_names = [f.name for f in scalar]
    id_pos = scalar_names.index("Id") if "Id" in scalar_names else None
    out = []
    for i in indices:
        vals = read(i)
        for k in dts:
            if vals[k] is not None:
                vals[k] = fmt(vals[k])
        rid = id_of(i) if id_pos is None else vals[id_pos]
        rec = {"attributes": {"type": "Contact", "url": prefix + rid}}
        if compound:
            row = dict(zip(scalar_names, vals, strict=True))
            row.update((name, g(i)) for name, g in compound)
            rec.update((name, row[name]) for name in names)
        else:
            rec.update(zip(names, vals, strict=True))
        out.append(rec)
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def csv_quote(value: Any) -> str:
    if value is None:
        return '""'
    if value is True:
        return '"true"'
    if value is False:
        return '"false"'
    text = value if isinstance(value, str) else str(value)
    if '"' in text:
        text = text.replace('"', '""')
    return f'"{text}"'


def csv_header(names: list[str], delimiter: str = ",", newline: str = "\n") -> str:
    return delimiter.join(csv_quote(n) for n in names) + newline


def csv_lines(
    store: Store,
    fields: list[Field],
    indices: Iterable[int],
    delimiter: str = ",",
    newline: str = "\n",
    chunk: int = 5000,
) -> Iterator[str]:
    """CSV body lines (no header), joined into chunks of `chunk` rows."""
    read = store.reader([f.name for f in fields])
    dts = [k for k, f in enumerate(fields) if f.type == "datetime"]
    fmt, quote, width = format_datetime, csv_quote, 2 * len(fields)
    glue = f'"{delimiter}"'
    buf: list[str] = []
    for i in indices:
        vals = read(i)
        for k in dts:
            if vals[k] is not None:
                vals[k] = fmt(vals[k], "Z")
        line = '"' + glue.join([v if type(v) is str else _text(v) for v in vals]) + '"'
        if line.count('"') != width:  # a value holds a quote: escape value by value
            line = delimiter.join([quote(v) for v in vals])
        buf.append(line)
        if len(buf) >= chunk:
            yield newline.join(buf) + newline
            buf = []
    if buf:
        yield newline.join(buf) + newline
