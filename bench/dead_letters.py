"""Benchmark bad input (issue 9 items 1, 7, 8): decoding huge bodies, and 1,000 dead letters.

    .venv/bin/python bench/dead_letters.py [--count 1000] [--threads 2]

decode   the worker's encoder on huge and hostile bodies, in process (median of 5, ms)
worker   a fresh `sfsync worker` process (JSON logs, its own database and queue prefix);
         COUNT malformed bodies of every kind published at once with raw pika, then the
         seconds until every one is in dead_letters, and whether a valid message sent after
         them is handled (an unknown account: dead-lettered with its reason)
Writes bench/results/dead-letters-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pika
import psycopg
from cryptography.fernet import Fernet

from sfsync.adapters.postgres.createdb import ensure_database
from sfsync.adapters.postgres.migrate import migrate
from sfsync.adapters.rabbitmq.encoder import ContractEncoder

RESULTS = Path(__file__).parent / "results"
DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/sfsync_bench"
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
REQUEST = '{"type":"sync.requested","version":1,"id":"%s","account_id":"acc_bench"'


def huge_bodies() -> dict[str, bytes]:
    return {
        "10 MB field": (REQUEST % "h1" + ',"note":"' + "a" * 10_000_000 + '"}').encode(),
        "1 MB id": (REQUEST % ("1" * 1_000_000) + ',"scope":"import"}').encode(),
        "1 MB of \\u0000": (REQUEST % "h3" + ',"n":"' + "\\u0000" * 170_000 + '"}').encode(),
        "10,000 deep": b"[" * 10_000 + b"]" * 10_000,
        "1 MB array of 0": b"[" + b"0," * 500_000 + b"0]",
        "1 MB bad UTF-8": b'{"a":"' + b"\xff" * 1_000_000 + b'"}',
    }


def time_decodes(encoder: ContractEncoder) -> dict[str, float]:
    timings = {}
    for name, data in huge_bodies().items():
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            encoder.decode(data)
            runs.append((time.perf_counter() - start) * 1000)
        timings[name] = round(statistics.median(runs), 2)
    return timings


def malformed(count: int) -> list[bytes]:
    """COUNT distinct bad bodies: NUL (escaped and raw), NaN/Infinity/1e999, deep, bad
    UTF-8, non-object JSON, forged envelopes, invalid fields, random bytes."""
    rng = random.Random(9)
    kinds = [
        lambda n: (REQUEST % n + ',"a":"\\u0000"}').encode(),
        lambda n: (REQUEST % n).encode() + b',"a":"\x00"}',
        lambda n: (REQUEST % n + ',"a":NaN}').encode(),
        lambda n: (REQUEST % n + ',"a":-Infinity}').encode(),
        lambda n: (REQUEST % n + ',"a":1e999}').encode(),
        lambda n: (REQUEST % n + ',"a":' + "[" * 10_000 + "]" * 10_000 + "}").encode(),
        lambda n: (REQUEST % n).encode() + b',"a":"\xff\xfe"}',
        lambda n: json.dumps([n]).encode(),
        lambda n: json.dumps(n).encode(),
        lambda n: (REQUEST % n + ',"options":{"throws":"x"}}').encode(),
        lambda n: (REQUEST % n + ',"scope":"everything"}').encode(),
        lambda n: rng.randbytes(rng.randint(1, 300)),
    ]
    bodies = {}
    n = 0
    while len(bodies) < count:
        n += 1
        data = kinds[n % len(kinds)](f"dl-{n}")
        bodies[hashlib.sha256(data).digest()] = data
    return list(bodies.values())


def publish(queue: str, bodies: list[bytes]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for data in bodies:
            channel.basic_publish("", queue, data, pika.BasicProperties(delivery_mode=2))
    finally:
        connection.close()


def dead_letter_count(since: datetime) -> int:
    with psycopg.connect(DATABASE_URL) as conn:
        row = conn.execute("SELECT count(*) FROM dead_letters WHERE created_at >= %s", (since,))
        return row.fetchone()[0]  # type: ignore[index]


def wait_for(condition, timeout: float) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise RuntimeError("timed out")
        time.sleep(0.05)
    return time.monotonic() - start


def bench_worker(count: int, threads: int, logs: Path) -> dict[str, object]:
    prefix = f"benchdl{secrets.token_hex(3)}"
    queue = f"{prefix}.sfsync"
    env = os.environ | {
        "DATABASE_URL": DATABASE_URL,
        "AMQP_URL": AMQP_URL,
        "SFSYNC_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SFSYNC_QUEUE_PREFIX": prefix,
        "SFSYNC_WORKER_THREADS": str(threads),
        "SFSYNC_LOG_FORMAT": "json",
    }
    cmd = [sys.executable, "-m", "sfsync.entrypoints.cli", "worker"]
    with open(logs, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    try:
        wait_for(lambda: b"worker.started" in logs.read_bytes() or proc.poll() is not None, 60)
        bodies = malformed(count)
        since = datetime.now(UTC)
        start = time.monotonic()
        publish(queue, bodies)
        published = time.monotonic() - start
        recorded = published + wait_for(lambda: dead_letter_count(since) >= count, 600)
        after = REQUEST % "dl-valid" + ',"requested_at":"2026-11-27T18:00:00Z","scope":"import"}'
        publish(queue, [after.encode()])
        wait_for(lambda: dead_letter_count(since) > count, 60)
        return {
            "count": count,
            "threads": threads,
            "publish_s": round(published, 2),
            "all_recorded_s": round(recorded, 2),
            "per_message_ms": round(recorded / count * 1000, 2),
            "recorded": dead_letter_count(since),
            "worker_alive": proc.poll() is None,
            "log_bytes": logs.stat().st_size,
        }
    finally:
        proc.terminate()
        proc.wait(60)
        with pika.BlockingConnection(pika.URLParameters(AMQP_URL)) as connection:
            for suffix in ("", ".DQ", ".XQ"):
                connection.channel().queue_delete(f"{queue}{suffix}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    ensure_database(DATABASE_URL)
    migrate(DATABASE_URL)
    key = Fernet.generate_key().decode()
    decode = time_decodes(ContractEncoder("bench.sfsync", frozenset({"sync.requested"}), [key]))
    for name, ms in decode.items():
        print(f"decode {name:>16}: {ms:8.2f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        worker = bench_worker(args.count, args.threads, Path(tmp) / "worker.log")
    print("worker", json.dumps(worker))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"dead-letters-{stamp}.json"
    out.write_text(json.dumps({"decode_ms": decode, "worker": worker}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
