"""GET /api/alerts and GET /api/alerts/history: filters, pagination, parameter errors."""

from __future__ import annotations

import pytest

from tests.bridge.alerts.helpers import AUTH, ONE_BACKEND, am_alert, make_app, payload


@pytest.fixture
async def client(aiohttp_client, tmp_path, alert_store):
    c = await aiohttp_client(make_app(tmp_path, history_limit=50, **alert_store))
    for i in range(12):
        severity = "critical" if i % 3 == 0 else "warning"
        resp = await c.post("/api/alerts/webhook", headers=AUTH,
                            json=payload(am_alert(f"A{i:02d}", severity=severity)))
        assert resp.status == 200
    resp = await c.post("/api/alerts/webhook", headers=AUTH,
                        json=payload(am_alert("A00", status="resolved", severity="critical")))
    assert resp.status == 200
    return c


async def test_current_alerts_with_filters(client):
    body = await (await client.get("/api/alerts")).json()
    assert body["seq"] == 13 and body["epoch"] and len(body["alerts"]) == 11
    body = await (await client.get('/api/alerts?filter=severity="critical"')).json()
    assert sorted(a["labels"]["alertname"] for a in body["alerts"]) == ["A03", "A06", "A09"]


async def test_history_pages_through_the_log(client):
    seen, since = [], 0
    while since is not None:
        page = await (await client.get(f"/api/alerts/history?since={since}&limit=5")).json()
        assert len(page["events"]) <= 5 and page["last_seq"] == 13 and page["first_seq"] == 1
        seen += [e["seq"] for e in page["events"]]
        since = page["next"]
    assert seen == list(range(1, 14))


async def test_history_with_a_filter(client):
    url = '/api/alerts/history?filter=severity="critical"&limit=2'
    page = await (await client.get(url)).json()
    assert [e["alert"]["labels"]["alertname"] for e in page["events"]] == ["A00", "A03"]
    rest = await (await client.get(url + f"&since={page['next']}")).json()
    assert [(e["alert"]["labels"]["alertname"], e["event"]) for e in rest["events"]] == [
        ("A06", "firing"), ("A09", "firing")]
    last = await (await client.get(url + f"&since={rest['next']}")).json()
    assert [e["event"] for e in last["events"]] == ["resolved"] and last["next"] is None


@ONE_BACKEND
@pytest.mark.parametrize(("query", "detail"), [
    ("?limit=0", "limit"), ("?limit=51", "limit"), ("?since=-1", "since"),
    ("?since=x", "since"), ('?filter=a=~"["', "bad matcher"),
])
async def test_bad_history_parameters_are_400(client, query, detail):
    resp = await client.get("/api/alerts/history" + query)
    body = await resp.json()
    assert resp.status == 400 and detail in body["detail"]


@ONE_BACKEND
async def test_bad_filter_on_current_is_400(client):
    resp = await client.get("/api/alerts?filter=nonsense")
    assert resp.status == 400 and (await resp.json())["error"] == "bad_request"


@ONE_BACKEND
async def test_alert_endpoints_are_documented_in_openapi(client):
    from openapi_spec_validator import validate

    doc = await (await client.get("/api/openapi.json")).json()
    validate(doc)
    hook = doc["paths"]["/api/alerts/webhook"]["post"]
    assert {"200", "400", "401", "413", "503"} <= set(hook["responses"])
    alert = doc["components"]["schemas"]["Alert"]
    assert set(alert["required"]) == {"fingerprint", "status", "labels", "annotations",
                                      "startsAt", "endsAt", "generatorURL", "source",
                                      "updatedAt", "cluster", "state", "silencedBy",
                                      "inhibitedBy"}
    for path in ("/api/alerts", "/api/alerts/history", "/api/ws/ws/alerts", "/api/sse/alerts"):
        assert not doc["paths"][path]["get"]["summary"].startswith("GET ")


async def test_retention_is_applied_in_the_background(aiohttp_client, tmp_path, alert_store):
    import asyncio

    c = await aiohttp_client(make_app(tmp_path, retention_rows=3, prune_interval=0.05,
                                           **alert_store))
    for i in range(6):
        resp = await c.post("/api/alerts/webhook", headers=AUTH, json=payload(am_alert(f"P{i}")))
        assert resp.status == 200
    for _ in range(100):
        page = await (await c.get("/api/alerts/history")).json()
        if page["first_seq"] == 4:
            break
        await asyncio.sleep(0.05)
    assert [e["seq"] for e in page["events"]] == [4, 5, 6] and page["last_seq"] == 6


async def test_health_names_the_backend_the_alert_tests_run_on(client, alert_store):
    """Guards the `alert_store` parametrization: the app under test keeps its log where the
    fixture says, so a test taking it really runs on each backend."""
    check = (await (await client.get("/health")).json())["checks"]["alerts"]
    assert check["ok"] is True and check["store"]["backend"] == alert_store["store"]
