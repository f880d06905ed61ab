"""WS /api/ws/ws/alerts and GET /api/sse/alerts: snapshot, live, resume, resync, filters."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import WSMsgType

from bridge.alerts.backend import STORE_KEY
from tests.bridge.alerts.helpers import AUTH, ONE_BACKEND, TOKEN, am_alert, make_app, payload

WS = "/api/ws/ws/alerts"


async def fire(client, *alerts):
    resp = await client.post("/api/alerts/webhook", json=payload(*alerts), headers=AUTH)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def receive(ws, n, skip_heartbeats=True):
    out = []
    while len(out) < n:
        msg = await asyncio.wait_for(ws.receive(), 10)
        assert msg.type == WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        if skip_heartbeats and frame["type"] == "heartbeat":
            continue
        out.append(frame)
    return out


@pytest.fixture
async def client(aiohttp_client, tmp_path, alert_store):
    return await aiohttp_client(make_app(tmp_path, **alert_store))


async def test_snapshot_then_live_events(client):
    await fire(client, am_alert("A"), am_alert("B"))
    await fire(client, am_alert("B", status="resolved"))
    ws = await client.ws_connect(WS)
    (snap,) = await receive(ws, 1)
    assert snap["type"] == "snapshot" and snap["seq"] == 3 and snap["epoch"]
    assert [a["labels"]["alertname"] for a in snap["alerts"]] == ["A"]
    await fire(client, am_alert("C"))
    (event,) = await receive(ws, 1)
    assert (event["type"], event["seq"], event["event"], event["epoch"]) == (
        "alert", 4, "firing", snap["epoch"])
    assert event["alert"]["labels"]["alertname"] == "C"
    await ws.close()


async def test_resume_replays_exactly_what_was_missed(client):
    ws = await client.ws_connect(WS)
    (snap,) = await receive(ws, 1)
    await fire(client, am_alert("A"))
    (first,) = await receive(ws, 1)
    await ws.close()
    await fire(client, am_alert("B"))
    await fire(client, am_alert("A", status="resolved"))
    ws = await client.ws_connect(f"{WS}?since={first['seq']}&epoch={snap['epoch']}")
    replay = await receive(ws, 2)
    assert [(f["seq"], f["event"]) for f in replay] == [(2, "firing"), (3, "resolved")]
    await fire(client, am_alert("C"))
    (live,) = await receive(ws, 1)
    assert live["seq"] == 4
    await ws.close()


async def test_resume_at_the_head_sends_nothing_until_the_next_event(client):
    await fire(client, am_alert("A"))
    epoch = (await (await client.get("/api/alerts")).json())["epoch"]
    ws = await client.ws_connect(f"{WS}?since=1&epoch={epoch}")
    await fire(client, am_alert("B"))
    (frame,) = await receive(ws, 1)
    assert frame["type"] == "alert" and frame["seq"] == 2
    await ws.close()


async def test_no_gap_and_no_duplicate_at_the_seam_under_concurrent_writes(client):
    ws = await client.ws_connect(WS)
    (snap,) = await receive(ws, 1)
    await ws.close()
    for i in range(300):  # a long log to replay
        await fire(client, am_alert(f"Old{i}"))

    midway = asyncio.Event()

    async def writer():
        for i in range(100):
            if i == 20:
                midway.set()  # resume in the middle of the new writes, not before them
            await fire(client, am_alert(f"New{i}"))
    task = asyncio.create_task(writer())
    await midway.wait()
    ws = await client.ws_connect(f"{WS}?since=0&epoch={snap['epoch']}")
    frames = await receive(ws, 400)
    await task
    assert [f["seq"] for f in frames] == list(range(1, 401))
    await ws.close()


async def test_wrong_epoch_resyncs_with_a_fresh_snapshot(client):
    await fire(client, am_alert("A"))
    ws = await client.ws_connect(f"{WS}?since=1&epoch=not-this-one")
    resync, snap = await receive(ws, 2)
    assert resync["type"] == "resync" and resync["reason"] == "epoch_changed"
    assert resync["epoch"] == snap["epoch"] and resync["seq"] == snap["seq"] == 1
    assert snap["type"] == "snapshot" and len(snap["alerts"]) == 1
    await ws.close()


async def test_since_older_than_retention_resyncs_too_old(aiohttp_client, tmp_path, alert_store):
    client = await aiohttp_client(make_app(tmp_path, retention_rows=3, **alert_store))
    for i in range(6):
        await fire(client, am_alert(f"A{i}"))
    await client.app[STORE_KEY].prune()
    epoch = (await (await client.get("/api/alerts")).json())["epoch"]
    ws = await client.ws_connect(f"{WS}?since=1&epoch={epoch}")
    resync, snap = await receive(ws, 2)
    assert (resync["reason"], snap["type"], len(snap["alerts"])) == ("too_old", "snapshot", 6)
    await ws.close()
    ws = await client.ws_connect(f"{WS}?since=3&epoch={epoch}")  # 4..6 are kept
    assert [f["seq"] for f in await receive(ws, 3)] == [4, 5, 6]
    await ws.close()


async def test_since_ahead_of_the_log_resyncs(client):
    await fire(client, am_alert("A"))
    epoch = (await (await client.get("/api/alerts")).json())["epoch"]
    ws = await client.ws_connect(f"{WS}?since=99&epoch={epoch}")
    resync, snap = await receive(ws, 2)
    assert resync["reason"] == "seq_ahead" and snap["type"] == "snapshot"
    await ws.close()


async def test_filters_apply_to_snapshot_replay_and_live(client):
    await fire(client, am_alert("HostDown", severity="critical"),
               am_alert("HostDiskFull", severity="warning"),
               am_alert("Other", severity="critical"))
    query = '?filter=severity="critical"&filter=alertname=~"Host.*"'
    ws = await client.ws_connect(WS + query)
    (snap,) = await receive(ws, 1)
    assert [a["labels"]["alertname"] for a in snap["alerts"]] == ["HostDown"]
    await ws.close()
    await fire(client, am_alert("HostLoad", severity="critical"),
               am_alert("HostLoad2", severity="warning"))
    ws = await client.ws_connect(f"{WS}{query}&since=0&epoch={snap['epoch']}")
    replay = await receive(ws, 2)
    assert [f["alert"]["labels"]["alertname"] for f in replay] == ["HostDown", "HostLoad"]
    await fire(client, am_alert("HostX", severity="warning"),
               am_alert("HostY", severity="critical"))
    (live,) = await receive(ws, 1)
    assert live["alert"]["labels"]["alertname"] == "HostY"
    await ws.close()


@ONE_BACKEND
@pytest.mark.parametrize("query", ['?filter=severity=~"("', "?filter=nonsense",
                                   "?since=abc&epoch=e", "?since=1"])
async def test_bad_parameters_get_an_error_frame_and_a_close(client, query):
    ws = await client.ws_connect(WS + query)
    msg = await ws.receive()
    frame = json.loads(msg.data)
    assert frame["type"] == "error" and frame["error"] == "bad_request" and frame["detail"]
    msg = await ws.receive()
    assert msg.type == WSMsgType.CLOSE and msg.data == 1008


async def test_heartbeats_carry_the_last_seq(aiohttp_client, tmp_path, alert_store):
    client = await aiohttp_client(make_app(tmp_path, heartbeat=0.05, **alert_store))
    await fire(client, am_alert("A"))
    ws = await client.ws_connect(WS + '?filter=alertname="Nope"')
    snap, beat = await receive(ws, 2, skip_heartbeats=False)
    assert snap["type"] == "snapshot" and beat["type"] == "heartbeat"
    assert beat["seq"] == 1 and beat["timestamp"].endswith("Z")
    await ws.close()


async def subscribers(client):
    text = await (await client.get("/metrics")).text()
    (line,) = [x for x in text.splitlines() if x.startswith("promwire_bridge_alert_subscribers ")]
    return float(line.split()[1])


async def test_a_subscriber_that_stops_reading_is_closed_and_resumes_losslessly(
        aiohttp_client, tmp_path, alert_store):
    client = await aiohttp_client(make_app(tmp_path, send_queue=5, **alert_store))
    slow = await client.ws_connect(WS)  # will not read until it has been closed
    (snap,) = await receive(slow, 1)
    narrow = await client.ws_connect(WS + '?filter=alertname="Marker"')
    await receive(narrow, 1)
    big = {"summary": "x" * 65536}
    posted = 0
    while await subscribers(client) == 2:  # until the hub gives up on the slow one
        assert posted < 2000, "the slow subscriber was never closed"
        body = await fire(client, *(am_alert(f"A{posted + i}", annotations=big)
                                    for i in range(20)))
        assert body["events"] == 20  # webhooks are never held back by a subscriber
        posted += 20
    await fire(client, am_alert("Marker"))
    (marker,) = await receive(narrow, 1)  # the others are unaffected
    assert marker["alert"]["labels"]["alertname"] == "Marker"
    got = []
    while True:  # what reached the slow client before it was closed
        msg = await asyncio.wait_for(slow.receive(), 10)
        if msg.type != WSMsgType.TEXT:
            break
        got.append(json.loads(msg.data)["seq"])
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR)
    assert len(got) < posted
    resumed = await client.ws_connect(f"{WS}?since={got[-1] if got else snap['seq']}"
                                      f"&epoch={snap['epoch']}")
    rest = [f["seq"] for f in await receive(resumed, posted + 1 - len(got))]
    assert got + rest == list(range(1, posted + 2))  # nothing lost, nothing twice
    for ws in (narrow, resumed):
        await ws.close()


async def test_a_reset_closes_streams_and_reconnects_resync(client):
    await fire(client, am_alert("A"))
    ws = await client.ws_connect(WS)
    (snap,) = await receive(ws, 1)
    await client.app[STORE_KEY].reset()
    msg = await asyncio.wait_for(ws.receive(), 10)
    assert msg.type == WSMsgType.CLOSE and msg.data == 1012
    ws = await client.ws_connect(f"{WS}?since={snap['seq']}&epoch={snap['epoch']}")
    resync, fresh = await receive(ws, 2)
    assert resync["reason"] == "epoch_changed" and fresh["epoch"] != snap["epoch"]
    assert fresh["alerts"] == []
    await ws.close()


async def test_foreign_origin_is_refused_and_reads_can_require_the_token(aiohttp_client,
                                                                          tmp_path,
                                                                          alert_store):
    client = await aiohttp_client(make_app(tmp_path, protect_reads=True, **alert_store))
    resp = await client.get(WS, headers={"Origin": "http://evil.example", **AUTH})
    assert resp.status == 403
    resp = await client.get(WS)
    assert resp.status == 401
    ws = await client.ws_connect(f"{WS}?token={TOKEN}")
    assert (await receive(ws, 1))[0]["type"] == "snapshot"
    await ws.close()
    assert (await client.get("/api/alerts")).status == 401
    assert (await client.get("/api/sse/alerts")).status == 401


# --- SSE ---------------------------------------------------------------------------------

async def read_events(resp, n):
    """Parse `n` server-sent events (id, event, data) from a streaming response."""
    events, current = [], {}
    while len(events) < n:
        line = (await asyncio.wait_for(resp.content.readline(), 10)).decode().rstrip("\n")
        if not line:
            if current:
                events.append(current)
                current = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        current[key] = value
    return events


async def test_sse_stream_ids_and_last_event_id_resume(client):
    await fire(client, am_alert("A"))
    resp = await client.get("/api/sse/alerts")
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    (snap,) = await read_events(resp, 1)
    data = json.loads(snap["data"])
    assert snap["event"] == "snapshot" and snap["id"] == f"{data['epoch']}:1"
    await fire(client, am_alert("B"))
    (event,) = await read_events(resp, 1)
    assert event["event"] == "alert" and event["id"] == f"{data['epoch']}:2"
    assert json.loads(event["data"])["alert"]["labels"]["alertname"] == "B"
    resp.close()
    await fire(client, am_alert("C"))
    await fire(client, am_alert("D"))
    resp = await client.get("/api/sse/alerts", headers={"Last-Event-ID": event["id"]})
    replay = await read_events(resp, 2)
    assert [e["id"].split(":")[1] for e in replay] == ["3", "4"]
    assert [json.loads(e["data"])["seq"] for e in replay] == [3, 4]
    resp.close()


@ONE_BACKEND
async def test_sse_bad_input_is_400_before_streaming(client):
    resp = await client.get('/api/sse/alerts?filter=a=~"("')
    assert resp.status == 400 and (await resp.json())["error"] == "bad_request"
    resp = await client.get("/api/sse/alerts", headers={"Last-Event-ID": "garbage"})
    assert resp.status == 400 and "Last-Event-ID" in (await resp.json())["detail"]


async def test_subscriber_gauge_follows_connections(client):
    ws1 = await client.ws_connect(WS)
    ws2 = await client.ws_connect(WS)
    await receive(ws1, 1)
    await receive(ws2, 1)

    async def gauge():
        text = await (await client.get("/metrics")).text()
        (line,) = [x for x in text.splitlines()
                   if x.startswith("promwire_bridge_alert_subscribers ")]
        return float(line.split()[1])
    assert await gauge() == 2
    await ws1.close()
    await ws2.close()
    for _ in range(50):
        if await gauge() == 0:
            break
        await asyncio.sleep(0.02)
    assert await gauge() == 0
