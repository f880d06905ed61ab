"""Issue 9, item 12: one reader cannot take every shared poller.

Each distinct subscription is a poller (one Prometheus round per tick). Before the budgets,
13 sockets x 20 subscriptions used all 256. Now a connection, and all connections from one
client address, may each start only a few pollers; joining a poller
someone else already runs is free (the poller stays charged to whoever started it). Other
addresses keep their room.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from bridge.streams.hub import STREAMS_KEY
from tests.bridge.streams.helpers import FakeFetch, make_app, until

OTHER_ADDRESS = "127.0.0.2"  # all of 127/8 is loopback on Linux: a second client address


def subscribe(sub_id: str, interval: float) -> dict[str, object]:
    """A distinct poller per interval: the key is (metrics, instances, interval)."""
    return {"type": "subscribe", "id": sub_id, "metrics": ["cpu"], "interval": interval}


async def take(ws: aiohttp.ClientWebSocketResponse, sub_id: str, interval: float) -> dict:
    """Subscribe and return the answer: `subscribed`, or the `error` frame."""
    await ws.send_json(subscribe(sub_id, interval))
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] in ("subscribed", "error") and frame.get("id") == sub_id:
            return frame


@asynccontextmanager
async def from_address(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))
    try:
        yield session
    finally:
        await session.close()


async def test_a_connection_holds_at_most_its_budget_of_pollers(aiohttp_client, tmp_path):
    app = make_app(FakeFetch(), tmp_path, max_pollers_per_connection=3)
    client = await aiohttp_client(app)
    async with client.ws_connect("/api/ws/ws") as first, client.ws_connect("/api/ws/ws") as other:
        for i in range(3):
            assert (await take(first, f"s{i}", 1 + i))["type"] == "subscribed"
        refused = await take(first, "s3", 10)
        assert refused["type"] == "error" and refused["error"] == "too_many_requests"
        assert "streams.max_pollers_per_connection" in refused["detail"]
        # Joining a poller someone else runs costs nothing, even for a full connection.
        assert (await take(other, "o1", 20))["type"] == "subscribed"
        assert (await take(first, "shared", 20))["type"] == "subscribed"
        # Another connection has its own budget; the socket that was refused still works.
        assert (await take(other, "o2", 10))["type"] == "subscribed"
        await first.send_json({"type": "unsubscribe", "id": "s0"})
        assert (await take(first, "s4", 11))["type"] == "subscribed"


async def test_one_address_cannot_take_every_poller(aiohttp_client, tmp_path):
    """The issue's attack, scaled down: many sockets from one address, each at its own
    budget, stop at the address's budget, and a second address can still subscribe."""
    app = make_app(FakeFetch(), tmp_path, max_pollers=12, max_pollers_per_connection=3,
                   max_pollers_per_address=8)
    client = await aiohttp_client(app)
    hub = app[STREAMS_KEY]
    sockets = [await client.ws_connect("/api/ws/ws") for _ in range(4)]
    answers = [await take(ws, f"s{j}", 1 + 3 * i + j)
               for i, ws in enumerate(sockets) for j in range(3)]
    granted = [a for a in answers if a["type"] == "subscribed"]
    refused = [a for a in answers if a["type"] == "error"]
    # 7 of the address's own plus the default poller, still held by the last socket.
    assert len(granted) == 7 and len(hub.pollers) == 8
    assert {a["error"] for a in refused} == {"too_many_requests"}
    assert all("streams.max_pollers_per_address" in a["detail"] for a in refused)
    url = client.make_url("/api/ws/ws")
    async with from_address(OTHER_ADDRESS) as session, session.ws_connect(url) as ws:
        assert (await take(ws, "mine", 100))["type"] == "subscribed"
    for ws in sockets:
        await ws.close()


async def test_a_poller_is_charged_to_its_starter_then_to_its_oldest_subscriber(
        aiohttp_client, tmp_path):
    """Review of issue 9: when shared pollers were free, two addresses could start pollers for
    each other and take all of them. Now a poller counts against whoever started it, so two
    addresses get twice one budget, no more; when its starter leaves, the next pays."""
    app = make_app(FakeFetch(), tmp_path, max_pollers_per_address=2)
    client = await aiohttp_client(app)
    hub = app[STREAMS_KEY]
    url = client.make_url("/api/ws/ws")
    async with from_address(OTHER_ADDRESS) as session, session.ws_connect(url) as remote:
        local = await client.ws_connect("/api/ws/ws")
        assert (await take(local, "shared", 9))["type"] == "subscribed"
        assert (await take(remote, "shared", 9))["type"] == "subscribed"  # joining: free
        assert (await take(local, "a", 5))["type"] == "subscribed"
        assert (await take(local, "b", 6))["type"] == "error"  # "shared" is still local's
        assert (await take(remote, "r1", 7))["type"] == "subscribed"
        assert (await take(remote, "r2", 8))["type"] == "subscribed"
        assert (await take(remote, "r3", 10))["type"] == "error"
        assert len(hub.pollers) == 4  # two addresses, two budgets of 2
        await local.close()
        await until(lambda: len(hub.pollers) == 3)  # "a" went with its only subscriber
        # "shared" now costs the remote address: 3 > 2, and room only after two go.
        assert (await take(remote, "r3", 10))["type"] == "error"
        await remote.send_json({"type": "unsubscribe", "id": "r1"})
        assert (await take(remote, "r3", 10))["type"] == "error"
        await remote.send_json({"type": "unsubscribe", "id": "r2"})
        assert (await take(remote, "r3", 10))["type"] == "subscribed"


async def test_sse_over_the_address_budget_is_a_json_429(aiohttp_client, tmp_path):
    app = make_app(FakeFetch(), tmp_path, max_pollers_per_address=1)
    client = await aiohttp_client(app)
    first = await client.get("/api/sse/metrics?metrics=cpu&interval=2")
    assert first.status == 200
    second = await client.get("/api/sse/metrics?metrics=cpu&interval=3")
    assert second.status == 429
    body = await second.json()
    assert body["error"] == "too_many_requests"
    assert "streams.max_pollers_per_address" in body["detail"]
    # The same subscription as the open stream joins its poller: no budget needed.
    joined = await client.get("/api/sse/metrics?metrics=cpu&interval=2")
    assert joined.status == 200
    first.close()
    joined.close()
