"""Metric streams end to end: a real bridge process, a real Prometheus scraping the real
exporter, clients from the `websockets` package.

Tests that count Prometheus' queries or stop Prometheus get their own Prometheus (scraping the
session's exporter) and their own bridge, so nothing else pollutes or breaks them.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests import servers
from tests.conftest import NodeStack

pytestmark = pytest.mark.integration
TOKEN = "streams-token"
STREAMS = {"interval": 1.0, "min_interval": 0.2, "stuck_timeout": 3.0, "heartbeat": 30.0,
           "max_subscriptions": 50}


def start_bridge(workdir: Path, prom_url: str) -> servers.Process:
    return servers.bridge(workdir, prom_url, token=TOKEN, alertmanager_url="",
                          config={"streams": STREAMS}).start()


@pytest.fixture(scope="module")
def bridge(node_stack: NodeStack, tmp_path_factory) -> Iterator[servers.Process]:
    proc = start_bridge(tmp_path_factory.mktemp("streams_bridge"), node_stack.prometheus.url)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def own_prometheus(node_stack: NodeStack, tmp_path: Path) -> Iterator[servers.Process]:
    """A Prometheus only this test's bridge talks to, scraping the session's exporter."""
    prom = servers.prometheus(tmp_path / "prometheus", [node_stack.exporter_target]).start()
    try:
        servers.wait_for(lambda: servers.prom_query(prom.url, 'up{job="node"} == 1'),
                         timeout=60, message="the dedicated Prometheus to scrape")
        yield prom
    finally:
        prom.stop()


def ws_url(proc: servers.Process, query: str = "") -> str:
    return proc.url.replace("http://", "ws://") + "/api/ws/ws" + query


def metric_value(url: str, pattern: str) -> float:
    _, body = servers.http_get(url + "/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if re.match(pattern, line))


def prom_query_count(prom: servers.Process) -> float:
    return metric_value(prom.url, r'prometheus_engine_query_duration_seconds_count\{'
                                  r'slice="inner_eval"\}')


async def recv_json(ws: ClientConnection, limit: float = 10.0) -> dict[str, Any]:
    """The next frame; `limit` bounds a hang, it asserts nothing about speed."""
    return json.loads(await asyncio.wait_for(ws.recv(), limit))


async def next_of(ws: ClientConnection, kind: str, sub_id: str | None = None,
                  limit: float = 30.0) -> dict[str, Any]:
    async with asyncio.timeout(limit):
        while True:
            frame = await recv_json(ws, limit)
            if frame["type"] == kind and (sub_id is None or frame.get("id") == sub_id):
                return frame


async def test_default_stream_delivers_host_metrics_within_one_interval(bridge) -> None:
    async with websockets.connect(ws_url(bridge)) as ws:
        # At once on connect, then once per interval (2x: a bound for a loaded CI machine).
        frames = [await recv_json(ws, STREAMS["interval"] * 2) for _ in range(3)]
    assert [(f["type"], f["id"]) for f in frames] == [("metrics", "default")] * 3
    assert frames[0]["timestamp"] < frames[1]["timestamp"] < frames[2]["timestamp"]
    for frame in frames[1:]:
        metrics = frame["metrics"]
        for name in ("cpu", "memory", "disk", "network"):
            assert metrics[name]["samples"], (name, frame)
            assert all(isinstance(s["value"], float | int) for s in metrics[name]["samples"])
        for name in ("cpu", "memory", "disk"):
            assert all(0 <= s["value"] <= 100 for s in metrics[name]["samples"]), name


async def test_two_subscriptions_on_one_socket_get_their_own_ids(bridge, node_stack) -> None:
    target = node_stack.exporter_target
    async with websockets.connect(ws_url(bridge)) as ws:
        await ws.send(json.dumps({"type": "subscribe", "id": "cpu-only", "metrics": ["cpu"]}))
        await ws.send(json.dumps({"type": "subscribe", "id": "mem", "metrics": ["memory"],
                                  "instances": [target], "interval": 2}))
        assert (await next_of(ws, "subscribed", "cpu-only"))["metrics"] == ["cpu"]
        ack = await next_of(ws, "subscribed", "mem")
        assert ack["instances"] == [target] and ack["interval"] == 2.0
        seen: dict[str, dict] = {}
        while len(seen) < 2:
            frame = await next_of(ws, "metrics")
            if frame["id"] != "default":
                seen[frame["id"]] = frame
    assert list(seen["cpu-only"]["metrics"]) == ["cpu"]
    assert list(seen["mem"]["metrics"]) == ["memory"]
    assert {s["instance"] for s in seen["mem"]["metrics"]["memory"]["samples"]} == {target}


async def test_malformed_frame_gets_an_error_and_the_socket_stays_open(bridge) -> None:
    async with websockets.connect(ws_url(bridge)) as ws:
        await ws.send("{this is not json")
        error = await next_of(ws, "error")
        assert error["error"] == "bad_request" and error["id"] is None
        await ws.send(json.dumps({"type": "subscribe", "id": "x", "interval": 0.01}))
        error = await next_of(ws, "error")
        assert error["id"] == "x" and "interval" in error["detail"]
        await ws.send(json.dumps({"type": "subscribe", "id": "ok", "metrics": ["load1"]}))
        assert (await next_of(ws, "metrics", "ok"))["metrics"]["load1"]["samples"]


async def test_sse_fallback_carries_the_same_frames(bridge) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(bridge.url.rsplit(":", 1)[1]))
    writer.write(b"GET /api/sse/metrics?metrics=cpu HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(30):
        while not (line := await reader.readline()).startswith(b"data: ") \
                or b'"type":"metrics"' not in line:
            pass
    writer.close()
    frame = json.loads(line[6:])
    assert frame["id"] == "default" and list(frame["metrics"]) == ["cpu"]


def snapshot_shape(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What must be equal between two Snapshots taken moments apart: keys, each metric's title
    and unit, and its series (instance + labels); values and times may differ."""
    assert all(set(s) == {"instance", "labels", "value", "timestamp"}
               for m in snapshot["metrics"].values() for s in m["samples"])
    assert all(isinstance(s["value"], float | int | str)
               for m in snapshot["metrics"].values() for s in m["samples"])
    return {"keys": sorted(snapshot), "errors": snapshot["errors"],
            "metrics": {name: (m["title"], m["unit"], sorted(
                (s["instance"], sorted(s["labels"].items())) for s in m["samples"]))
                for name, m in snapshot["metrics"].items()}}


