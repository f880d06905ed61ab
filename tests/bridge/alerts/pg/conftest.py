"""Stores in this process sharing the test's PostgreSQL database, as replicas do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bridge.alerts.pg.store import PgAlertStore
from bridge.config import AlertsConfig


@pytest.fixture
async def fleet(pg_url: str) -> AsyncIterator[Callable[..., Awaitable[list[PgAlertStore]]]]:
    """A factory of opened replicas (r0, r1, ...) on one database, polls and leader retry short;
    every one is closed at the end. Each has its own pool, LISTEN session and leader session,
    as bridges on several machines do."""
    made: list[PgAlertStore] = []

    async def make(count: int = 1, **alerts: Any) -> list[PgAlertStore]:
        config = AlertsConfig(store="postgres", database_url=pg_url,
                              **{"leader_retry": 0.2, "poll_interval": 0.2, **alerts})
        stores = [PgAlertStore(config, f"r{len(made) + i}") for i in range(count)]
        made.extend(stores)
        await asyncio.gather(*(s.open() for s in stores))
        return stores
    yield make
    await asyncio.gather(*(s.close() for s in made))
