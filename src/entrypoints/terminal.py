"""What every command's output shares: safe text for a terminal, ISO times, `--json`."""

from __future__ import annotations

import json
from datetime import datetime

import click

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every non-printable character (newlines too, unless kept) as a JSON
    escape: nothing in what Salesforce or the database holds can drive the terminal."""
    return "".join(
        c if c.isprintable() or (keep_newlines and c == "\n") else json.dumps(c)[1:-1] for c in text
    )


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
