"""`sfsync rotate-keys`: re-encrypt every stored token with the first key, bound to its row.

Rows are read in account-id order, a batch per transaction (`FOR UPDATE`, so a worker saving
fresh tokens for the same account waits instead of being overwritten). A row already under
the first key and bound is left alone, so a rerun after an interruption only does the rest.
A row no key opens is named and skipped; the others are still rotated.
"""

from __future__ import annotations

import attrs
from psycopg_pool import ConnectionPool

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.failures import translated
from sfsync.domain.errors import PermanentFailure


@attrs.frozen
class RotationReport:
    rotated: int = 0  # rows rewritten
    current: int = 0  # rows already under the first key and bound
    failed: tuple[str, ...] = ()  # accounts whose tokens no configured key opens


def rotate_tokens(pool: ConnectionPool, cipher: TokenCipher, batch: int = 200) -> RotationReport:
    rotated, current, failed = 0, 0, []
    after = ""
    while True:
        with translated(), pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT account_id, access_token_enc, refresh_token_enc"
                " FROM salesforce_connections WHERE account_id > %s"
                " ORDER BY account_id LIMIT %s FOR UPDATE",
                (after, batch),
            ).fetchall()
            updates = []
            for account_id, access, refresh in rows:
                try:
                    new_access = cipher.rotate(access, account_id=account_id, kind="access")
                    new_refresh = (
                        cipher.rotate(refresh, account_id=account_id, kind="refresh")
                        if refresh is not None
                        else None
                    )
                except PermanentFailure:
                    failed.append(account_id)
                    continue
                if new_access is None and new_refresh is None:
                    current += 1
                    continue
                updates.append((new_access or access, new_refresh or refresh, account_id))
            if updates:
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "UPDATE salesforce_connections SET access_token_enc = %s,"
                        " refresh_token_enc = %s WHERE account_id = %s",
                        updates,
                    )
            rotated += len(updates)
        if len(rows) < batch:
            return RotationReport(rotated, current, tuple(failed))
        after = rows[-1][0]
