"""Issue 9, item 5: input that used to raise deep inside a handler (a 500, or a raw HTTP 500
written into an upgraded WebSocket) is a 400 with the JSON error shape, or an error frame."""

from __future__ import annotations

import json

import pytest
from aiohttp import WSMsgType

from tests.bridge.alerts_helpers import AUTH, am_alert, make_app, payload

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


@pytest.mark.parametrize("value", [{}, [], 0, False])
@pytest.mark.parametrize("path", [WEBHOOK, "/api/ws/broadcast/alert"])
async def test_a_generator_url_that_is_not_a_string_is_400(client, path, value):
    """`{}` used to pass as "" (the schema says string); null still means none."""
    alert = am_alert("A")
    alert["generatorURL"] = value
    body = payload(alert) if path == WEBHOOK else {"labels": {"alertname": "A"},
                                                    "generatorURL": value}
    resp = await client.post(path, data=json.dumps(body),
                             headers={"Content-Type": "application/json", **AUTH})
    await assert_400(resp, "generatorURL")


async def test_a_null_generator_url_is_accepted(client):
    alert = am_alert("A")
    alert["generatorURL"] = None
    resp = await client.post(WEBHOOK, data=json.dumps(payload(alert)),
                             headers={"Content-Type": "application/json", **AUTH})
    assert resp.status == 200, await resp.text()


async def test_promql_longer_than_the_documented_limit_is_400(aiohttp_client, tmp_path):
    from bridge.config import MetricsConfig
    from bridge.params import MAX_PROMQL
    from tests.bridge.stream_helpers import TOKEN, FakeFetch
    from tests.bridge.stream_helpers import make_app as stream_app

    app = stream_app(FakeFetch(), tmp_path, metrics=MetricsConfig(raw_queries=True))
    client = await aiohttp_client(app)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    long = "1" + " " * MAX_PROMQL
    for path in ("/api/query", "/api/query_range"):
        await assert_400(await client.get(path, params={"query": long}, headers=auth),
                         f"limit of {MAX_PROMQL}")
    async with client.ws_connect("/api/ws/ws", headers=auth) as ws:
        await ws.send_json({"type": "subscribe", "id": "q", "query": long})
        while (frame := await ws.receive_json(timeout=5))["type"] != "error":
            pass
        assert f"limit of {MAX_PROMQL}" in frame["detail"]


@pytest.mark.parametrize(("field", "value"), [("annotations", False), ("annotations", []),
                                              ("groupKey", 0)])
async def test_falsy_values_of_the_wrong_type_are_400_not_empty(client, field, value):
    """`or {}` used to turn `false` into an empty object; only null or absent mean empty."""
    alert = am_alert("A")
    body = payload(alert)
    if field == "annotations":
        alert["annotations"] = value
    else:
        body[field] = value
    resp = await client.post(WEBHOOK, data=json.dumps(body),
                             headers={"Content-Type": "application/json", **AUTH})
    await assert_400(resp, field)
