"""What the PostgreSQL store shows of its URL, and how driver failures become 503s."""

from __future__ import annotations

import pytest

from bridge.alerts.pg.connect import KEEPALIVES, connect, create_pool, redact, unavailable
from bridge.config import AlertsConfig
from bridge.errors import StorageUnavailable


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://promwire:s3cret@db:5432/alerts", "postgresql://promwire@db:5432/alerts"),
    ("postgresql://promwire@db/alerts", "postgresql://promwire@db/alerts"),
    ("postgres://:s3cret@db/alerts", "postgres://db/alerts"),
    ("postgresql://u:p%40ss%3As3cret@[::1]:5432/a?sslmode=require&password=s3cret",
     "postgresql://u@[::1]:5432/a?sslmode=require"),
    ("postgresql:///alerts?host=/run/postgresql", "postgresql:///alerts?host=/run/postgresql"),
    ("postgresql://db?password=s3cret", "postgresql://db"),
])
def test_redact_drops_every_password(url, shown):
    assert redact(url) == shown
    assert "s3cret" not in redact(url)


def test_driver_failures_are_storage_unavailable_with_a_short_detail():
    refused = unavailable(ConnectionRefusedError(111, "Connect call failed"))
    assert isinstance(refused, StorageUnavailable) and refused.status == 503
    assert refused.detail.startswith("alert database cannot write: ")
    assert "alerts.database_timeout" in unavailable(TimeoutError(), "cannot be read").detail


async def test_every_session_of_a_replica_is_probed_by_the_server(pg_url):
    """The leader's, the LISTEN and the pooled sessions: a dead host's locks end in seconds."""
    config = AlertsConfig(store="postgres", database_url=pg_url)
    expected = {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2",
                "tcp_keepalives_count": "3"}
    session = await connect(config, "leader")
    pool = await create_pool(config)
    try:
        assert {key: await session.fetchval(f"SHOW {key}") for key in KEEPALIVES} == expected
        async with pool.acquire() as pooled:
            assert {key: await pooled.fetchval(f"SHOW {key}") for key in KEEPALIVES} == expected
    finally:
        await session.close()
        await pool.close()
