"""`GET /api/sse/metrics`: the same frames as WebSocket, as server-sent events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bridge.config import AuthConfig, HttpConfig
from bridge.metrics.catalog import BUILTIN
from bridge.streams.hub import STREAMS_KEY
from tests.bridge.streams.helpers import TOKEN, FakeFetch, make_app, next_of, until


async def events(resp: Any, count: int) -> list[tuple[str, dict]]:
    """The next `count` events (name, data) of an SSE response; comments are skipped."""
    out: list[tuple[str, dict]] = []
    name, data = "message", ""
    async with asyncio.timeout(5):
        while len(out) < count:
            line = (await resp.content.readline()).decode().rstrip("\r\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line == "" and data:
                out.append((name, json.loads(data)))
                name, data = "message", ""
    return out


async def test_default_stream_as_events(aiohttp_client, tmp_path) -> None:
    app = make_app(FakeFetch(), tmp_path)
    client = await aiohttp_client(app)
    async with client.get("/api/sse/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        got = await events(resp, 3)
        assert 'promwire_bridge_ws_clients{stream="metrics_sse"} 1.0' in \
            await (await client.get("/metrics")).text()
    assert got[0] == ("subscribed", {"type": "subscribed", "id": "default",
                                     "metrics": [e.name for e in BUILTIN], "instances": None,
                                     "interval": 0.1, "delta": False})
    for name, frame in got[1:]:
        assert name == "metrics" and frame["type"] == "metrics" and frame["id"] == "default"
        assert len(frame["metrics"]) == len(BUILTIN)


async def test_parameters_choose_the_subscription_and_share_pollers(
        aiohttp_client, tmp_path) -> None:
    fetch = FakeFetch()
    app = make_app(fetch, tmp_path)
    client = await aiohttp_client(app)
    url = "/api/sse/metrics?metrics=memory,cpu&instances=a:9100&interval=0.2&delta=true"
    async with client.get(url) as first, client.get(url) as second:
        (_, ack), (_, full), (_, delta) = await events(first, 3)
        await events(second, 2)
        assert len(app[STREAMS_KEY].pollers) == 1
    assert ack["metrics"] == ["cpu", "memory"] and ack["instances"] == ["a:9100"]
    assert ack["interval"] == 0.2 and ack["delta"] is True
    assert "delta" not in full and set(full["metrics"]) == {"cpu", "memory"}
    assert delta["delta"] is True and list(delta["metrics"]) == ["cpu"]


async def test_bad_parameters_are_400_before_streaming(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path))
    for query, word in (("metrics=nope", "nope"), ("interval=0", "interval"),
                        ("interval=soon", "interval"), ("delta=maybe", "delta"),
                        ("color=red", "color"), ("query=up", "raw")):
        resp = await client.get(f"/api/sse/metrics?{query}")
        body = await resp.json()
        assert 400 <= resp.status < 500 and word in body["detail"], (query, body)


async def test_token_and_origin(aiohttp_client, tmp_path) -> None:
    app = make_app(FakeFetch(), tmp_path, auth=AuthConfig(token=TOKEN, protect_reads=True))
    client = await aiohttp_client(app)
    assert (await client.get("/api/sse/metrics")).status == 401
    resp = await client.get(f"/api/sse/metrics?token={TOKEN}",
                            headers={"Origin": "http://evil.example"})
    assert resp.status == 403
    async with client.get(f"/api/sse/metrics?token={TOKEN}") as resp:
        assert resp.status == 200 and (await events(resp, 1))[0][0] == "subscribed"


async def test_status_and_connection_limit(aiohttp_client, tmp_path) -> None:
    fetch = FakeFetch()
    client = await aiohttp_client(make_app(fetch, tmp_path, max_connections=1))
    async with client.get("/api/sse/metrics") as resp:
        await events(resp, 2)
        busy = await client.get("/api/sse/metrics")
        assert busy.status == 503 and (await busy.json())["error"] == "unavailable"
        fetch.down = True
        while (got := await events(resp, 1))[0][0] != "status":
            pass
        assert got[0][1]["prometheus"] == "down"


async def test_a_client_that_leaves_is_forgotten(aiohttp_client, tmp_path) -> None:
    app = make_app(FakeFetch(), tmp_path)
    client = await aiohttp_client(app)
    hub = app[STREAMS_KEY]
    async with client.get("/api/sse/metrics") as resp:
        await events(resp, 2)
        assert len(hub.connections) == 1
    await until(lambda: not hub.connections and not hub.pollers)


async def test_sse_and_websocket_default_streams_share_one_poller(aiohttp_client,
                                                                  tmp_path) -> None:
    """The default SSE stream and the default WebSocket stream are one subscription: one
    poller, one fetch per tick, the very same frames."""
    fetch = FakeFetch()
    app = make_app(fetch, tmp_path)
    client = await aiohttp_client(app)
    async with client.ws_connect("/api/ws/ws") as ws, client.get("/api/sse/metrics") as resp:
        (_, ack), *_ = await events(resp, 1)
        assert ack["id"] == "default"
        assert len(app[STREAMS_KEY].pollers) == 1
        sse = [frame for _, frame in await events(resp, 3)]
        by_tick: dict[float, dict] = {}
        while max(by_tick, default=0) < sse[-1]["timestamp"]:
            frame = await next_of(ws, "metrics")
            by_tick[frame["timestamp"]] = frame
        assert len(app[STREAMS_KEY].pollers) == 1 and len(fetch.calls) == 1
        assert all(by_tick.get(f["timestamp"]) == f for f in sse)


async def test_an_allowlisted_origin_may_read_the_stream(aiohttp_client, tmp_path) -> None:
    """CORS headers on a streamed answer (a browser's EventSource from the dashboard's origin)."""
    app = make_app(FakeFetch(), tmp_path,
                   http=HttpConfig(allowed_origins=("https://dash.example",)))
    client = await aiohttp_client(app)
    async with client.get("/api/sse/metrics", headers={"Origin": "https://dash.example"}) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "https://dash.example"
        assert (await events(resp, 1))[0][0] == "subscribed"
