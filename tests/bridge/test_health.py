"""/health (always 200, ok/degraded, per-check detail, contributor hook) and /ready (503 while
Prometheus is unreachable)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bridge import __version__, health
from bridge.app import create_app
from bridge.config import AlertmanagerConfig, BridgeConfig, PrometheusConfig
from bridge.http import error_middleware
from bridge.keys import CONFIG_KEY, METRICS_KEY
from bridge.selfmetrics import BridgeMetrics
from bridge.upstream import alertmanager, prometheus
from tests.bridge import fakeprom
from tests.servers import free_port


@pytest.fixture
async def upstream(aiohttp_server):
    """One fake serving both Prometheus' /-/ready and Alertmanager's /-/healthy."""
    return await fakeprom.serve(aiohttp_server)


@pytest.fixture
def config(tmp_path):
    def make(prom_url: str, am_url: str) -> BridgeConfig:
        return BridgeConfig(prometheus=PrometheusConfig(url=prom_url, timeout=1),
                            alertmanager=AlertmanagerConfig(url=am_url, timeout=1),
                            data_dir=str(tmp_path))
    return make


def health_only(config: BridgeConfig) -> web.Application:
    """Just the upstream clients and health: no other feature's checks."""
    app = web.Application(middlewares=[error_middleware])
    app[CONFIG_KEY], app[METRICS_KEY] = config, BridgeMetrics()
    prometheus.setup(app)
    alertmanager.setup(app)
    health.setup(app)
    return app


async def test_all_up_is_ok(aiohttp_client, upstream, config):
    client = await aiohttp_client(health_only(config(upstream.url, upstream.url)))
    resp = await client.get("/health")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok" and body["version"] == __version__
    assert set(body["checks"]) == {"prometheus", "alertmanager"}
    assert body["checks"]["prometheus"]["ok"] is True
    assert body["checks"]["prometheus"]["latency"] >= 0
    assert body["checks"]["alertmanager"]["ok"] is True
    resp = await client.get("/ready")
    assert resp.status == 200 and (await resp.json())["ready"] is True


async def test_full_app_status_follows_its_checks(aiohttp_client, upstream, config):
    client = await aiohttp_client(create_app(config(upstream.url, upstream.url)))
    body = await (await client.get("/health")).json()
    assert body["checks"]["prometheus"]["ok"] is True
    failing = [name for name, check in body["checks"].items() if check.get("ok") is False]
    assert body["status"] == ("degraded" if failing else "ok")


async def test_alertmanager_down_is_degraded_but_ready(aiohttp_client, upstream, config):
    client = await aiohttp_client(health_only(config(upstream.url,
                                                     f"http://127.0.0.1:{free_port()}")))
    body = await (await client.get("/health")).json()
    assert body["status"] == "degraded" and body["checks"]["alertmanager"]["ok"] is False
    assert body["checks"]["alertmanager"]["error"]
    assert (await client.get("/ready")).status == 200


async def test_prometheus_down_is_degraded_and_not_ready(aiohttp_client, upstream, config):
    client = await aiohttp_client(create_app(config(f"http://127.0.0.1:{free_port()}",
                                                    upstream.url)))
    resp = await client.get("/health")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "degraded"
    assert body["checks"]["prometheus"] == {"ok": False, "latency": None,
                                            "error": body["checks"]["prometheus"]["error"],
                                            "last_success": None}
    assert "unreachable" in body["checks"]["prometheus"]["error"]
    resp = await client.get("/ready")
    body = await resp.json()
    assert resp.status == 503 and body["error"] == "unavailable"
    assert body["detail"].startswith("not ready: Prometheus at")


async def test_prometheus_not_ready_is_not_ready(aiohttp_client, upstream, config):
    upstream.ready_status = 503
    client = await aiohttp_client(create_app(config(upstream.url, upstream.url)))
    assert (await client.get("/ready")).status == 503


async def test_probes_are_shared_for_a_second(aiohttp_client, upstream, config):
    hits = []
    app = create_app(config(upstream.url, upstream.url))

    async def counted():
        hits.append(1)
        return {"ok": True}
    health.add_health_check(app, "counted", counted)
    client = await aiohttp_client(app)
    for _ in range(5):
        await client.get("/health")
    assert len(hits) == 1


async def test_contributed_checks_appear_and_can_degrade(aiohttp_client, upstream, config):
    app = create_app(config(upstream.url, upstream.url))

    async def alerts_store():
        return {"ok": False, "error": "reconciliation failed", "last_reconcile": 12.0}

    async def broken():
        raise RuntimeError("bug in a check")
    health.add_health_check(app, "alerts", alerts_store)
    health.add_health_check(app, "broken", broken)
    client = await aiohttp_client(app)
    resp = await client.get("/health")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "degraded"
    assert body["checks"]["alerts"]["error"] == "reconciliation failed"
    assert body["checks"]["broken"] == {"ok": False, "error": "RuntimeError: bug in a check"}


async def test_unconfigured_alertmanager_is_not_a_failure(aiohttp_client, upstream, config):
    client = await aiohttp_client(health_only(config(upstream.url, "")))
    body = await (await client.get("/health")).json()
    assert body["status"] == "ok" and body["checks"]["alertmanager"]["ok"] is None


@pytest.fixture
async def silent_upstream():
    """A TCP server that accepts connections, reads, and never answers: a hung Prometheus or
    Alertmanager (a real one will not do this on demand)."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_ready_does_not_wait_out_the_query_timeout(aiohttp_client, silent_upstream,
                                                         tmp_path):
    """Prometheus accepts and never answers, queries may take 30 s: /ready still says 503 with
    the JSON error at once (the 5 s bound is a hang guard, not a performance claim)."""
    config = BridgeConfig(prometheus=PrometheusConfig(url=silent_upstream, timeout=30),
                          alertmanager=AlertmanagerConfig(url=silent_upstream, timeout=30),
                          data_dir=str(tmp_path))
    client = await aiohttp_client(health_only(config))
    resp = await asyncio.wait_for(client.get("/ready"), timeout=5)
    body = await resp.json()
    assert resp.status == 503 and body["error"] == "unavailable"
    assert body["detail"].startswith("not ready: ") and "did not answer" in body["detail"]
    resp = await asyncio.wait_for(client.get("/health"), timeout=5)
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "degraded"
    assert body["checks"]["prometheus"]["ok"] is False
    am = body["checks"]["alertmanager"]
    assert {k: am[k] for k in ("ok", "latency", "error")} == {
        "ok": False, "latency": None, "error": "Alertmanager did not answer within 0.9 s"}
    (peer,) = am["clusters"]["default"]["peers"]
    assert peer["url"] == silent_upstream and peer["ok"] is False and peer["active"] is True

