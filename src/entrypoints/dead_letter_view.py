"""How dead letters are shown: bodies with personal data masked, lists and counts as text.

A dead letter's body is whatever another service sent, so it may hold personal data in any
field. The masking rule keeps what identifies and routes a message and masks the rest:

* kept: the value of a known routing field (`type`, `version`, `id`, `account_id`,
  `candidate_id`, `study_id`, timestamps, `scope`, `trigger`, flags, envelope fields) when
  it is a number, true/false, null, a plain id or an ISO timestamp;
* an email anywhere: `a***@e***.com` (first letters and the top-level domain);
* any other string (names, free text, an email-looking id): `[masked]`;
* objects and arrays: their keys kept, their values masked by the same rule (an array's
  items as values of its field).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sfsync.domain.messages import is_identifier
from sfsync.entrypoints.terminal import iso, visible

MASK = "[masked]"
ROUTING_FIELDS = frozenset(
    {
        "type",
        "version",
        "id",
        "account_id",
        "candidate_id",
        "study_id",
        "requested_at",
        "occurred_at",
        "scope",
        "trigger",
        "full_resync",
        "replay",
        # a Dramatiq envelope refused at the door
        "queue_name",
        "actor_name",
        "message_id",
        "message_timestamp",
        "retries",
    }
)
_EMAIL = re.compile(r"([^@\s]+)@([^@\s.]+)((?:\.[^@\s.]+)*)")


def mask_email(text: str) -> str | None:
    """`ada@example.com` -> `a***@e***.com`; None when `text` is not an email."""
    match = _EMAIL.fullmatch(text.strip())
    if match is None:
        return None
    local, domain, rest = match.groups()
    tld = rest.rsplit(".", 1)[-1] if rest else ""
    return f"{local[0]}***@{domain[0]}***" + (f".{tld}" if tld else "")


def _timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def masked(value: Any, key: str | None = None) -> Any:
    """`value` with personal data masked (the module's rule); `key` is the field it is in."""
    if isinstance(value, dict):
        return {k: masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if not isinstance(value, str):
        return value if key in ROUTING_FIELDS or value is None or isinstance(value, bool) else MASK
    if key in ROUTING_FIELDS and (is_identifier(value) or _timestamp(value)):
        return value
    return mask_email(value) or MASK


def row_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A listed dead letter as JSON-ready values (no body)."""
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in row.items()}


def rows_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no dead letters match"
    lines = []
    for row in rows:
        replayed = f"replayed {iso(row['replayed_at'])}" if row["replayed_at"] else "not replayed"
        lines.append(
            f"{row['id']}  {iso(row['created_at'])}  {row['message_type']}"
            f"  account={row['account_id'] or '-'}  {replayed}  {row['reason']}"
            + (f"  ({row['replay_note']})" if row["replay_note"] else "")
        )
    return visible("\n".join(lines), keep_newlines=True)


def summary_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no dead letters"
    width = max(len(r["reason_code"]) for r in rows)
    lines = []
    for r in rows:
        code, total, waiting = r["reason_code"], r["total"], r["not_replayed"]
        line = f"{code:<{width}}  {total:>6} in all  {waiting:>6} not replayed"
        if r["not_replayed"]:
            line += f" (oldest {iso(r['oldest_not_replayed'])})"
        lines.append(line)
    return visible("\n".join(lines), keep_newlines=True)


def health_line(rows: list[dict[str, Any]]) -> str:
    """`sfsync health`'s line: what waits for an operator, by reason."""
    waiting = [r for r in rows if r["not_replayed"]]
    if not waiting:
        return "dead letters: none waiting"
    total = sum(r["not_replayed"] for r in waiting)
    parts = ", ".join(f"{r['reason_code']} {r['not_replayed']}" for r in waiting)
    return visible(f"dead letters: {total} not replayed ({parts}): sfsync dead-letters summary")
