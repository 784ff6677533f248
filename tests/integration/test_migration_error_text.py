"""A failed migration says which one and why in codes, never the rows the server quoted."""

from __future__ import annotations

import psycopg
import pytest

from sfsync.adapters.postgres.migrate import Migration, _apply
from sfsync.domain.errors import PermanentFailure

pytestmark = pytest.mark.integration

DUPLICATES = """
CREATE TEMP TABLE people (email text);
INSERT INTO people VALUES ('ada.lovelace@example.com'), ('ada.lovelace@example.com');
CREATE UNIQUE INDEX ON people (email);
"""


def test_a_failed_migration_names_the_error_not_the_data(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        with pytest.raises(PermanentFailure) as err:
            _apply(conn, Migration("9999", "unique_people", DUPLICATES))
    assert err.value.code == "migration_failed"
    assert err.value.message == (
        "migration 9999_unique_people failed: UniqueViolation (SQLSTATE 23505)"
    )
