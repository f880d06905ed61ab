"""The alert tests' PostgreSQL: one server per session, one fresh database per test (or per
module, for a module whose tests share one stack of processes)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from tests import servers
from tests.bridge.alerts.amlive import AM_CONFIG, bridge_app
from tests.pg import PostgresServer, postgres
from tests.servers import Process

_names = itertools.count(1)
_made: list[str] = []  # the databases of tests that have ended, or of the running one


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with postgres() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """The URL (with its password) of a new, empty database on the session's server.

    The earlier tests' databases are dropped first (the server's shutdown would otherwise sync
    every database ever made): not at this test's teardown, which may come before its app's
    (fixtures end in reverse order, and `aiohttp_client` is often asked for first)."""
    while _made:
        pg_server.drop_database(_made.pop())
    _made.append(f"t{next(_names)}")
    return pg_server.create_database(_made[-1])


def _settings(backend: str, url: str = "") -> dict[str, Any]:
    """The `alerts` settings of `backend` (see `alert_store`); `url` is PostgreSQL's database."""
    if backend == "sqlite":
        return {"store": "sqlite"}
    return {"store": "postgres", "database_url": url, "leader_retry": 0.2, "poll_interval": 0.2}


@pytest.fixture(params=["sqlite", "postgres"])
def alert_store(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The `alerts` settings (AlertsConfig fields, or the YAML `alerts:` keys of a bridge process)
    of each backend: the embedded SQLite log in the data dir, or a fresh PostgreSQL database on
    the session's server with its polls and leader retry short (one replica leads at once).
    A test taking it runs once per backend; `tests.bridge.alerts.helpers.SQLITE_ONLY` narrows one
    whose subject is the SQLite file to that backend."""
    if request.param == "sqlite":
        return _settings("sqlite")
    return _settings("postgres", request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_alert_store(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """`alert_store` for a module-scoped stack: every test of the module runs on one backend,
    then all again on the other (pytest groups a module-scoped param's tests, in file order).
    The PostgreSQL database is the module's own, dropped when the module's stack has ended
    (this fixture's teardown comes after that of the fixtures taking it)."""
    if request.param == "sqlite":
        yield _settings("sqlite")
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"m{next(_names)}"
    yield _settings("postgres", server.create_database(name))
    server.drop_database(name)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Process, Process]]:
    """A real Alertmanager HA pair gossiping on loopback, once per module (amlive)."""
    with servers.alertmanager_pair(tmp_path_factory.mktemp("pair"), AM_CONFIG) as procs:
        yield procs


@pytest.fixture
async def bridge(aiohttp_client: Any, tmp_path: Any, pair: tuple[Process, Process],
                 alert_store: dict[str, Any]) -> Any:
    """The whole app in-process on the pair's cluster `ha` (amlive.bridge_app)."""
    return await aiohttp_client(bridge_app(tmp_path, (pair[0].url, pair[1].url), alert_store))
