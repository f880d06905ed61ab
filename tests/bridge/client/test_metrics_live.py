"""MetricsWebSocketClient against the real bridge process, with a real Prometheus scraping the
real exporter: restarts, a refused upgrade and a full bridge. (Fault injection a real bridge
cannot produce on demand is in client/test_metrics.py.)
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from bridge.client import CONNECTED, POLLING, MetricsWebSocketClient
from tests import servers
from tests.bridge.client.helpers import until

LIVE_CONFIG: dict[str, Any] = {"streams": {"interval": 1, "heartbeat": 2}}


def frames_of(seen: list[dict[str, Any]], sub_id: str) -> list[dict[str, Any]]:
    return [f for f in seen if f.get("type") == "metrics" and f.get("id") == sub_id]


@pytest.mark.integration
async def test_survives_a_bridge_restart_with_growing_backoff(node_stack: Any,
                                                              tmp_path: Path) -> None:
    port = servers.free_port()
    bridge = servers.bridge(tmp_path / "bridge", node_stack.prometheus.url, port=port,
                            config=LIVE_CONFIG)
    await asyncio.to_thread(bridge.start)
    base, cap = 0.1, 0.8
    client = MetricsWebSocketClient(bridge.url, typed=False, backoff_base=base, backoff_cap=cap,
                                    fallback_after=1000, heartbeat_timeout=10,
                                    rng=random.Random(3))
    seen: list[dict[str, Any]] = []
    client.set_callback(seen.append)
    try:
        async with client:
            sub = await client.subscribe(["cpu", "memory"])
            await until(lambda: frames_of(seen, sub))
            await asyncio.to_thread(bridge.stop)
            await until(lambda: sum(not a.ok for a in client.attempts) >= 6)
            assert client.stale and client.snapshot(sub)["stale"] is True
            before = len(client.attempts)
            restarted_at = len(seen)
            await asyncio.to_thread(bridge.start)
            # Data resumes on the re-sent subscription, over WebSocket, from the new process.
            await until(lambda: frames_of(seen[restarted_at:], sub))
            assert client.state == CONNECTED and client.transport == "ws"
    finally:
        await asyncio.to_thread(bridge.stop)
    attempts = list(client.attempts)
    outage = [a for a in attempts[1:before] if not a.ok]
    assert len(outage) >= 6 and all(a.transport == "ws" for a in outage)
    # The wait before each failed attempt was drawn below a ceiling that doubled up to the cap.
    ceilings = [a.ceiling for a in outage]
    assert ceilings[:5] == [min(cap, base * 2 ** k) for k in range(5)]
    assert all(0 <= a.delay <= a.ceiling for a in outage)
    assert [a.at for a in attempts] == sorted(a.at for a in attempts)
    assert attempts[-1].ok and attempts[-1].transport == "ws"
    new = frames_of(seen[restarted_at:], sub)[0]
    assert set(new["metrics"]) == {"cpu", "memory"}
    assert new["metrics"]["cpu"]["samples"][0]["instance"] == node_stack.exporter_target
    assert client.buffer.latest("cpu", node_stack.exporter_target) is not None


@pytest.mark.integration
async def test_foreign_origin_falls_back_to_polling_then_returns(node_stack: Any,
                                                                tmp_path: Path) -> None:
    """The bridge refuses WebSocket upgrades from a foreign Origin (403): the client polls
    REST instead; once the bridge is restarted with that origin allowed, it goes back."""
    origin = "http://dashboard.example"
    port = servers.free_port()
    strict = servers.bridge(tmp_path / "strict", node_stack.prometheus.url, port=port,
                            config=LIVE_CONFIG)
    await asyncio.to_thread(strict.start)
    client = MetricsWebSocketClient(strict.url, typed=False, origin=origin, poll_interval=1,
                                    probe_interval=1, backoff_base=0.1, backoff_cap=0.5)
    seen: list[dict[str, Any]] = []
    client.set_callback(seen.append)
    allowing = servers.bridge(tmp_path / "allowing", node_stack.prometheus.url, port=port,
                              config={**LIVE_CONFIG, "http": {"allowed_origins": [origin]}})
    try:
        async with client:
            await until(lambda: client.state == POLLING and frames_of(seen, "default"))
            refused = client.attempts[0]
            assert refused.transport == "ws" and "403" in refused.error
            polled = frames_of(seen, "default")[0]
            assert {"cpu", "memory", "disk", "network"} <= set(polled["metrics"])
            assert client.transport == "poll" and not client.stale
            await until(lambda: any(a.transport == "probe" for a in client.attempts))
            assert client.state == POLLING  # probes are refused too while nothing changed
            await asyncio.to_thread(strict.stop)
            await asyncio.to_thread(allowing.start)
            await until(lambda: client.state == CONNECTED and client.transport == "ws")
            resumed = len(seen)
            await until(lambda: frames_of(seen[resumed:], "default"))
    finally:
        await asyncio.to_thread(strict.stop)
        await asyncio.to_thread(allowing.stop)
    assert any(a.ok and a.transport in ("ws", "probe") for a in client.attempts)


@pytest.mark.integration
async def test_full_bridge_falls_back_and_reverts_without_restart(node_stack: Any,
                                                                  tmp_path: Path) -> None:
    """With `streams.max_connections: 1` taken by another consumer, the bridge accepts and
    closes (1013) each socket: the client polls; when the slot frees up it probes back."""
    import websockets

    bridge = servers.bridge(tmp_path / "bridge", node_stack.prometheus.url,
                            config={"streams": {"interval": 1, "max_connections": 1}})
    await asyncio.to_thread(bridge.start)
    ws_url = bridge.url.replace("http://", "ws://") + "/api/ws/ws"
    try:
        hog = await websockets.connect(ws_url)
        await hog.recv()
        client = MetricsWebSocketClient(bridge.url, typed=False, fallback_after=2, poll_interval=1,
                                        probe_interval=1, backoff_base=0.05, backoff_cap=0.2)
        async with client:
            await until(lambda: client.state == POLLING)
            assert [a.ok for a in client.attempts][:2] == [True, True]  # accepted, closed
            await until(lambda: client.snapshot() is not None)
            await hog.close()
            await until(lambda: client.state == CONNECTED and client.transport == "ws")
    finally:
        await asyncio.to_thread(bridge.stop)
    probes = [a for a in client.attempts if a.transport == "probe"]
    assert probes and probes[-1].ok
