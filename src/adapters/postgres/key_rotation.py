"""`sfsync rotate-keys`: re-encrypt every stored token with the first key, bound to its row:
the Salesforce connections' tokens, then the vendor links' account tokens.

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


@attrs.frozen
class _Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, token kind); a NULL column is skipped


TABLES = (
    _Table(
        "salesforce_connections",
        (("access_token_enc", "access"), ("refresh_token_enc", "refresh")),
    ),
    _Table("vendor_links", (("account_token_enc", "vendor"),)),
)


def rotate_tokens(pool: ConnectionPool, cipher: TokenCipher, batch: int = 200) -> RotationReport:
    reports = [_rotate_table(pool, cipher, table, batch) for table in TABLES]
    failed = dict.fromkeys(account for r in reports for account in r.failed)  # each once
    return RotationReport(
        sum(r.rotated for r in reports), sum(r.current for r in reports), tuple(failed)
    )


def _rotate_table(
    pool: ConnectionPool, cipher: TokenCipher, table: _Table, batch: int
) -> RotationReport:
    # Table and column names are this module's constants, never input.
    columns = [column for column, _ in table.columns]
    select = (
        f"SELECT account_id, {', '.join(columns)} FROM {table.name} WHERE account_id > %s"
        " ORDER BY account_id LIMIT %s FOR UPDATE"
    )
    update = (
        f"UPDATE {table.name} SET {', '.join(f'{c} = %s' for c in columns)} WHERE account_id = %s"
    )
    rotated, current, failed = 0, 0, []
    after = ""
    while True:
        with translated(), pool.connection() as conn, conn.transaction():
            rows = conn.execute(select, (after, batch)).fetchall()
            updates = []
            for account_id, *sealed in rows:
                try:
                    new = [
                        None
                        if old is None
                        else cipher.rotate(old, account_id=account_id, kind=kind)
                        for old, (_, kind) in zip(sealed, table.columns, strict=True)
                    ]
                except PermanentFailure:
                    failed.append(account_id)
                    continue
                if all(value is None for value in new):
                    current += 1
                    continue
                kept = [value or old for value, old in zip(new, sealed, strict=True)]
                updates.append((*kept, account_id))
            if updates:
                with conn.cursor() as cursor:
                    cursor.executemany(update, updates)
            rotated += len(updates)
        if len(rows) < batch:
            return RotationReport(rotated, current, tuple(failed))
        after = rows[-1][0]
