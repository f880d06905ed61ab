"""The first frames of a metric stream: the ack (`subscribed`), then data or status.

A `status: down` frame is only ever news from a failed query, comes after the subscription it
concerns, and reaches each connection once per outage. In-process, with the pollers' fetch
replaced (tests/bridge/streams/helpers.py) but the real Prometheus client behind `/health`;
the same order against real processes is in test_first_frames_live.py.
"""

from __future__ import annotations

import json

from bridge.config import PrometheusConfig
from bridge.streams.hub import STREAMS_KEY
from bridge.upstream.prometheus import PROMETHEUS_KEY
from tests.bridge.streams.helpers import FakeFetch, make_app, next_frame, until
from tests.bridge.streams.test_sse import events
from tests.servers import free_port


def dead_prometheus() -> PrometheusConfig:
    """A Prometheus URL nothing listens on: every request to it fails at once."""
    return PrometheusConfig(url=f"http://127.0.0.1:{free_port()}", connect_timeout=1.0)


async def test_sse_down_from_the_start_acks_then_says_down(aiohttp_client, tmp_path) -> None:
    fetch = FakeFetch()
    fetch.down = True
    client = await aiohttp_client(make_app(fetch, tmp_path))
    async with client.get("/api/sse/metrics?metrics=cpu") as resp:
        (first, _), (second, status) = await events(resp, 2)
        assert (first, second) == ("subscribed", "status")
        assert status["prometheus"] == "down" and "fake" in status["detail"]
    # Joining while it is down: the stored status, after the ack.
    async with client.get("/api/sse/metrics?metrics=cpu") as resp:
        got = await events(resp, 2)
        assert [name for name, _ in got] == ["subscribed", "status"]
        assert got[0][1]["id"] == "default" and got[1][1]["prometheus"] == "down"


async def test_ws_status_once_per_connection_after_its_subscription(aiohttp_client,
                                                                    tmp_path) -> None:
    fetch = FakeFetch()
    fetch.down = True
    app = make_app(fetch, tmp_path)
    client = await aiohttp_client(app)
    hub = app[STREAMS_KEY]
    async with client.ws_connect("/api/ws/ws") as first:
        # The default subscription has no ack: its first frame is the status, once a poll failed.
        frame = await next_frame(first)
        assert frame["type"] == "status" and frame["prometheus"] == "down"
        assert fetch.calls[hub.default_key] >= 1
    async with client.ws_connect("/api/ws/ws") as ws:
        assert (await next_frame(ws))["prometheus"] == "down"  # after the default subscription
        for sub_id in ("s1", "s2"):
            await ws.send_str(json.dumps({"type": "subscribe", "id": sub_id,
                                          "metrics": ["cpu"]}))
        kinds = [(f["type"], f.get("id")) for f in [await next_frame(ws) for _ in range(3)]]
        # Told once: no second status after s1's or s2's ack.
        assert kinds == [("unsubscribed", "default"), ("subscribed", "s1"), ("subscribed", "s2")]


async def test_failed_readiness_probe_is_not_a_down_status(aiohttp_client, tmp_path) -> None:
    """`make run` starts the bridge before Prometheus and waits on its `/health`, whose probe of
    `/-/ready` fails: streams must not call that an outage."""
    fetch = FakeFetch()  # the polls themselves succeed
    app = make_app(fetch, tmp_path, prometheus=dead_prometheus())
    client = await aiohttp_client(app)
    health = await (await client.get("/health")).json()
    assert health["checks"]["prometheus"]["ok"] is False
    assert app[PROMETHEUS_KEY].status.up is False  # the real client saw the failure
    async with client.get("/api/sse/metrics") as resp:
        assert [name for name, _ in await events(resp, 3)] == \
            ["subscribed", "metrics", "metrics"]
    async with client.ws_connect("/api/ws/ws") as ws:
        assert (await next_frame(ws))["type"] == "metrics"
    assert app[STREAMS_KEY].prometheus_up is not False


async def test_failed_query_elsewhere_is_a_down_status(aiohttp_client, tmp_path) -> None:
    """A REST query that cannot reach Prometheus is real news for the streams (while a poll
    is between ticks)."""
    fetch = FakeFetch()
    app = make_app(fetch, tmp_path, prometheus=dead_prometheus(), interval=3600)
    client = await aiohttp_client(app)
    async with client.ws_connect("/api/ws/ws") as ws:
        assert (await next_frame(ws))["type"] == "metrics"
        resp = await client.get("/api/metrics/current")
        assert resp.status in (502, 503, 504)
        status = await next_frame(ws)
        assert status["type"] == "status" and status["prometheus"] == "down"
        assert status["detail"]
    await until(lambda: not app[STREAMS_KEY].connections)
