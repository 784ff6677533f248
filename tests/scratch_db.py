"""A migrated database of its own, for tests that look at every row of a table."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from sfsync.adapters.postgres.migrate import migrate


@contextmanager
def scratch_database(server_url: str, *, migrated: bool = True) -> Iterator[str]:
    """Create `sfsync_scratch_<random>` on the server of `server_url`; drop it afterwards."""
    name = f"sfsync_scratch_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
