"""The Postgres unit of work: one pooled connection, one transaction, its stores."""

from __future__ import annotations

from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from sfsync.adapters.postgres.accounts import PsycopgAccounts
from sfsync.adapters.postgres.candidates import PsycopgCandidates
from sfsync.adapters.postgres.connections import PsycopgConnections
from sfsync.adapters.postgres.consent import PsycopgConsent
from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.failures import translated
from sfsync.adapters.postgres.messages import PsycopgProcessedMessages
from sfsync.adapters.postgres.push_failures import PsycopgPushFailures
from sfsync.adapters.postgres.push_state import PsycopgPushState
from sfsync.adapters.postgres.runs import PsycopgRuns
from sfsync.adapters.postgres.session import Session
from sfsync.adapters.postgres.signups import PsycopgSignups
from sfsync.adapters.postgres.vendor_links import PsycopgVendorLinks


class PsycopgUnitOfWork:
    """`with uow: ...; uow.commit()`; leaving the block without commit rolls back."""

    def __init__(self, pool: ConnectionPool, cipher: TokenCipher) -> None:
        self._pool = pool
        self._session = Session()
        self.candidates = PsycopgCandidates(self._session)
        self.accounts = PsycopgAccounts(self._session)
        self.connections = PsycopgConnections(self._session, cipher)
        self.vendor_links = PsycopgVendorLinks(self._session, cipher)
        self.runs = PsycopgRuns(self._session)
        self.messages = PsycopgProcessedMessages(self._session)
        # push storage
        self.push_state = PsycopgPushState(self._session)
        self.consent = PsycopgConsent(self._session)
        self.push_failures = PsycopgPushFailures(self._session)
        self.signups = PsycopgSignups(self._session)

    def __enter__(self) -> PsycopgUnitOfWork:
        if self._session.conn is not None:
            raise RuntimeError("the unit of work is already open")
        with translated():
            self._session.conn = self._pool.getconn()
        return self

    def __exit__(self, *exc: object) -> None:
        conn, self._session.conn = self._session.conn, None
        if conn is None:
            return
        try:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                with translated():
                    conn.rollback()
        finally:
            # A broken connection is discarded by the pool, not handed out again.
            self._pool.putconn(conn)
        if conn.closed:
            # Lost, most likely with its idle siblings (a server restart, a failover): test
            # them now, or each would cost a retry of its own on its first use.
            self._pool.check()

    def commit(self) -> None:
        with translated():
            self._session.connection().commit()

    def rollback(self) -> None:
        with translated():
            self._session.connection().rollback()
