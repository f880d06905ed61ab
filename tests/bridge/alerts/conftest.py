"""The alert tests' PostgreSQL: one server per session, one fresh database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.pg import PostgresServer, postgres

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with postgres() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """The URL (with its password) of a new, empty database on the session's server."""
    return pg_server.create_database(f"t{next(_names)}")
