"""How `push-failures` and `consent` print: JSON-ready dicts, and their text form.

Ids, codes, field names, counts and times only; Salesforce's message of a failure (it may
quote record values) only when asked for.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sfsync.entrypoints.terminal import iso, visible

if TYPE_CHECKING:
    from sfsync.domain.ports import PushFailure
    from sfsync.services.push_records import ConsentHistory


def failure_dict(failure: PushFailure, *, message: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "candidate_id": failure.candidate_id,
        "contact_id": failure.contact_id,
        "code": failure.code,
        "fields": list(failure.fields),
        "attempts": failure.attempts,
        "retryable": failure.retryable,
        "first_seen": iso(failure.first_seen),
        "last_seen": iso(failure.last_seen),
    }
    if message:
        shown["message"] = failure.message
    return shown


_COLUMNS = ("candidate", "contact", "code", "fields", "attempts", "state", "last seen")


def failures_text(
    account_id: str, shown: list[dict[str, Any]], *, more: bool, given_up: bool
) -> str:
    kind = "given-up push failures" if given_up else "push failures"
    if not shown:
        return f"account {visible(account_id)} has no {kind} kept"
    rows = [
        (
            f["candidate_id"],
            f["contact_id"],
            f["code"],
            ",".join(f["fields"]) or "-",
            str(f["attempts"]),
            "retryable" if f["retryable"] else "given up",
            f["last_seen"] or "-",
        )
        for f in shown
    ]
    header, *cells = [[visible(cell) for cell in row] for row in [_COLUMNS, *rows]]
    widths = [max(len(row[n]) for row in [header, *cells]) for n in range(len(_COLUMNS))]
    lines = [f"account {visible(account_id)}: {kind}, the last seen first"]
    lines.append(_aligned(header, widths))
    for row, failure in zip(cells, shown, strict=True):
        lines.append(_aligned(row, widths))
        if "message" in failure:
            quoted = json.dumps(failure["message"], ensure_ascii=False)
            lines.append(f"  message: {visible(quoted)}")
    if more:
        lines.append("(more are kept: raise --limit to see them)")
    return "\n".join(lines)


def _aligned(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def consent_dict(history: ConsentHistory) -> dict[str, Any]:
    return {
        "candidate_id": history.candidate_id,
        "account_id": history.account_id,
        "contact_id": history.contact_id,
        "unsubscribed": history.unsubscribed,
        "changes": [
            {"at": iso(c.at), "unsubscribed": c.unsubscribed, "source": c.source.value}
            for c in history.changes
        ],
    }


def consent_text(shown: dict[str, Any]) -> str:
    lines = [
        f"candidate {shown['candidate_id']}",
        f"  account: {shown['account_id']}",
        f"  contact: {shown['contact_id'] or '-'}",
        f"  unsubscribed: {'yes' if shown['unsubscribed'] else 'no'}",
        "consent changes (oldest first):" if shown["changes"] else "consent changes: none",
    ]
    for change in shown["changes"]:
        state = "unsubscribed" if change["unsubscribed"] else "subscribed"
        lines.append(f"  {change['at']}  {state:<12}  source {change['source']}")
    return "\n".join(visible(line) for line in lines)
