"""GET /api/alerts/{fingerprint}/timeline and the history filters' parameters over HTTP."""

from __future__ import annotations

from tests.bridge.alerts.helpers import AUTH, am_alert, make_app, payload


async def test_timeline_and_history_parameters(aiohttp_client, tmp_path, alert_store):
    client = await aiohttp_client(make_app(tmp_path, backfill=False, **alert_store))
    alert = am_alert("Disk")
    assert (await client.post("/api/alerts/webhook", headers=AUTH,
                              json=payload(alert))).status == 200
    assert (await client.post("/api/alerts/webhook", headers=AUTH,
                              json=payload(am_alert("Disk", status="resolved")))).status == 200
    fp = (await (await client.get("/api/alerts/history")).json())["events"][0]["alert"][
        "fingerprint"]
    body = await (await client.get(f"/api/alerts/{fp}/timeline")).json()
    assert body["cluster"] == "default" and body["fingerprint"] == fp and body["next"] is None
    assert [e["event"] for e in body["events"]] == ["firing", "resolved"]
    page = await (await client.get(f"/api/alerts/{fp}/timeline?limit=1")).json()
    assert len(page["events"]) == 1 and page["next"] == page["events"][0]["seq"]
    assert (await client.get("/api/alerts/0000000000000000/timeline")).status == 404
    # A cluster that is not configured is a bad parameter, as on every alert endpoint.
    assert (await client.get(f"/api/alerts/{fp}/timeline?cluster=other")).status == 400
    assert (await client.get(f"/api/alerts/{fp}/timeline?cluster=Bad!")).status == 400
    resolved = await (await client.get("/api/alerts/history?kinds=resolved")).json()
    assert [e["event"] for e in resolved["events"]] == ["resolved"]
    for bad in ("kinds=nope", "start=later", "start=20&end=10", "cluster=Bad!"):
        resp = await client.get(f"/api/alerts/history?{bad}")
        assert resp.status == 400, bad
        assert (await resp.json())["error"] == "bad_request"
