"""Silence events on the alert streams and in history: to every subscriber of their cluster
(`cluster=`; without it, all) whatever its filter,
resume points like alert events (replayed exactly once after `since`), and acks decorating
REST and snapshot alerts. The events are recorded through the app's own store, as the silence
writes and the watcher record them."""

from __future__ import annotations

import json

import pytest

from bridge.alerts.backend import STORE_KEY
from bridge.alerts.model import fingerprint
from tests.bridge.alerts.helpers import am_alert, make_app
from tests.bridge.alerts.test_live import WS, fire, receive


@pytest.fixture
async def client(aiohttp_client, tmp_path, alert_store):
    return await aiohttp_client(make_app(tmp_path, alertmanager_url="", **alert_store))


def silence(sid: str, comment: str = "c", labels: dict[str, str] | None = None,
            state: str = "active") -> dict:
    labels = labels or {"alertname": "Nothing"}
    matchers = [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in sorted(labels.items())]
    ack = {"fingerprint": fingerprint(labels)} if comment.startswith("ACK! ") else None
    return {"cluster": "default", "id": sid, "matchers": matchers,
            "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
            "createdBy": "ann", "comment": comment, "state": state, "ack": ack}


async def record(client, *silences, by="default"):
    return await client.app[STORE_KEY].record_silences("default", list(silences), by)


async def test_every_subscriber_gets_silence_events_and_resumes_after_them(client):
    await fire(client, am_alert("A"))
    plain = await client.ws_connect(WS)
    filtered = await client.ws_connect(WS + '?filter=alertname="Other"')
    (snap,) = await receive(plain, 1)
    await receive(filtered, 1)
    [made] = await record(client, silence("s1"))
    await fire(client, am_alert("B"))
    [changed] = await record(client, silence("s1", "longer"), by=None)
    live = await receive(plain, 3)
    assert [(f["type"], f.get("event")) for f in live] == [
        ("silence", "created"), ("alert", "firing"), ("silence", "updated")]
    assert [f["seq"] for f in live] == [snap["seq"] + 1, snap["seq"] + 2, snap["seq"] + 3]
    assert live[0]["by"] == "default" and live[2]["by"] == "ann"
    # The alert filter does not hold silence events back.
    assert [f["type"] for f in await receive(filtered, 2)] == ["silence", "silence"]
    await plain.close()
    # Resumed after the first silence event: the rest, once each, in order.
    resumed = await client.ws_connect(WS + f"?since={made.seq}&epoch={made.epoch}")
    replay = await receive(resumed, 2)
    assert [f["seq"] for f in replay] == [made.seq + 1, changed.seq]
    assert replay == live[1:]
    await resumed.close()
    await filtered.close()


async def test_sse_ids_of_silence_events_resume(client):
    [made] = await record(client, silence("s1"))
    [later] = await record(client, silence("s2"))
    async with client.get("/api/sse/alerts", headers={
            "Last-Event-ID": f"{made.epoch}:{made.seq}"}) as resp:
        chunk = b""
        while b"event: silence" not in chunk:
            chunk += await resp.content.readany()
    assert f"id: {later.epoch}:{later.seq}".encode() in chunk
    assert f"id: {made.epoch}:{made.seq}\n".encode() not in chunk


async def test_filtered_history_keeps_silence_events(client):
    await fire(client, am_alert("A"), am_alert("B"))
    [made] = await record(client, silence("s1"))
    body = await (await client.get('/api/alerts/history?filter=alertname="A"')).json()
    assert [(e["type"], e["seq"]) for e in body["events"]] == [("alert", 1), ("silence",
                                                                             made.seq)]
    body = await (await client.get('/api/alerts/history?filter=alertname=~"Z.*"')).json()
    assert [e["type"] for e in body["events"]] == ["silence"]


async def test_acks_decorate_rest_alerts_and_snapshots(client):
    alert = am_alert("A")
    await fire(client, alert, am_alert("B"))
    current = (await (await client.get("/api/alerts")).json())["alerts"]
    assert [a["ack"] for a in current] == [None, None]
    await record(client, silence("ack1", "ACK! on it", alert["labels"]))
    current = (await (await client.get("/api/alerts")).json())["alerts"]
    acks = {a["labels"]["alertname"]: a["ack"] for a in current}
    assert acks == {"A": {"by": "ann", "comment": "on it", "since": "2026-01-01T00:00:00Z",
                          "until": "2099-01-01T00:00:00Z", "silenceID": "ack1"}, "B": None}
    ws = await client.ws_connect(WS)
    (snap,) = await receive(ws, 1)
    assert {a["labels"]["alertname"]: a["ack"] for a in snap["alerts"]} == acks
    await ws.close()
    # Expired, the ack is gone from the answers.
    await record(client, {**silence("ack1", "ACK! on it", alert["labels"]), "state": "expired",
                          "endsAt": "2026-01-02T00:00:00Z"})
    current = (await (await client.get("/api/alerts")).json())["alerts"]
    assert [a["ack"] for a in current] == [None, None]


async def test_listing_shows_matches_and_flags_silences_matching_nothing(client):
    critical = am_alert("A", severity="critical")
    await fire(client, critical, am_alert("B"))
    await record(client, silence("hits", labels={"alertname": "A"}), silence("none"))
    await record(client, {**silence("old"), "state": "expired",
                          "endsAt": "2026-01-02T00:00:00Z"})
    body = await (await client.get("/api/silences")).json()
    by_id = {s["id"]: s for s in body["silences"]}
    assert [s["id"] for s in body["silences"]][-1] == "old"
    assert by_id["hits"]["matches"] == [{"cluster": "default",
                                         "fingerprint": critical["fingerprint"]}]
    assert by_id["hits"]["matchesNothing"] is False and by_id["none"]["matchesNothing"] is True
    expired = await (await client.get("/api/silences?state=expired")).json()
    assert [s["id"] for s in expired["silences"]] == ["old"]
    assert json.loads(json.dumps(body))  # plain JSON


async def test_cluster_scoped_streams_get_only_their_clusters_silence_events(client):
    everyone = await client.ws_connect(WS)
    scoped = await client.ws_connect(WS + "?cluster=default")
    (snap,) = await receive(everyone, 1)
    await receive(scoped, 1)
    await client.app[STORE_KEY].record_silences("ha", [{**silence("h1"), "cluster": "ha"}],
                                                "default")
    [mine] = await record(client, silence("d1"))
    assert [f["silence"]["id"] for f in await receive(everyone, 2)] == ["h1", "d1"]
    # Only the default cluster's: the `ha` silence event is not this stream's.
    [frame] = await receive(scoped, 1)
    assert (frame["silence"]["id"], frame["seq"]) == ("d1", mine.seq)
    await scoped.close()
    # Replayed alike.
    resumed = await client.ws_connect(WS + f"?cluster=default&since={snap['seq']}"
                                      f"&epoch={snap['epoch']}")
    [replayed] = await receive(resumed, 1)
    assert replayed == frame
    await resumed.close()
    await everyone.close()
