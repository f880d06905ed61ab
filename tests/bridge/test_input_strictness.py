"""Issue 9, item 5: input that used to raise deep inside a handler (a 500, or a raw HTTP 500
written into an upgraded WebSocket) is a 400 with the JSON error shape, or an error frame."""

from __future__ import annotations

import json

import pytest
from aiohttp import WSMsgType

from tests.bridge.alerts.helpers import AUTH, am_alert, make_app, payload

WEBHOOK = "/api/alerts/webhook"


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(make_app(tmp_path))


async def assert_400(resp, word):
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert body["error"] == "bad_request" and word in body["detail"]


@pytest.mark.parametrize("query", ["?since=%C2%B2", "?limit=%C2%B9", "?limit=%D9%A3"])
async def test_non_ascii_digits_in_history_are_400(client, query):
    await assert_400(await client.get("/api/alerts/history" + query), query[1:6])


async def test_non_ascii_bearer_token_on_the_webhook_is_400(client):
    resp = await client.post(WEBHOOK, data=json.dumps(payload(am_alert("A"))),
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer \xff"})
    await assert_400(resp, "Authorization")


async def test_a_superscript_since_on_the_alerts_websocket_is_an_error_frame(client):
    ws = await client.ws_connect("/api/ws/ws/alerts?since=%C2%B2&epoch=e")
    frame = json.loads((await ws.receive()).data)
    assert frame["type"] == "error" and frame["error"] == "bad_request"
    assert "since" in frame["detail"]
    msg = await ws.receive()
    assert msg.type == WSMsgType.CLOSE and msg.data == 1008


async def test_a_superscript_last_event_id_is_400(client):
    resp = await client.get("/api/sse/alerts", headers={"Last-Event-ID": "abc:\u00b2"})
    await assert_400(resp, "Last-Event-ID")


@pytest.mark.parametrize("where", ["label", "fingerprint"])
async def test_lone_surrogates_in_the_webhook_body_are_400(client, where):
    alert = am_alert("A")
    if where == "label":
        alert["labels"]["x"] = "X\ud800"
    else:
        alert["fingerprint"] = "X\ud800"
    body = json.dumps(payload(alert)).encode()  # ensure_ascii keeps the escape: valid JSON
    resp = await client.post(WEBHOOK, data=body,
                             headers={"Content-Type": "application/json", **AUTH})
    await assert_400(resp, "surrogate")


async def test_starts_at_past_year_9999_is_400(client):
    alert = am_alert("A")
    alert["startsAt"] = "9999-12-31T23:59:59-23:59"
    resp = await client.post(WEBHOOK, data=json.dumps(payload(alert)),
                             headers={"Content-Type": "application/json", **AUTH})
    await assert_400(resp, "9999")
