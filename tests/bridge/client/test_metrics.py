"""MetricsWebSocketClient.

First against a small aiohttp stand-in that injects faults the real bridge will not produce on
demand (a link that goes silent, an upgrade refused then accepted, frames then a drop); then
against the real bridge process with a real Prometheus scraping the real exporter.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgpack
import pytest
from aiohttp import WSMsgType, web

from bridge.client import (
    CONNECTED,
    DISCONNECTED,
    POLLING,
    RECONNECTING,
    MetricsWebSocketClient,
)
from tests.bridge.client.helpers import until


def snapshot(ts: float, value: float = 1.0, instance: str = "h:9100") -> dict[str, Any]:
    return {"timestamp": ts, "stale": False, "age": 0.0, "errors": {}, "warnings": [],
            "metrics": {"cpu": {"title": "CPU busy", "unit": "percent", "samples": [
                {"instance": instance, "labels": {}, "value": value, "timestamp": ts}]}}}


class FakeBridge:
    """A stand-in bridge whose behaviour each test sets: `refuse` the upgrade with a status,
    `silent` after the first frame, `drop_after` N frames, answer REST polls."""

    def __init__(self) -> None:
        self.refuse: int | None = None
        self.silent = False
        self.drop_after: int | None = None
        self.msgpack_seen: list[bool] = []
        self.connections = 0
        self.received: list[list[dict[str, Any]]] = []  # client messages, per connection
        self.polls = 0
        self.poll_status = 200
        self.tick = 0.0
        self.extra_frames: list[dict[str, Any]] = []

    async def ws(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            return web.json_response({"error": "forbidden", "detail": "no"}, status=self.refuse)
        ws = web.WebSocketResponse(protocols=("promwire.msgpack",), autoping=not self.silent)
        await ws.prepare(request)
        self.connections += 1
        use_msgpack = ws.ws_protocol == "promwire.msgpack"
        self.msgpack_seen.append(use_msgpack)
        messages: list[dict[str, Any]] = []
        self.received.append(messages)

        async def send(frame: dict[str, Any]) -> None:
            if use_msgpack:
                await ws.send_bytes(msgpack.packb(frame))
            else:
                await ws.send_str(json.dumps(frame))

        async def reader() -> None:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    message = json.loads(msg.data)
                    messages.append(message)
                    if message.get("type") == "subscribe":
                        if message["metrics"] == ["nope"]:
                            await send({"type": "error", "error": "bad_request",
                                        "detail": "unknown metric", "id": message["id"]})
                        else:
                            await send({"type": "subscribed", "id": message["id"]})

        reading = asyncio.create_task(reader())
        try:
            sent = 0
            while not ws.closed:
                self.tick += 1
                await send({"type": "metrics", "id": "default", **snapshot(self.tick)})
                for frame in self.extra_frames:
                    await send(frame)
                self.extra_frames = []
                sent += 1
                if self.drop_after is not None and sent >= self.drop_after:
                    await ws.close()
                    break
                if self.silent:
                    await asyncio.sleep(3600)
                await asyncio.sleep(0.05)
        finally:
            reading.cancel()
        return ws

    async def current(self, request: web.Request) -> web.Response:
        self.polls += 1
        if self.poll_status != 200:
            return web.json_response({"error": "unavailable", "detail": "down"},
                                     status=self.poll_status)
        self.tick += 1
        return web.json_response(snapshot(self.tick, value=42.0))


@pytest.fixture
async def fake(aiohttp_server: Any) -> tuple[FakeBridge, str]:
    bridge = FakeBridge()
    app = web.Application()
    app.router.add_get("/api/ws/ws", bridge.ws)
    app.router.add_get("/api/metrics/current", bridge.current)
    server = await aiohttp_server(app)
    return bridge, str(server.make_url("/")).rstrip("/")


def fast_client(url: str, **options: Any) -> MetricsWebSocketClient:
    defaults: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.05,
                                "heartbeat_timeout": 5.0, "ping_interval": None,
                                "poll_interval": 0.05, "probe_interval": 0.3, "typed": False}
    return MetricsWebSocketClient(url, **{**defaults, **options})


async def test_callback_gets_frames_and_buffer_fills(fake: tuple[FakeBridge, str]) -> None:
    _, url = fake
    client = fast_client(url)
    seen: list[dict[str, Any]] = []
    client.set_callback(seen.append)
    async with client:
        await until(lambda: len(seen) >= 5)
    assert all(f["type"] == "metrics" and f["id"] == "default" for f in seen)
    assert client.state == "closed"
    points = client.buffer.points("cpu", "h:9100")
    assert len(points) >= 5 and [p.timestamp for p in points] == sorted(p.timestamp for p in points)


async def test_async_callback_and_async_for(fake: tuple[FakeBridge, str]) -> None:
    _, url = fake
    client = fast_client(url)
    calls: list[float] = []

    async def callback(frame: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        calls.append(frame["timestamp"])

    client.set_callback(callback)
    frames = []
    async for frame in client:
        frames.append(frame)
        if len(frames) == 3:
            break
    await until(lambda: client.state == "closed")
    assert [f["timestamp"] for f in frames] == calls[:3]


async def test_buffer_is_bounded(fake: tuple[FakeBridge, str]) -> None:
    _, url = fake
    client = fast_client(url, buffer_size=4)
    async with client:
        await until(lambda: client.frames_received >= 8)
    assert len(client.buffer.points("cpu", "h:9100")) == 4


async def test_silent_link_is_declared_dead_and_replaced(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    bridge.silent = True  # one frame, then nothing: no frames, no pongs
    client = fast_client(url, heartbeat_timeout=0.3)
    states: list[tuple[str, str]] = []
    client.set_state_callback(lambda state, detail: states.append((state, detail)))
    async with client:
        await until(lambda: bridge.connections >= 2)
    assert any(s == RECONNECTING and "presumed dead" in d for s, d in states)
    assert [a.ok for a in client.attempts][:2] == [True, True]


async def test_resubscribes_after_every_reconnect(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    bridge.drop_after = 2
    client = fast_client(url)
    async with client:
        sub_id = await client.subscribe(["cpu"], instances=["h:9100"], interval=2)
        await until(lambda: bridge.connections >= 4)
    subscribes = [[m for m in msgs if m["type"] == "subscribe"] for msgs in bridge.received[1:3]]
    expected = {"type": "subscribe", "id": sub_id, "metrics": ["cpu"],
                "instances": ["h:9100"], "interval": 2}
    assert subscribes == [[expected], [expected]]
    await client.unsubscribe(sub_id)
    assert client.subscriptions == {}


async def test_rejected_subscription_is_not_resent(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    client = fast_client(url)
    errors: list[dict[str, Any]] = []
    client.set_callback(lambda f: errors.append(f) if f["type"] == "error" else None)
    async with client:
        await until(lambda: bridge.connections >= 1 and client.state == CONNECTED)
        bad = await client.subscribe(["nope"])
        good = await client.subscribe("cpu")
        await until(lambda: errors)
    assert errors[0]["id"] == bad
    assert list(client.subscriptions) == [good]


async def test_refused_upgrade_falls_back_to_polling_and_reverts(
        fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    bridge.refuse = 403
    client = fast_client(url)
    states: list[str] = []
    client.set_state_callback(lambda state, _detail: states.append(state))
    polled: list[dict[str, Any]] = []
    client.set_callback(polled.append)
    async with client:
        await until(lambda: client.state == POLLING and len(polled) >= 2)
        assert client.transport == "poll" and not client.stale
        assert polled[0]["type"] == "metrics" and polled[0]["id"] == "default"
        assert client.snapshot()["metrics"]["cpu"]["samples"][0]["value"] == 42.0
        # Only one WebSocket try before polling: a 4xx upgrade answer will not change.
        assert [a.transport for a in client.attempts][:2] == ["ws", "poll"]
        bridge.refuse = None
        await until(lambda: client.state == CONNECTED and client.transport == "ws")
    probes = [a for a in client.attempts if a.transport == "probe"]
    assert probes[-1].ok and all(not p.ok for p in probes[:-1])
    assert states.index(POLLING) < len(states) - 1 - states[::-1].index(CONNECTED)


async def test_polling_keeps_subscription_ids(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    bridge.refuse = 404
    client = fast_client(url)
    seen: list[dict[str, Any]] = []
    client.set_callback(seen.append)
    async with client:
        sub = await client.subscribe(["cpu"], instances=["other:9100"])
        await until(lambda: any(f.get("id") == sub for f in seen))
    frame = next(f for f in seen if f.get("id") == sub)
    assert frame["metrics"]["cpu"]["samples"] == []  # filtered to the subscribed instance


async def test_everything_down_keeps_last_values_marked_stale(
        fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    bridge.drop_after = 1
    client = fast_client(url, fallback_after=2)
    async with client:
        await until(lambda: client.snapshot() is not None)
        bridge.refuse, bridge.poll_status = 503, 503
        await until(lambda: client.state == DISCONNECTED)
        snap = client.snapshot()
        assert client.stale and snap["stale"] is True and snap["age"] > 0
        assert snap["metrics"]["cpu"]["samples"][0]["value"] == 1.0
        assert client.buffer.latest("cpu", "h:9100") is not None
        bridge.refuse, bridge.poll_status = None, 200
        bridge.drop_after = None
        await until(lambda: client.state in (CONNECTED, POLLING) and not client.stale)
    assert client.snapshot()["stale"] is True  # closed: nothing live any more


async def test_prometheus_down_marks_values_stale(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    client = fast_client(url)
    async with client:
        await until(lambda: client.snapshot() is not None)
        bridge.extra_frames = [{"type": "status", "prometheus": "down", "detail": "refused",
                                "timestamp": 1.0}]
        await until(lambda: client.prometheus == "down")
        assert client.state == CONNECTED and client.stale
        assert client.snapshot()["stale"] is True
        bridge.extra_frames = [{"type": "status", "prometheus": "up", "detail": "",
                                "timestamp": 2.0}]
        await until(lambda: client.prometheus == "up")
        assert not client.stale and client.snapshot()["stale"] is False


async def test_delta_frames_are_merged(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    client = fast_client(url)
    async with client:
        sub = await client.subscribe(["cpu"], delta=True)
        full = {"type": "metrics", "id": sub, "delta": True, **snapshot(1.0, 5.0, "a")}
        full["metrics"]["cpu"]["samples"].append(
            {"instance": "b", "labels": {}, "value": 6.0, "timestamp": 1.0})
        change = {"type": "metrics", "id": sub, "delta": True, **snapshot(2.0, 7.0, "b")}
        change["metrics"]["cpu"]["removed"] = [{"instance": "a", "labels": {}}]
        bridge.extra_frames = [full, change]
        await until(lambda: (s := client.snapshot(sub)) and s["timestamp"] == 2.0)
    samples = client.snapshot(sub)["metrics"]["cpu"]["samples"]
    assert [(s["instance"], s["value"]) for s in samples] == [("b", 7.0)]
    assert [p.value for p in client.buffer.points("cpu", "b")] == [6.0, 7.0]


async def test_msgpack_frames(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    client = fast_client(url, use_msgpack=True)
    async with client:
        await until(lambda: client.frames_received >= 2)
    assert bridge.msgpack_seen[0] is True
    assert client.snapshot()["metrics"]["cpu"]["samples"][0]["instance"] == "h:9100"


async def test_close_interrupts_a_long_backoff() -> None:
    from tests.servers import free_port

    client = MetricsWebSocketClient(f"http://127.0.0.1:{free_port()}", backoff_base=600,
                                    backoff_cap=600, fallback_after=100)
    task = client.start()
    await until(lambda: client.state == RECONNECTING)
    await client.close()
    assert task.done() and client.state == "closed"
