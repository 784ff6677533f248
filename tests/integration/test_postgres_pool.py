"""The pool lends a working connection even after Postgres dropped an idle one, or all."""

from __future__ import annotations

import psycopg

from sfsync.adapters.postgres import pool as pool_module


def backend_pid(pool) -> int:
    with pool.connection() as conn:
        return conn.info.backend_pid


def test_a_connection_dropped_while_idle_is_replaced_before_it_is_lent(
    migrated_database_url, monkeypatch
):
    pool = pool_module.make_pool(migrated_database_url, min_size=1, max_size=1)
    try:
        first = backend_pid(pool)
        with psycopg.connect(migrated_database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        monkeypatch.setattr(pool_module, "CHECK_AFTER_IDLE", 0.0)  # it has sat idle "long"
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.info.backend_pid != first
    finally:
        pool.close()


def test_a_connection_used_moments_ago_is_lent_without_a_check(migrated_database_url, monkeypatch):
    pool = pool_module.make_pool(migrated_database_url, min_size=1, max_size=1)
    checks = []
    try:
        backend_pid(pool)
        monkeypatch.setattr(
            pool_module.ConnectionPool, "check_connection", staticmethod(checks.append)
        )
        backend_pid(pool)  # a round trip saved on every unit of work of an import
        assert checks == []
        monkeypatch.setattr(pool_module, "CHECK_AFTER_IDLE", 0.0)
        backend_pid(pool)
        assert len(checks) == 1
    finally:
        pool.close()


def test_after_a_unit_of_work_loses_its_connection_the_idle_ones_are_checked(
    migrated_database_url,
):
    """A server restart ends every session: one unit of work fails, not one per connection."""
    import pytest

    from sfsync.adapters.postgres.crypto import TokenCipher
    from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
    from sfsync.domain.errors import TransientFailure

    pool = pool_module.make_pool(migrated_database_url, min_size=3, max_size=3)
    cipher = TokenCipher([TokenCipher.generate_key()])
    try:
        with pool.connection() as a, pool.connection() as b, pool.connection() as c:
            pids = [conn.info.backend_pid for conn in (a, b, c)]  # used moments ago
        with psycopg.connect(migrated_database_url, autocommit=True) as admin:
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(TransientFailure), PsycopgUnitOfWork(pool, cipher) as uow:
            uow.runs.cursor("acc_1")
        for _ in range(3):  # each of the pool's connections, in turn
            with PsycopgUnitOfWork(pool, cipher) as uow:
                assert uow.runs.cursor("acc_1") is None
    finally:
        pool.close()
