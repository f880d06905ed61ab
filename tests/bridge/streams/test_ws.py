"""`/api/ws/ws` against the real app (pollers' Prometheus round replaced by FakeFetch):
default stream, subscription protocol, errors that keep the socket open, limits, formats."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import msgpack
import pytest
from aiohttp import WSMsgType

from bridge.config import AuthConfig, MetricsConfig, TokenConfig
from bridge.metrics.catalog import BUILTIN
from bridge.streams import ws as ws_module
from bridge.streams.hub import STREAMS_KEY
from tests.bridge.streams.helpers import (
    TOKEN,
    FakeFetch,
    make_app,
    next_frame,
    next_of,
    until,
)

CATALOG = [e.name for e in BUILTIN]


async def test_default_stream_at_once_then_every_interval(aiohttp_client, tmp_path) -> None:
    fetch = FakeFetch()
    client = await aiohttp_client(make_app(fetch, tmp_path))
    async with client.ws_connect("/api/ws/ws") as ws:
        frames = [await next_frame(ws) for _ in range(3)]
    assert [f["type"] for f in frames] == ["metrics"] * 3
    assert {f["id"] for f in frames} == {"default"}
    assert list(frames[0]["metrics"]) == CATALOG
    cpu = [f["metrics"]["cpu"]["samples"][0]["value"] for f in frames]
    assert cpu == sorted(cpu) and len(set(cpu)) == 3  # three successive rounds


async def test_many_sockets_share_one_poller_and_it_stops_with_the_last(
        aiohttp_client, tmp_path) -> None:
    fetch = FakeFetch()
    app = make_app(fetch, tmp_path)
    client = await aiohttp_client(app)
    hub = app[STREAMS_KEY]
    sockets = [await client.ws_connect("/api/ws/ws") for _ in range(20)]
    seen = []
    for ws in sockets:
        seen.append([(await next_frame(ws))["metrics"]["cpu"]["samples"][0]["value"]
                     for _ in range(3)])
    assert len(hub.pollers) == 1
    rounds = fetch.calls[hub.default_key]
    # Every socket saw rounds numbered by the one shared poller; 20 pollers would count 20x.
    assert max(max(s) for s in seen) <= rounds <= max(max(s) for s in seen) + 2
    metrics = await (await client.get("/metrics")).text()
    assert 'promwire_bridge_ws_clients{stream="metrics"} 20.0' in metrics
    assert "promwire_bridge_pollers 1.0" in metrics
    for ws in sockets:
        await ws.close()
    await until(lambda: not hub.pollers and not hub.connections)
    metrics = await (await client.get("/metrics")).text()
    assert "promwire_bridge_pollers 0.0" in metrics
    assert 'promwire_bridge_ws_clients{stream="metrics"} 0.0' in metrics
    assert 'promwire_bridge_frames_sent_total{type="metrics"}' in metrics


async def test_two_subscriptions_get_their_own_ids(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path))
    async with client.ws_connect("/api/ws/ws") as ws:
        await next_of(ws, "metrics")
        await ws.send_json({"type": "subscribe", "id": "s1", "metrics": ["cpu"]})
        await ws.send_json({"type": "subscribe", "id": "s2", "metrics": ["memory", "cpu"],
                            "instances": ["b:9100"], "interval": 0.2, "delta": False})
        assert await next_of(ws, "unsubscribed") == {"type": "unsubscribed", "id": "default"}
        assert await next_of(ws, "subscribed") == {
            "type": "subscribed", "id": "s1", "metrics": ["cpu"], "instances": None,
            "interval": 0.1, "delta": False}
        assert await next_of(ws, "subscribed") == {
            "type": "subscribed", "id": "s2", "metrics": ["cpu", "memory"],
            "instances": ["b:9100"], "interval": 0.2, "delta": False}
        got: dict[str, dict] = {}
        while len(got) < 2:
            frame = await next_of(ws, "metrics")
            assert frame["id"] != "default"
            got[frame["id"]] = frame
        assert list(got["s1"]["metrics"]) == ["cpu"]
        assert list(got["s2"]["metrics"]) == ["cpu", "memory"]
        assert {s["instance"] for s in got["s2"]["metrics"]["cpu"]["samples"]} == {"b:9100"}
        await ws.send_json({"type": "unsubscribe", "id": "s1"})
        assert await next_of(ws, "unsubscribed") == {"type": "unsubscribed", "id": "s1"}
        for _ in range(3):
            assert (await next_of(ws, "metrics"))["id"] == "s2"


BAD_FRAMES = [
    ("{not json", "bad_request", None),
    ("[1, 2]", "bad_request", None),
    ('{"type": "hello", "id": "x"}', "bad_request", "x"),
    ('{"type": "subscribe", "id": "s1", "metrics": ["cpu", "nope"]}', "not_found", "s1"),
    ('{"type": "subscribe", "id": "s1", "metrics": []}', "bad_request", "s1"),
    ('{"type": "subscribe", "id": "s1", "interval": 0.01}', "bad_request", "s1"),
    ('{"type": "subscribe", "id": "s1", "interval": "fast"}', "bad_request", "s1"),
    ('{"type": "subscribe", "id": "s1", "interval": true}', "bad_request", "s1"),
    ('{"type": "subscribe", "id": "s1", "metric": ["cpu"]}', "bad_request", "s1"),
    ('{"type": "subscribe", "id": "s1", "delta": "yes"}', "bad_request", "s1"),
    ('{"type": "subscribe", "id": "s1", "instances": "a:9100"}', "bad_request", "s1"),
    ('{"type": "subscribe", "metrics": ["cpu"]}', "bad_request", None),
    ('{"type": "subscribe", "id": "r1", "query": "up"}', "forbidden", "r1"),
    ('{"type": "unsubscribe", "id": "nope"}', "not_found", "nope"),
    ("[" * 5000, "bad_request", None),  # nested deeper than the JSON parser recurses
]


@pytest.mark.parametrize(("text", "code", "sub_id"), BAD_FRAMES)
async def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(
        aiohttp_client, text: str, code: str, sub_id: str | None, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path))
    async with client.ws_connect("/api/ws/ws") as ws:
        await ws.send_str(text)
        error = await next_of(ws, "error")
        assert (error["error"], error["id"]) == (code, sub_id)
        assert error["detail"]
        if code == "not_found" and sub_id == "s1":
            assert error["valid"] == CATALOG
        await ws.send_json({"type": "subscribe", "id": "ok", "metrics": ["cpu"]})
        assert (await next_of(ws, "subscribed"))["id"] == "ok"
        assert (await next_of(ws, "metrics"))["id"] == "ok"


async def test_duplicate_id_and_subscription_limit(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path, max_subscriptions=2))
    async with client.ws_connect("/api/ws/ws") as ws:
        for sub_id in ("s1", "s2"):
            await ws.send_json({"type": "subscribe", "id": sub_id, "metrics": ["cpu"]})
            assert (await next_of(ws, "subscribed"))["id"] == sub_id
        await ws.send_json({"type": "subscribe", "id": "s1", "metrics": ["memory"]})
        error = await next_of(ws, "error")
        assert error["id"] == "s1" and "already in use" in error["detail"]
        await ws.send_json({"type": "subscribe", "id": "s3", "metrics": ["cpu"]})
        error = await next_of(ws, "error")
        assert error["id"] == "s3" and "at most 2" in error["detail"]
        await ws.send_json({"type": "unsubscribe", "id": "s2"})
        await ws.send_json({"type": "subscribe", "id": "s3", "metrics": ["cpu"]})
        assert (await next_of(ws, "subscribed"))["id"] == "s3"


async def test_subscribing_as_default_replaces_the_implicit_default(
        aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path))
    async with client.ws_connect("/api/ws/ws") as ws:
        await ws.send_json({"type": "subscribe", "id": "default", "metrics": ["memory"]})
        assert (await next_of(ws, "unsubscribed"))["id"] == "default"
        assert (await next_of(ws, "subscribed"))["metrics"] == ["memory"]
        frame = await next_of(ws, "metrics")
        while list(frame["metrics"]) != ["memory"]:  # a frame of the old default may precede
            frame = await next_of(ws, "metrics")
        assert frame["id"] == "default"


async def test_raw_query_needs_the_switch_and_the_token(aiohttp_client, tmp_path) -> None:
    app = make_app(FakeFetch(), tmp_path, metrics=MetricsConfig(raw_queries=True))
    client = await aiohttp_client(app)
    raw = {"type": "subscribe", "id": "r1", "query": "up", "interval": 0.1}
    async with client.ws_connect("/api/ws/ws") as ws:
        await ws.send_json(raw)
        assert (await next_of(ws, "error"))["error"] == "unauthorized"
    async with client.ws_connect(f"/api/ws/ws?token={TOKEN}") as ws:
        await ws.send_json(raw)
        ack = await next_of(ws, "subscribed")
        assert ack == {"type": "subscribed", "id": "r1", "query": "up", "instances": None,
                       "interval": 0.1, "delta": False}
        frame = await next_of(ws, "metrics")
        assert frame["id"] == "r1" and frame["query"] == "up"
        assert frame["resultType"] == "vector" and frame["result"][0]["metric"]


async def test_raw_query_needs_the_admin_scope(aiohttp_client, tmp_path) -> None:
    """A token without `admin` may stream catalog metrics, not raw PromQL (403 naming it)."""
    viewer = TokenConfig(name="viewer", token="v1ew", scopes=("read",))
    app = make_app(FakeFetch(), tmp_path, metrics=MetricsConfig(raw_queries=True),
                   auth=AuthConfig(token=TOKEN, tokens=(viewer,)))
    client = await aiohttp_client(app)
    async with client.ws_connect("/api/ws/ws", headers={"Authorization": "Bearer v1ew"}) as ws:
        await ws.send_json({"type": "subscribe", "id": "r1", "query": "up"})
        error = await next_of(ws, "error")
        assert (error["id"], error["error"], error["detail"]) == (
            "r1", "forbidden", "token 'viewer' lacks the 'admin' scope")
        await ws.send_json({"type": "subscribe", "id": "c1", "metrics": ["cpu"]})
        assert (await next_of(ws, "subscribed"))["id"] == "c1"


async def test_raw_query_rejected_by_prometheus_ends_its_subscription(
        aiohttp_client, tmp_path) -> None:
    from bridge.errors import UpstreamBadData

    fetch = FakeFetch()
    client = await aiohttp_client(make_app(
        fetch, tmp_path, metrics=MetricsConfig(raw_queries=True)))
    async with client.ws_connect("/api/ws/ws",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        fetch.error = UpstreamBadData("parse error: unexpected end of input")
        await ws.send_json({"type": "subscribe", "id": "r1", "query": "sum("})
        error = await next_of(ws, "error")
        assert (error["error"], error["id"]) == ("bad_data", "r1")
        assert (await next_of(ws, "unsubscribed"))["id"] == "r1"


async def test_delta_frames_carry_only_changes(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path))
    async with client.ws_connect("/api/ws/ws") as ws:
        await ws.send_json({"type": "subscribe", "id": "d", "metrics": ["cpu", "memory"],
                            "delta": True})
        assert (await next_of(ws, "subscribed"))["delta"] is True
        frames = []
        while len(frames) < 3:
            frame = await next_of(ws, "metrics")
            if frame["id"] == "d":
                frames.append(frame)
    assert "delta" not in frames[0] and set(frames[0]["metrics"]) == {"cpu", "memory"}
    for frame in frames[1:]:
        assert frame["delta"] is True
        assert list(frame["metrics"]) == ["cpu"]  # memory never changes
        assert len(frame["metrics"]["cpu"]["samples"]) == 2


async def test_status_down_then_up_on_the_same_socket(aiohttp_client, tmp_path) -> None:
    fetch = FakeFetch()
    client = await aiohttp_client(make_app(fetch, tmp_path))
    async with client.ws_connect("/api/ws/ws") as ws:
        await next_of(ws, "metrics")
        fetch.down = True
        down = await next_of(ws, "status")
        assert down["prometheus"] == "down" and "fake" in down["detail"]
        assert isinstance(down["timestamp"], float)
        fetch.down = False
        assert (await next_of(ws, "status"))["prometheus"] == "up"
        assert (await next_of(ws, "metrics"))["id"] == "default"
        fetch.down = True
        await next_of(ws, "status")
        # A client connecting while Prometheus is down is told so at once.
        async with client.ws_connect("/api/ws/ws") as late:
            assert (await next_frame(late))["prometheus"] == "down"


async def test_msgpack_by_parameter_or_subprotocol(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path))
    for kwargs in ({"path": "/api/ws/ws?format=msgpack"},
                   {"path": "/api/ws/ws", "protocols": ("promwire.msgpack",)}):
        async with client.ws_connect(kwargs.pop("path"), **kwargs) as ws:
            msg = await ws.receive(timeout=5)
            assert msg.type == WSMsgType.BINARY
            frame = msgpack.unpackb(msg.data)
            assert frame["type"] == "metrics" and frame["id"] == "default"
            assert list(frame["metrics"]) == CATALOG
            await ws.send_bytes(msgpack.packb({"type": "subscribe", "id": "m", "metrics": ["x"]}))
            while (frame := msgpack.unpackb((await ws.receive(timeout=5)).data))["type"] \
                    != "error":
                pass
            assert (frame["error"], frame["id"]) == ("not_found", "m")
    resp = await client.get("/api/ws/ws?format=xml")
    assert resp.status == 400 and (await resp.json())["error"] == "bad_request"


async def test_heartbeat_frames(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path, heartbeat=0.1))
    async with client.ws_connect("/api/ws/ws") as ws:
        beat = await next_of(ws, "heartbeat")
        assert set(beat) == {"type", "timestamp"}


async def test_max_connections_closes_with_1013(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path, max_connections=1))
    async with client.ws_connect("/api/ws/ws") as first:
        await next_frame(first)
        async with client.ws_connect("/api/ws/ws") as second:
            msg = await second.receive(timeout=5)
            assert msg.type == WSMsgType.CLOSE and msg.data == 1013
        assert (await next_frame(first))["type"] == "metrics"


async def test_oversized_message_closes_with_1009(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path, max_message_bytes=1024))
    async with client.ws_connect("/api/ws/ws") as ws:
        await ws.send_str('{"type": "subscribe", "id": "' + "x" * 2000 + '"}')
        while (msg := await ws.receive(timeout=5)).type == WSMsgType.TEXT:
            pass
        assert msg.type == WSMsgType.CLOSE and msg.data == 1009


async def test_origin_and_read_token(aiohttp_client, tmp_path) -> None:
    app = make_app(FakeFetch(), tmp_path, auth=AuthConfig(token=TOKEN, protect_reads=True))
    client = await aiohttp_client(app)
    resp = await client.get("/api/ws/ws", headers={"Origin": "http://evil.example",
                                                    "Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/api/ws/ws")
    assert info.value.status == 401
    async with client.ws_connect(f"/api/ws/ws?token={TOKEN}") as ws:
        assert (await next_frame(ws))["type"] == "metrics"


async def _raw_socket(host: str, port: int) -> socket.socket:
    """A WebSocket opened by hand with a tiny receive buffer, so that it fills quickly."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    await loop.sock_sendall(sock, (
        f"GET /api/ws/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def test_a_consumer_that_never_reads_delays_nobody_and_is_closed(
        aiohttp_client, tmp_path) -> None:
    fetch = FakeFetch()
    fetch.padding = 100_000  # big frames: the stuck socket's buffers fill in a few rounds
    app = make_app(fetch, tmp_path, interval=0.05, stuck_timeout=0.5)
    client = await aiohttp_client(app)
    hub = app[STREAMS_KEY]
    stuck = await _raw_socket(client.host, client.port)
    cpu: list[float] = []

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            cpu.append(msg.json()["metrics"]["cpu"]["samples"][0]["value"])

    async with client.ws_connect("/api/ws/ws", max_msg_size=0) as ws:
        reader = asyncio.create_task(read(ws))
        await until(lambda: hub.backlog)
        received_when_stuck = len(cpu)
        await until(lambda: hub.metrics.slow_closed._value.get() >= 1)
        # The other socket kept getting every round while the stuck one backed up.
        assert len(cpu) >= received_when_stuck + 3
        assert cpu == [cpu[0] + i for i in range(len(cpu))]
        assert hub.metrics.frames_dropped._value.get() > 0
        assert len(hub.connections) == 1
        reader.cancel()
    # The stuck socket, read at last: what was buffered, then a close frame with 1008.
    loop = asyncio.get_running_loop()
    data = b""
    async with asyncio.timeout(10):
        while chunk := await loop.sock_recv(stuck, 1 << 20):
            data += chunk
    stuck.close()
    close_at = data.rfind(b"\x88")
    assert close_at >= 0 and data[close_at + 2:close_at + 4] == (1008).to_bytes(2, "big")


