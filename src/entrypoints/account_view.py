"""How `account show` prints an account: one JSON-ready dict, and its text form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from sfsync.domain.model import AttributeMapping
from sfsync.entrypoints.terminal import iso
from sfsync.services.reports import COUNT_KEYS

if TYPE_CHECKING:
    from sfsync.domain.ports import RunRecord
    from sfsync.services.accounts import AccountOverview


def overview_dict(overview: AccountOverview) -> dict[str, Any]:
    """The overview as JSON-ready values; the text form is printed from the same dict."""
    settings = attrs.asdict(overview.settings, recurse=False)  # enums are str enums
    del settings["account_id"]
    for name in ("export_at", "import_at"):
        settings[name] = settings[name].strftime("%H:%M")
    connection = None
    if overview.connection is not None:
        connection = {
            "instance_url": overview.connection.instance_url,
            "login_url": overview.connection.login_url,
            "token_issued_at": iso(overview.connection.issued_at),
            "needs_reauth": overview.connection.needs_reauth,
            "tokens_readable": overview.connection.tokens_readable,
        }
    vendor = overview.vendor_link
    marks, cursor = overview.marks, overview.cursor
    return {
        "account_id": overview.settings.account_id,
        "mode": "direct" if overview.settings.direct_api else "vendor",
        "settings": settings,
        "connection": connection,
        "vendor_link": None
        if vendor is None
        else {"linked_at": iso(vendor.linked_at), "token_readable": vendor.token_readable},
        "attributes": [mapping_dict(m) for m in overview.mappings],
        "import": {
            "cursor": None if cursor is None else f"{iso(cursor.modstamp)} {cursor.contact_id}",
            "settled_until": iso(marks.settled_until),
            "deletes_checked_until": iso(marks.deletes_checked_until),
            "reconciled_at": iso(marks.reconciled_at),
            "full_import_pending_since": iso(marks.full_started_at),
            "fields_read": None if marks.fields is None else list(marks.fields),
        },
        "runs": [_run(run) for run in overview.runs],
    }


def _run(run: RunRecord) -> dict[str, Any]:
    """A run by its codes and numbers; its errors' messages and record ids are left out."""
    codes: dict[str, int] = {}
    for error in run.errors:
        code = str(error.get("code") or "unknown")
        codes[code] = codes.get(code, 0) + 1
    return {
        "id": run.id,
        "scope": run.scope,
        "mode": run.mode or None,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "processed": run.processed,
        "expected": run.expected,
        "counts": _in_order(run.counts),
        "error_codes": codes,  # code -> errors kept with it (a run keeps the first 500)
    }


_COUNT_ORDER = {name: n for n, name in enumerate((*COUNT_KEYS, "skipped", "errors"))}


def _in_order(counts: Mapping[str, Any]) -> dict[str, Any]:
    """A run's counts in the report's order (Postgres' jsonb keeps its own), others last."""
    return dict(sorted(counts.items(), key=lambda kv: (_COUNT_ORDER.get(kv[0], 99), kv[0])))


def mapping_dict(mapping: AttributeMapping) -> dict[str, str]:
    return {"name": mapping.name, "field": mapping.field, "direction": mapping.direction}


_ARROWS = {"import": "<-", "export": "->", "two_way": "<->"}


def overview_text(shown: dict[str, Any]) -> str:
    lines = [f"account {shown['account_id']}", _mode_text(shown), "settings:"]
    lines += [f"  {name}: {_plain(value)}" for name, value in shown["settings"].items()]
    connection = shown["connection"]
    if connection is None and shown["mode"] == "vendor":
        lines.append("connection: none (vendor mode reads through the vendor link)")
    elif connection is None:
        lines.append("connection: none (connect it: sfsync connect)")
    else:
        lines.append("connection:")
        lines += [f"  {name}: {_plain(value)}" for name, value in connection.items()]
        if not connection["tokens_readable"]:
            lines.append(f"  ! {_UNREADABLE}")
        elif connection["needs_reauth"]:
            lines.append("  ! Salesforce refused the tokens: reconnect (sfsync connect)")
    lines.append("attributes:" if shown["attributes"] else "attributes: none")
    lines += [
        f"  {m['name']} {_ARROWS[m['direction']]} Contact.{m['field']}" for m in shown["attributes"]
    ]
    lines.append("import:")
    for name, value in shown["import"].items():
        text = ", ".join(value) if isinstance(value, list) else _plain(value)
        lines.append(f"  {name}: {text}")
    lines.append("runs (newest first):" if shown["runs"] else "runs: none")
    for run in shown["runs"]:
        lines += _run_text(run)
    return "\n".join(lines)


def _mode_text(shown: dict[str, Any]) -> str:
    """The mode, and for vendor mode the link: since when, never its token."""
    link = shown["vendor_link"]
    if shown["mode"] == "direct":
        return "mode: direct (the Salesforce API)" + ("" if link is None else _UNUSED_LINK)
    if link is None:
        return "mode: vendor, not linked (link it: sfsync connect ACCOUNT_ID --vendor)"
    text = f"mode: vendor, linked since {_plain(link['linked_at'])}"
    if not link["token_readable"]:
        text += f"\n  ! {_UNREADABLE_LINK}"
    return text


_UNUSED_LINK = "; a vendor link is stored but unused (sfsync disconnect forgets it)"
_UNREADABLE_LINK = (
    "no configured key opens the stored vendor token: add the key it was written with to"
    " SFSYNC_ENCRYPTION_KEYS, or link it again (sfsync connect ACCOUNT_ID --vendor)"
)

_UNREADABLE = (
    "no configured key opens the stored tokens: add the key they were written with to"
    " SFSYNC_ENCRYPTION_KEYS, or reconnect (sfsync connect)"
)


def _run_text(run: dict[str, Any]) -> list[str]:
    expected = "" if run["expected"] is None else f" of {run['expected']}"
    lines = [
        f"  {run['id']}  {run['scope']}  {_plain(run['mode'])}  {run['status']}",
        f"    started {_plain(run['started_at'])}  finished {_plain(run['finished_at'])}",
        f"    processed {run['processed']}{expected}",
    ]
    counts = ", ".join(_counted(run["counts"]))
    if counts:
        lines.append(f"    counts: {counts}")
    if run["error_codes"]:
        codes = ", ".join(f"{code} ({n})" for code, n in run["error_codes"].items())
        lines.append(f"    error codes: {codes}")
    return lines


def _counted(counts: dict[str, Any], prefix: str = "") -> list[str]:
    """`name n` for every count that is not zero; nested counts (skipped) as `skipped.reason`."""
    out: list[str] = []
    for name, value in counts.items():
        if isinstance(value, dict):
            out += _counted(value, f"{prefix}{name}.")
        elif value:
            out.append(f"{prefix}{name} {value}")
    return out


def _plain(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
