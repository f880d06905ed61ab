"""`state=` and `cluster=`: REST /api/alerts, history, and both streams (live and replayed)."""

from __future__ import annotations

import json

import pytest

from bridge.alerts.backend import STORE_KEY
from bridge.alerts.model import ACTIVE, now_ms
from bridge.alerts.selection import Selection
from tests.bridge.alerts.helpers import make_app, notice, silenced
from tests.bridge.alerts.test_live import WS, receive


def alert(state="active", cluster="default"):
    return {"labels": {"alertname": "A"}, "state": state, "cluster": cluster}


def test_lists_and_wants():
    default, hushed, everything = Selection(), Selection(state="suppressed"), Selection(state="all")
    assert default.lists(alert()) and not default.lists(alert("suppressed"))
    assert hushed.lists(alert("suppressed")) and not hushed.lists(alert())
    assert everything.lists(alert()) and everything.lists(alert("suppressed"))
    # The events that move an alert in or out of a list reach every reader.
    for kind in ("suppressed", "unsuppressed", "resolved"):
        assert default.wants(kind, alert("suppressed")) and hushed.wants(kind, alert())
    assert not default.wants("updated", alert("suppressed"))
    assert not hushed.wants("firing", alert())
    # Frames from before clusters: `default` and `active`.
    old = {"labels": {"alertname": "A"}}
    assert default.lists(old) and Selection(cluster="default").wants("firing", old)
    assert not Selection(cluster="prod").wants("firing", old)


@pytest.fixture
async def client(aiohttp_client, tmp_path, alert_store):
    app = make_app(tmp_path, clusters={"prod": ["http://127.0.0.1:1"]}, reconcile_interval=0,
                   **alert_store)
    return await aiohttp_client(app)


async def reconcile(client, *notices, cluster="default"):
    return await client.app[STORE_KEY].reconcile(list(notices), now_ms() + 1, cluster=cluster)


async def names(client, query=""):
    body = await (await client.get("/api/alerts" + query)).json()
    return sorted((a["labels"]["alertname"], a["cluster"]) for a in body["alerts"])


async def test_rest_lists_active_by_default_and_takes_state_and_cluster(client):
    store = client.app[STORE_KEY]
    await store.record([notice("Loud"), notice("Hushed"), notice("Loud", cluster="prod")])
    await reconcile(client, notice("Loud", source="reconcile"),
                    notice("Hushed", source="reconcile", suppression=silenced("s1")))
    assert await names(client) == [("Loud", "default"), ("Loud", "prod")]
    assert await names(client, "?state=suppressed") == [("Hushed", "default")]
    assert await names(client, "?state=all") == [("Hushed", "default"), ("Loud", "default"),
                                                 ("Loud", "prod")]
    assert await names(client, "?cluster=prod&state=all") == [("Loud", "prod")]
    for query, detail in (("?state=muted", "state"), ("?cluster=nope", "unknown cluster")):
        resp = await client.get("/api/alerts" + query)
        body = await resp.json()
        assert resp.status == 400 and body["error"] == "bad_request"
        assert detail in body["detail"]


async def test_history_filters_by_state_and_cluster(client):
    store = client.app[STORE_KEY]
    await store.record([notice("A"), notice("B", cluster="prod")])
    await reconcile(client, notice("A", source="reconcile", suppression=silenced("s1")))
    await store.record([notice("A", annotations={"summary": "changed"})])  # updated, muted
    await reconcile(client, notice("A", source="reconcile", suppression=ACTIVE,
                                   annotations={"summary": "changed"}))

    async def events(query=""):
        body = await (await client.get("/api/alerts/history" + query)).json()
        return [(e["event"], e["alert"]["labels"]["alertname"]) for e in body["events"]]
    everything = await events("?state=all")
    assert everything == [("firing", "A"), ("firing", "B"), ("suppressed", "A"),
                          ("updated", "A"), ("unsuppressed", "A")]
    # Today's readers: the update of a muted alert is left out, the state changes are not.
    assert await events() == [("firing", "A"), ("firing", "B"), ("suppressed", "A"),
                              ("unsuppressed", "A")]
    assert await events("?state=suppressed") == [("suppressed", "A"), ("updated", "A"),
                                                 ("unsuppressed", "A")]
    assert await events("?cluster=prod") == [("firing", "B")]
    assert await events("?cluster=default&state=all&filter=alertname%3D%22A%22") == [
        e for e in everything if e[1] == "A"]


async def test_streams_deliver_state_changes_to_every_reader_and_snapshots_filter(client):
    store = client.app[STORE_KEY]
    await store.record([notice("A"), notice("B")])
    await reconcile(client, notice("A", source="reconcile", suppression=silenced("s1")),
                    notice("B", source="reconcile"))
    default = await client.ws_connect(WS)
    everything = await client.ws_connect(WS + "?state=all")
    prod = await client.ws_connect(WS + "?cluster=prod&state=all")
    (snap,) = await receive(default, 1)
    assert [a["labels"]["alertname"] for a in snap["alerts"]] == ["B"]
    (snap_all,) = await receive(everything, 1)
    assert [a["labels"]["alertname"] for a in snap_all["alerts"]] == ["A", "B"]
    (snap_prod,) = await receive(prod, 1)
    assert snap_prod["alerts"] == []
    await store.record([notice("A", annotations={"summary": "changed"})])
    await reconcile(client, notice("A", source="reconcile", suppression=ACTIVE,
                                   annotations={"summary": "changed"}),
                    notice("B", source="reconcile"))
    await store.record([notice("C", cluster="prod")])
    (unsuppressed, fired) = await receive(default, 2)
    assert (unsuppressed["event"], unsuppressed["alert"]["state"]) == ("unsuppressed", "active")
    assert (fired["event"], fired["alert"]["cluster"]) == ("firing", "prod")
    kinds = [f["event"] for f in await receive(everything, 3)]
    assert kinds == ["updated", "unsuppressed", "firing"]
    (only,) = await receive(prod, 1)
    assert only["alert"]["labels"]["alertname"] == "C"
    # A replay applies the same selection to the log.
    resume = f"?since={snap['seq']}&epoch={snap['epoch']}"
    replayed = await client.ws_connect(WS + resume)
    assert [f["event"] for f in await receive(replayed, 2)] == ["unsuppressed", "firing"]
    sse = await client.get("/api/sse/alerts" + resume + "&state=suppressed")
    text = b""
    while text.count(b"event: alert") < 2:
        text += await sse.content.readany()
    frames = [json.loads(line[6:]) for line in text.decode().splitlines()
              if line.startswith("data: ")]
    assert [f["event"] for f in frames] == ["updated", "unsuppressed"]
    for ws in (default, everything, prod, replayed):
        await ws.close()
    sse.close()
