"""Psycopg errors translated into sfsync's failure families.

Messages carry the constraint or error class name only: a psycopg message or detail can
quote the offending row, which may be personal data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pgerrors

from sfsync.domain.errors import (
    Conflict,
    DomainError,
    PermanentFailure,
    TransientFailure,
    UnknownAccount,
)

# Unique constraints, by what a reader of the error should be told.
_CONFLICTS = {
    "candidates_pkey": "a candidate with this id already exists",
    "candidates_account_email_key": "another candidate of this account has this email",
    "candidates_account_salesforce_id_key": (
        "another candidate of this account is linked to this Contact"
    ),
    "sync_runs_pkey": "a sync run with this id already exists",
    "sync_runs_account_request_key": "a sync run for this request already exists",
}


# Tables whose page writes take the account id from the candidate's row (a candidate the
# account does not hold leaves it NULL): a NULL account id there means "no such candidate".
_CANDIDATE_PAGES = frozenset({"push_state", "consent_changes", "push_failures"})


def translate(err: psycopg.Error) -> DomainError:
    """The sfsync failure a psycopg error stands for."""
    name = type(err).__name__
    if isinstance(err, pgerrors.NotNullViolation) and err.diag.table_name in _CANDIDATE_PAGES:
        if err.diag.column_name == "account_id":
            return PermanentFailure("candidate not found in this account", code="not_found")
    if isinstance(err, pgerrors.UniqueViolation):
        constraint = err.diag.constraint_name or "unknown"
        return Conflict(_CONFLICTS.get(constraint, f"unique constraint {constraint} violated"))
    if isinstance(err, pgerrors.ForeignKeyViolation):
        return UnknownAccount("the account is not registered (save its settings first)")
    if isinstance(err, psycopg.IntegrityError | psycopg.DataError):
        return PermanentFailure(f"the database refused the data ({name})", code="invalid_data")
    if isinstance(err, psycopg.OperationalError | psycopg.InterfaceError):
        # Connection loss, pool timeout, serialization failure, deadlock, statement timeout.
        return TransientFailure(f"database unavailable or busy ({name})", code="database_busy")
    if isinstance(err, pgerrors.UndefinedTable):
        return PermanentFailure("the database has no sfsync schema: run `sfsync migrate`")
    return PermanentFailure(f"database error ({name})", code="database_error")


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise psycopg errors as sfsync failures."""
    try:
        yield
    except psycopg.Error as err:
        raise translate(err) from err
