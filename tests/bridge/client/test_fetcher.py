"""MetricsFetcher: one request per interval at most, a cache, and stale-on-error.

The upstream here is a tiny aiohttp server started by the test, only to inject faults (5xx,
garbage, a dead port); the fetcher itself is sync, so it runs in a worker thread while the
server runs in the test's loop. The real-bridge case lives at the end.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bridge.client import FetchError, MetricsFetcher
from tests import servers


def snapshot(ts: float, value: float) -> dict[str, Any]:
    return {"timestamp": ts, "stale": False, "age": 0.0, "errors": {}, "warnings": [],
            "metrics": {"cpu": {"title": "CPU busy", "unit": "percent", "samples": [
                {"instance": "h:9100", "labels": {}, "value": value, "timestamp": ts}]}}}


class Upstream:
    """Answers /api/metrics/current as told: a snapshot, an error status, or garbage."""

    def __init__(self) -> None:
        self.requests = 0
        self.mode = "ok"
        self.value = 1.0
        self.auth: list[str | None] = []

    async def current(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.auth.append(request.headers.get("Authorization"))
        if self.mode == "500":
            return web.json_response({"error": "internal", "detail": "boom"}, status=500)
        if self.mode == "503":
            return web.json_response({"error": "unavailable", "detail": "no data yet"},
                                     status=503)
        if self.mode == "garbage":
            return web.Response(text="<html>proxy error</html>")
        if self.mode == "wrong-shape":
            return web.json_response([1, 2, 3])
        return web.json_response(snapshot(1000.0 + self.requests, self.value))


@pytest.fixture
async def upstream(aiohttp_server: Any) -> tuple[Upstream, str]:
    up = Upstream()
    app = web.Application()
    app.router.add_get("/api/metrics/current", up.current)
    server = await aiohttp_server(app)
    return up, str(server.make_url("/")).rstrip("/")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_at_most_one_request_per_interval(upstream: tuple[Upstream, str]) -> None:
    up, url = upstream
    clock = Clock()
    fetcher = MetricsFetcher(url, min_interval=5.0, clock=clock, token="tok")
    first = await asyncio.to_thread(fetcher.fetch_and_cache_metrics)
    for step in (0.0, 1.0, 4.9):
        clock.now = 100.0 + step
        again = await asyncio.to_thread(fetcher.fetch_and_cache_metrics)
        assert again == first
    assert up.requests == fetcher.requests == 1
    clock.now = 105.0
    fresh = await asyncio.to_thread(fetcher.fetch_and_cache_metrics)
    assert up.requests == 2 and fresh["timestamp"] > first["timestamp"]
    assert up.auth == ["Bearer tok", "Bearer tok"]
    assert fetcher.value("cpu", "h:9100") == 1.0
    assert fetcher.value("cpu", "elsewhere") is None
    assert len(fetcher.buffer.points("cpu", "h:9100")) == 2


async def test_a_returned_snapshot_is_a_copy(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    fetcher = MetricsFetcher(url, min_interval=60)
    snap = await asyncio.to_thread(fetcher.fetch_and_cache_metrics)
    snap["metrics"].clear()
    assert fetcher.samples("cpu")


@pytest.mark.parametrize("fault", ["500", "503", "garbage", "wrong-shape"])
async def test_errors_serve_the_last_snapshot_marked_stale(
        upstream: tuple[Upstream, str], fault: str) -> None:
    up, url = upstream
    clock = Clock()
    wall = Clock()
    wall.now = 1001.0
    fetcher = MetricsFetcher(url, min_interval=1.0, clock=clock, wall_clock=wall)
    good = await asyncio.to_thread(fetcher.fetch_and_cache_metrics)
    assert good["stale"] is False and not fetcher.stale
    up.mode = fault
    clock.now += 1.0
    wall.now += 30.0
    stale = await asyncio.to_thread(fetcher.fetch_and_cache_metrics)
    assert up.requests == 2
    assert stale["stale"] is True and fetcher.stale
    assert stale["age"] == pytest.approx(30.0)
    assert stale["metrics"] == good["metrics"]
    assert fault in stale["error"] or "JSON" in stale["error"] or "Snapshot" in stale["error"]
    # Recovery: the next interval brings fresh values and clears the error.
    up.mode, up.value = "ok", 7.0
    clock.now += 1.0
    fresh = await asyncio.to_thread(fetcher.fetch_and_cache_metrics)
    assert fresh["stale"] is False and "error" not in fresh
    assert fetcher.value("cpu") == 7.0


async def test_no_snapshot_ever_raises_with_the_reason(upstream: tuple[Upstream, str]) -> None:
    up, url = upstream
    up.mode = "503"
    clock = Clock()
    fetcher = MetricsFetcher(url, min_interval=10.0, clock=clock)
    with pytest.raises(FetchError, match="503 no data yet"):
        await asyncio.to_thread(fetcher.fetch_and_cache_metrics)
    # Failed requests count against the interval too: no hammering a sick bridge.
    with pytest.raises(FetchError):
        await asyncio.to_thread(fetcher.fetch_and_cache_metrics)
    assert up.requests == 1


def test_nothing_listening_raises_cannot_reach() -> None:
    port = servers.free_port()
    fetcher = MetricsFetcher(f"http://127.0.0.1:{port}", timeout=2.0)
    with pytest.raises(FetchError, match="cannot reach"):
        fetcher.fetch_and_cache_metrics()


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        MetricsFetcher("http://x", min_interval=-1)
    with pytest.raises(ValueError):
        MetricsFetcher("ftp://x")


def test_sync_fetcher_against_a_real_bridge(node_stack: Any, tmp_path: Path) -> None:
    bridge = servers.bridge(tmp_path / "bridge", node_stack.prometheus.url)
    bridge.start()
    try:
        fetcher = MetricsFetcher(bridge.url, min_interval=0.0)
        snap = servers.wait_for(lambda: fetcher.samples("cpu") and
                                fetcher.fetch_and_cache_metrics(), timeout=30,
                                message="a snapshot with cpu samples")
        assert {"cpu", "memory", "disk", "network"} <= set(snap["metrics"])
        instance = node_stack.exporter_target
        assert fetcher.value("memory", instance) is not None
        json.dumps(snap)
    finally:
        bridge.stop()