async def test_shutdown_says_going_away(aiohttp_client, tmp_path) -> None:
    app = make_app(FakeFetch(), tmp_path)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/api/ws/ws")
    await next_frame(ws)
    await app.shutdown()  # what the runner does first on SIGTERM
    while (msg := await ws.receive(timeout=5)).type == WSMsgType.TEXT:
        pass
    assert msg.type == WSMsgType.CLOSE and msg.data == 1001
    assert not app[STREAMS_KEY].connections


async def test_a_peer_that_misses_pongs_is_cut_off_not_left_open(aiohttp_client, tmp_path) -> None:
    fetch = FakeFetch()
    fetch.padding = 2_000_000  # more than the kernel buffers take: the transport holds some
    app = make_app(fetch, tmp_path, interval=0.05, heartbeat=0.2, stuck_timeout=0.5)
    hub = app[STREAMS_KEY]
    seen = []
    register = hub.register
    hub.register = lambda conn: seen.append(conn) or register(conn)  # type: ignore[method-assign]
    client = await aiohttp_client(app)
    stuck = await _raw_socket(client.host, client.port)  # never reads: never answers pings
    await until(lambda: seen and not hub.connections)
    sock = seen[0].transport.get_extra_info("socket")
    await until(lambda: sock.fileno() == -1)  # the bridge's end is really closed
    stuck.close()


async def test_a_bug_handling_a_frame_is_an_error_frame_not_a_dead_socket(
        aiohttp_client, tmp_path, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")
    client = await aiohttp_client(make_app(FakeFetch(), tmp_path))
    async with client.ws_connect("/api/ws/ws") as ws:
        monkeypatch.setattr(ws_module, "parse_subscribe", broken)
        await ws.send_json({"type": "subscribe", "id": "s1", "metrics": ["cpu"]})
        error = await next_of(ws, "error")
        assert error == {"type": "error", "id": "s1", "error": "internal",
                         "detail": "internal server error"}
        monkeypatch.undo()
        await ws.send_json({"type": "subscribe", "id": "s2", "metrics": ["cpu"]})
        assert (await next_of(ws, "subscribed"))["id"] == "s2"