async def sse_frame(proc: servers.Process, kind: str) -> dict[str, Any]:
    """The first `kind` event of the default SSE stream, as its JSON document."""
    reader, writer = await asyncio.open_connection("127.0.0.1", int(proc.url.rsplit(":", 1)[1]))
    writer.write(b"GET /api/sse/metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        async with asyncio.timeout(30):
            event = ""
            while True:
                line = (await reader.readline()).decode().rstrip("\r\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == kind:
                    return json.loads(line[6:])
    finally:
        writer.close()


async def test_rest_snapshot_and_stream_frames_are_one_shape(bridge) -> None:
    """GET /api/metrics/current, the WebSocket `metrics` frame and the SSE `metrics` event
    carry the same Snapshot; the frames only add `type` and `id`."""
    async with websockets.connect(ws_url(bridge)) as ws:
        ws_frame = await next_of(ws, "metrics")
        while not all(m["samples"] for m in ws_frame["metrics"].values()):
            ws_frame = await next_of(ws, "metrics")  # every rate() has its two points
    sse = await sse_frame(bridge, "metrics")
    rest = await asyncio.to_thread(servers.http_json, bridge.url + "/api/metrics/current")
    assert rest[0] == 200
    rest_body = rest[1]
    for frame in (ws_frame, sse):
        assert (frame.pop("type"), frame.pop("id")) == ("metrics", "default")
        assert snapshot_shape(frame) == snapshot_shape(rest_body)
        assert frame["stale"] is False and frame["errors"] == {} and frame["warnings"] == []


async def test_fifty_clients_cost_one_query_per_tick(own_prometheus, tmp_path) -> None:
    bridge = start_bridge(tmp_path / "bridge", own_prometheus.url)
    subscribe = {"type": "subscribe", "id": "s", "metrics": ["cpu", "memory"], "interval": 1}
    clients: list[ClientConnection] = []
    try:
        for _ in range(50):
            ws = await websockets.connect(ws_url(bridge))
            await ws.send(json.dumps(subscribe))
            clients.append(ws)
        for ws in clients:
            await next_of(ws, "subscribed", "s")
        first = clients[0]
        await next_of(first, "metrics", "s")
        await next_of(first, "metrics", "s")  # the default subscription's poller is gone
        ticks = 5
        before = prom_query_count(own_prometheus)  # right after a tick's frame arrived
        stamps = [(await next_of(first, "metrics", "s"))["timestamp"] for _ in range(ticks)]
        after = prom_query_count(own_prometheus)
        # One round of the subscription's 2 catalog queries per tick, not 50 of them.
        assert after - before == 2 * ticks, (before, after)
        for ws in clients[1:]:
            got: list[float] = []
            while len(got) < ticks or got[-1] < stamps[-1]:
                got.append((await next_of(ws, "metrics", "s"))["timestamp"])
            assert set(stamps) <= set(got)  # every client got the very same ticks
    finally:
        for ws in clients:
            await ws.close()
        bridge.stop()


async def test_a_client_that_never_reads_delays_nobody_and_is_closed(bridge) -> None:
    port = int(bridge.url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    stuck = await websockets.connect(ws_url(bridge), sock=sock, max_queue=1)
    for i in range(STREAMS["max_subscriptions"]):  # ~50 frames per tick, none ever read
        await stuck.send(json.dumps({"type": "subscribe", "id": f"s{i}", "interval": 0.2}))
    received: list[float] = []
    async with websockets.connect(ws_url(bridge)) as ws:
        await ws.send(json.dumps({"type": "subscribe", "id": "live", "metrics": ["cpu"],
                                  "interval": 0.2}))

        async def read() -> None:
            while True:
                frame = await recv_json(ws)
                if frame["type"] == "metrics":
                    received.append(frame["timestamp"])

        reader = asyncio.create_task(read())
        try:
            await until(lambda: metric_value(
                bridge.url, r"promwire_bridge_frames_dropped_total ") > 0)
            when_stuck = len(received)
            await until(lambda: metric_value(
                bridge.url, r"promwire_bridge_slow_consumers_closed_total ") >= 1)
            # stuck_timeout is 15 ticks of the live subscription: they kept coming.
            assert len(received) >= when_stuck + 3, (when_stuck, len(received))
        finally:
            reader.cancel()
    # Reading at last: what was buffered, then the bridge's close frame.
    with pytest.raises(websockets.ConnectionClosed) as info:
        async with asyncio.timeout(30):
            while True:
                await stuck.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008


async def until(predicate: Any, limit: float = 60.0) -> None:
    """Poll a (blocking) check of the bridge's state; `limit` only stops a hang."""
    async with asyncio.timeout(limit):
        while True:
            if await asyncio.to_thread(predicate):
                return
            await asyncio.sleep(0.1)


async def test_prometheus_down_then_back_on_the_same_socket(own_prometheus, node_stack,
                                                           tmp_path) -> None:
    bridge = start_bridge(tmp_path / "bridge", own_prometheus.url)
    port = int(own_prometheus.url.rsplit(":", 1)[1])
    restarted = servers.prometheus(own_prometheus.workdir, [node_stack.exporter_target],
                                   port=port)
    try:
        async with websockets.connect(ws_url(bridge)) as ws:
            await next_of(ws, "metrics")
            own_prometheus.stop()
            down = await next_of(ws, "status")
            assert down["prometheus"] == "down" and down["detail"]
            restarted.start()
            up = await next_of(ws, "status", limit=60)
            assert up["prometheus"] == "up"
            frame = await next_of(ws, "metrics")
            assert frame["id"] == "default" and frame["timestamp"] > up["timestamp"] - 1
    finally:
        bridge.stop()
        restarted.stop()
