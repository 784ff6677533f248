"""A thousand malformed bodies: every one is recorded in dead_letters once, with its reason."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterator

import pytest

from sfsync.adapters.rabbitmq.encoder import MAX_BODY_BYTES
from tests.e2e.conftest import send_raw
from tests.e2e.test_forged_envelopes import alive_worker_threads, still_works

pytestmark = pytest.mark.integration

COUNT = 1000


def malformed(account: str, seed: int = 9) -> Iterator[tuple[bytes, str]]:
    """(body, a part of the reason it must be dead-lettered with), all bodies distinct."""
    rng = random.Random(seed)
    n = 0
    while True:
        n += 1
        tag = f"fz-{account}-{n}"
        ok = f'{{"type":"sync.requested","version":1,"id":"{tag}","account_id":"{account}"'
        kind = n % 16
        if kind == 0:
            yield (ok + ',"note":"a\\u0000b"}').encode(), "NUL character"
        elif kind == 1:
            yield (ok + ',"note":"a').encode() + b"\x00" + b'b"}', "raw NUL byte"
        elif kind == 2:
            word = rng.choice(["NaN", "Infinity", "-Infinity"])
            yield f'{ok},"n":{word}}}'.encode(), "NaN, Infinity and -Infinity are not JSON"
        elif kind == 3:
            yield f'{ok},"n":{rng.choice(["1e999", "-1e999", "2e400"])}}}'.encode(), "too large"
        elif kind == 4:
            deep = "[" * 10_000 + "]" * 10_000
            yield f'{ok},"n":{deep}}}'.encode(), "nested more than"
        elif kind == 5:
            yield (ok + ',"note":"').encode() + bytes([0xFF, 0xC0, n % 256]) + b'"}', "UTF-8"
        elif kind == 6:
            yield json.dumps([tag, n]).encode(), "body is a JSON array, not an object"
        elif kind == 7:
            yield str(n).encode(), "body is a JSON number, not an object"
        elif kind == 8:
            yield json.dumps(tag).encode(), "body is a JSON string, not an object"
        elif kind == 9:
            yield b"null" + b" " * n, "body is JSON null, not an object"
        elif kind == 10 and n % 160 == 10:  # a few: each is over a megabyte
            yield (ok + ',"note":"' + "x" * MAX_BODY_BYTES + '"}').encode(), "the contract allows"
        elif kind == 11:
            yield (ok + ',"options":{"throws":"x"}}').encode(), "dramatiq envelope"
        elif kind == 12:
            yield (ok + ',"scope":"everything"}').encode(), "scope"
        elif kind == 13:
            yield (ok + f',"note":"\\ud8{n % 10}0"}}').encode(), "lone surrogate"
        else:
            yield rng.randbytes(rng.randint(1, 300)), "invalid_message: body"


@pytest.mark.timeout(240)
def test_every_malformed_body_is_recorded_once_with_its_reason(harness, wait_for):
    cases: dict[str, tuple[bytes, str]] = {}
    for data, reason in malformed(harness.account):
        cases.setdefault(hashlib.sha256(data).hexdigest(), (data, reason))
        if len(cases) == COUNT:
            break
    send_raw(harness.container.settings.amqp_url, harness.queue, *[d for d, _ in cases.values()])

    def recorded() -> list[tuple[str, str, str]]:
        with harness.container.pool.connection() as conn:
            return conn.execute(
                "SELECT raw_sha256, message_id, reason FROM dead_letters"
                " WHERE raw_sha256 = ANY(%s) OR message_id LIKE %s",
                (list(cases), f"fz-{harness.account}-%"),
            ).fetchall()

    wait_for(lambda: len(recorded()) >= COUNT, timeout=120)
    still_works(harness)
    rows = recorded()
    by_sha = {sha: reason for sha, _, reason in rows if sha}
    by_id = {message_id: reason for sha, message_id, reason in rows if not sha}
    assert len(rows) == COUNT
    assert Counter(sha or message_id for sha, message_id, _ in rows).most_common(1)[0][1] == 1
    for sha, (data, reason) in cases.items():
        tag = json.loads(data)["id"] if reason == "scope" else None
        assert reason in (by_id[tag] if tag else by_sha[sha]), (data[:80], reason)
    assert alive_worker_threads() == harness.container.settings.worker_threads
