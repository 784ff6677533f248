"""The push's page statements probe keys whatever the statistics say (real Postgres).

Right after an import the statistics of `candidates` and `push_state` describe tables a
fraction of their size (autovacuum lags a bulk write, or is off); left to itself the
planner then scans or sorts a whole table for every page or every row. Each statement is
explained, as the store runs it, on tables never analyzed and 3,000 rows big.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
import pytest

from sfsync.adapters.postgres import candidates, push_state
from sfsync.adapters.postgres.session import Session
from tests.scratch_db import scratch_database

pytestmark = pytest.mark.integration

ROWS = 3_000
ACCOUNT = "acc_plans"
# What would touch every row of a table for a page (or for each row of one).
WHOLE_TABLE = {"Seq Scan", "Hash Join", "Merge Join", "Sort", "Materialize", "Bitmap Heap Scan"}


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with scratch_database(database_url) as url, psycopg.connect(url) as conn:
        conn.execute("INSERT INTO accounts (id) VALUES (%s)", (ACCOUNT,))
        conn.execute(
            """INSERT INTO candidates (id, account_id, email, email_key, salesforce_id)
               SELECT 'cand_' || i, %s, i || '@example.com', i || '@example.com',
                      '003' || lpad(i::text, 15, '0')
               FROM generate_series(1, %s) i""",
            (ACCOUNT, ROWS),
        )
        conn.execute(
            """INSERT INTO push_state (candidate_id, account_id, contact_id, acknowledged_at,
                                       sending)
               SELECT id, account_id, salesforce_id, now(), '{}' FROM candidates""",
        )
        conn.commit()
        yield conn


def plan_nodes(conn: psycopg.Connection[Any], sql: str, params: Any) -> set[str]:
    session = Session()
    session.conn = conn
    with session.probing_keys():
        (plan,) = conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()
    conn.rollback()
    found: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        found.add(node["Node Type"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def page(count: int) -> str:
    now = datetime.now(UTC)
    rows = [
        {"candidate_id": f"cand_{i}", "contact_id": f"003{i:015d}", "acknowledged": {}, "at": now}
        for i in range(1, count + 1)
    ]
    return orjson.dumps(rows).decode()


def test_the_page_read_walks_an_index_and_probes_push_state(conn):
    params = {"account": ACCOUNT, "after": "", "limit": 1000, "config": "x"}
    nodes = plan_nodes(conn, candidates._FROM_SALESFORCE, params)
    assert "Index Scan" in nodes and "Nested Loop" in nodes
    assert not nodes & WHOLE_TABLE


@pytest.mark.parametrize("statement", ["_ACKNOWLEDGE", "_READ_BACK"])
def test_page_writes_probe_the_candidates_key(conn, statement):
    nodes = plan_nodes(conn, getattr(push_state, statement), (page(ROWS), ACCOUNT))
    assert not nodes & WHOLE_TABLE


def test_the_settle_probes_keys_and_updates_by_row_address(conn):
    contacts = [f"003{i:015d}" for i in range(1, ROWS + 1)]
    params = (datetime.now(UTC), contacts, [True] * ROWS, ACCOUNT)
    nodes = plan_nodes(conn, push_state._SETTLE, params)
    assert "Tid Scan" in nodes
    assert not nodes & WHOLE_TABLE
