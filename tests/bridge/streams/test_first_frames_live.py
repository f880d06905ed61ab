"""The first frames of a metric stream against real processes: a bridge process on a real
Prometheus (up, down from the start, and started after the bridge as `make run` does).

`servers.bridge(...).start()` waits on the bridge's `/health`, which probes Prometheus'
`/-/ready`: with Prometheus not running yet that probe fails, exactly as in `make run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import servers
from tests.bridge.streams.test_sse import events
from tests.conftest import NodeStack

pytestmark = pytest.mark.integration
TOKEN = "first-frames"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STREAMS = {"interval": 1.0, "heartbeat": 30.0}


def start_bridge(workdir: Path, prom_url: str) -> servers.Process:
    return servers.bridge(workdir, prom_url, token=TOKEN, alertmanager_url="",
                          config={"streams": STREAMS}).start()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        yield http


async def sse_names(http: aiohttp.ClientSession, url: str, count: int
                    ) -> list[tuple[str, dict[str, Any]]]:
    async with http.get(url + "/api/sse/metrics?metrics=cpu",
                        timeout=aiohttp.ClientTimeout(total=60)) as resp:
        assert resp.status == 200
        return await events(resp, count)


async def ws_frames(http: aiohttp.ClientSession, url: str, count: int) -> list[dict[str, Any]]:
    async with http.ws_connect(url.replace("http://", "ws://") + "/api/ws/ws") as ws:
        async with asyncio.timeout(60):
            return [await ws.receive_json() for _ in range(count)]


async def test_prometheus_down_from_the_start(session: aiohttp.ClientSession,
                                              tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{servers.free_port()}"
    bridge = await asyncio.to_thread(start_bridge, tmp_path / "bridge", dead)
    try:
        health = servers.http_json(bridge.url + "/health")[1]
        assert health["checks"]["prometheus"]["ok"] is False  # asked, failed: not a query
        (ack, _), (kind, status) = await sse_names(session, bridge.url, 2)
        assert (ack, kind) == ("subscribed", "status")
        assert status["prometheus"] == "down" and status["detail"]
        frames = await ws_frames(session, bridge.url, 1)
        assert frames[0]["type"] == "status" and frames[0]["prometheus"] == "down"
    finally:
        await asyncio.to_thread(bridge.stop)


async def test_prometheus_up(session: aiohttp.ClientSession, node_stack: NodeStack,
                             tmp_path: Path) -> None:
    bridge = await asyncio.to_thread(start_bridge, tmp_path / "bridge", node_stack.prometheus.url)
    try:
        got = await sse_names(session, bridge.url, 3)
        assert [name for name, _ in got] == ["subscribed", "metrics", "metrics"]
        assert got[1][1]["metrics"]["cpu"]["samples"]
        frames = await ws_frames(session, bridge.url, 2)
        assert [f["type"] for f in frames] == ["metrics", "metrics"]
    finally:
        await asyncio.to_thread(bridge.stop)


async def test_prometheus_started_after_the_bridge(session: aiohttp.ClientSession,
                                                   node_stack: NodeStack,
                                                   tmp_path: Path) -> None:
    """`make run`'s order: the bridge is up (its /health probe failed) before Prometheus
    starts. A client arriving once Prometheus is ready sees no `down` at all."""
    prom = servers.prometheus(tmp_path / "prometheus", [node_stack.exporter_target])
    bridge = await asyncio.to_thread(start_bridge, tmp_path / "bridge", prom.url)
    try:
        health = servers.http_json(bridge.url + "/health")[1]
        assert health["checks"]["prometheus"]["ok"] is False
        await asyncio.to_thread(prom.start, 60)
        await asyncio.to_thread(
            servers.wait_for, lambda: servers.prom_query(prom.url, 'up{job="node"} == 1'),
            60, 0.2, "the new Prometheus to scrape")
        got = await sse_names(session, bridge.url, 2)
        assert [name for name, _ in got] == ["subscribed", "metrics"]
        frames = await ws_frames(session, bridge.url, 1)
        assert frames[0]["type"] == "metrics"
    finally:
        await asyncio.to_thread(bridge.stop)
        await asyncio.to_thread(prom.stop)
