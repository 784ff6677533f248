"""Replaying dead letters: validated first, each message sent at most once, a fresh start.

A replay claims each row before it sends (`replayed_at` set where it is still NULL), so a
message is sent at most once however many operators replay at the same time; a claim whose
message was not sent is released. What is sent is the plain contract JSON, so the worker
gives it a fresh start: no retries counted, no options carried over from the dead message.
Bodies are checked with the worker's own decoder; output names ids and counts, never bodies.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, BinaryIO

import click

from sfsync.adapters.postgres.dead_letters import DeadLetterFilter, PsycopgDeadLetters
from sfsync.adapters.rabbitmq.requests import MessageSender
from sfsync.domain.errors import InvalidMessage
from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.codec import decode

BATCH = 100  # rows claimed and sent together by a filtered replay


def replay_one(container: Container, entry_id: int, body_file: BinaryIO | None) -> None:
    """Send one dead letter's message, or the corrected body in `body_file`, once."""
    store = container.dead_letters()
    row = store.get(entry_id)
    if row is None:
        raise click.ClickException(f"no dead letter {entry_id}")
    if row["replayed_at"] is not None:
        raise click.ClickException(f"dead letter {entry_id} was replayed already; nothing sent")
    note = None
    if body_file is not None:
        data = body_file.read()
        message = _corrected(data)
        note = (
            f"replaced by a corrected body: message {message['id']},"
            f" sha256 {hashlib.sha256(data).hexdigest()}"
        )
    else:
        message = _stored_request(entry_id, row)
    if not store.claim(entry_id, note):
        raise click.ClickException(f"dead letter {entry_id} was replayed already; nothing sent")
    try:
        container.send_request(message)
    except BaseException:  # Ctrl-C too: a claim never outlives a message not sent
        store.release([entry_id])
        raise
    fixed = " with a corrected body" if note else ""
    click.echo(f"replayed dead letter {entry_id}{fixed} (message {message['id']})")


def replay_many(container: Container, where: DeadLetterFilter) -> None:
    """Send every replayable, still valid message the filter picks, BATCH claims at a time."""
    store = container.dead_letters()
    sent: list[int] = []
    invalid: list[int] = []
    try:
        with container.request_sender() as sender:
            while rows := store.claim_batch(where, BATCH, invalid):
                _send_batch(store, sender, rows, sent, invalid)
    finally:  # what was done so far, also when a send failed
        _report(sent, invalid)


def _send_batch(
    store: PsycopgDeadLetters,
    sender: MessageSender,
    rows: list[dict[str, Any]],
    sent: list[int],
    invalid: list[int],
) -> None:
    """Send the claimed rows' messages; release every claim whose message was not sent
    (still invalid, or not reached because a send failed or the operator pressed Ctrl-C)."""
    done: set[int] = set()
    try:
        for row in rows:
            message = _valid_request(row["body"])
            if message is None:
                invalid.append(row["id"])
                continue
            sender.send(message)
            sent.append(row["id"])
            done.add(row["id"])
    finally:
        store.release([row["id"] for row in rows if row["id"] not in done])


def _report(sent: list[int], invalid: list[int]) -> None:
    click.echo(f"replayed {len(sent)} dead letter(s)" + (f": {_ids(sent)}" if sent else ""))
    if invalid:
        click.echo(
            f"{len(invalid)} still invalid, not sent: {_ids(invalid)}"
            " (correct each with `show ID --unmask`, then `replay ID --body FILE`)"
        )


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:50])) + (f" and {len(ids) - 50} more" if len(ids) > 50 else "")


def _stored_request(entry_id: int, row: dict[str, Any]) -> dict[str, Any]:
    if row["raw"] is not None:
        raise click.ClickException(
            f"dead letter {entry_id} is not JSON sfsync can store ({row['reason']});"
            " it cannot be replayed as it is: correct it and use --body FILE"
        )
    request = _request_in(row["body"])
    if not isinstance(request, dict):
        raise click.ClickException(
            f"dead letter {entry_id} is not a JSON object; it cannot be replayed as it is:"
            " correct it and use --body FILE"
        )
    try:
        decode(request)
    except InvalidMessage as err:
        raise click.ClickException(
            f"dead letter {entry_id} is still invalid ({err.message}): correct it"
            f" (sfsync dead-letters show {entry_id} --unmask) and use --body FILE"
        ) from None
    return _for_replay(request)


def _corrected(data: bytes) -> dict[str, Any]:
    """The corrected body of `--body FILE`, validated as the worker would."""
    try:
        return _replayable(json.loads(data))
    except (ValueError, InvalidMessage) as err:
        reason = err.message if isinstance(err, InvalidMessage) else "body is not valid JSON"
        raise click.ClickException(
            f"the corrected body is invalid ({reason}); nothing sent"
        ) from None


def _valid_request(body: object) -> dict[str, Any] | None:
    try:
        return _replayable(_request_in(body))
    except InvalidMessage:
        return None


def _replayable(request: object) -> dict[str, Any]:
    """`request` as it is replayed, once the worker's own decoder takes it."""
    if not isinstance(request, dict):
        raise InvalidMessage("body must be a JSON object")
    decode(request)
    return _for_replay(request)


def _for_replay(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("type") == "sync.requested":
        return {**request, "replay": True}  # a run that ended failed carries on
    return request


def _request_in(body: object) -> object:
    """The contract message a dead letter carries: the body itself, or, for a Dramatiq
    envelope refused at the door (a retry in flight across the upgrade that introduced
    signed envelopes), the request inside it."""
    if isinstance(body, dict) and "kwargs" in body and "options" in body:
        kwargs = body["kwargs"]
        if isinstance(kwargs, dict) and isinstance(kwargs.get("body"), dict):
            return kwargs["body"]
    return body
