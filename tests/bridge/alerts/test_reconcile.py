"""Reconciliation against a real Alertmanager (and a small fake one for garbage answers)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from bridge.alerts.model import fingerprint
from bridge.alerts.reconcile import RECONCILER_KEY
from tests import servers
from tests.bridge.alerts.helpers import TOKEN, make_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def am(tmp_path_factory):
    config = {"route": {"receiver": "null", "group_wait": "1h"}, "receivers": [{"name": "null"}]}
    proc = servers.alertmanager(tmp_path_factory.mktemp("am"), config).start()
    yield proc
    proc.stop()


def push(am_url, *names, ends_in=timedelta(minutes=5), **labels):
    """Send alerts to Alertmanager as Prometheus does (POST /api/v2/alerts, one request)."""
    now = datetime.now(UTC)
    body = [{"labels": {"alertname": name, **labels},
             "annotations": {"summary": f"{name} test"},
             "startsAt": (now - timedelta(minutes=1)).isoformat(),
             "endsAt": (now + ends_in).isoformat(),
             "generatorURL": "http://prometheus/graph"} for name in names]
    req = urllib.request.Request(f"{am_url}/api/v2/alerts", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


async def current(client):
    return {a["labels"]["alertname"]: a
            for a in (await (await client.get("/api/alerts")).json())["alerts"]}


async def wait_until(predicate, within=20.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_reconcile_adds_firing_and_resolves_gone_alerts(am, aiohttp_client, tmp_path,
                                                              alert_store):
    tag = str(time.time_ns())
    push(am.url, "ReconcileA", run=tag)
    push(am.url, "ReconcileB", run=tag)
    # Nothing re-sends these alerts (no Prometheus): resolve once missing for 0.5 s.
    client = await aiohttp_client(make_app(tmp_path, alertmanager_url=am.url,
                                           resend_interval=0.5, **alert_store))

    async def both():
        alerts = await current(client)
        return alerts if {"ReconcileA", "ReconcileB"} <= set(alerts) else None
    alerts = await wait_until(both)
    a = alerts["ReconcileA"]
    assert a["source"] == "reconcile" and a["status"] == "firing"
    # Our fingerprint of the labels is the one Alertmanager computed.
    assert a["fingerprint"] == fingerprint(a["labels"])
    # B resolves in Alertmanager (endsAt now): the next reconciliation records it.
    push(am.url, "ReconcileB", ends_in=timedelta(seconds=-1), run=tag)

    async def b_gone():
        return "ReconcileB" not in await current(client)
    await wait_until(b_gone)
    history = (await (await client.get("/api/alerts/history")).json())["events"]
    b_events = [(e["event"], e["alert"]["source"]) for e in history
                if e["alert"]["labels"]["alertname"] == "ReconcileB"]
    assert b_events == [("firing", "reconcile"), ("resolved", "reconcile")]
    health = await (await client.get("/health")).json()
    assert health["checks"]["alerts"]["reconcile"]["ok"] is True


async def test_unreachable_alertmanager_is_retried_and_shown_in_health(aiohttp_client, tmp_path,
                                                                       alert_store):
    url = f"http://127.0.0.1:{servers.free_port()}"
    client = await aiohttp_client(make_app(tmp_path, alertmanager_url=url, **alert_store))
    reconciler = client.app[RECONCILER_KEY]

    async def failed_twice():
        return reconciler.failures >= 2
    await wait_until(failed_twice)
    check = (await (await client.get("/health")).json())["checks"]["alerts"]
    assert check["ok"] is False and check["reconcile"]["ok"] is False
    assert "unreachable" in check["reconcile"]["error"]
    # Webhooks still work while Alertmanager is away.
    assert (await client.get("/api/alerts")).status == 200


async def test_garbage_from_alertmanager_is_an_error_not_a_crash(aiohttp_client, tmp_path,
                                                                 alert_store):
    fake = web.Application()

    async def garbage(request):
        return web.Response(text="<html>not json</html>", content_type="text/html")
    fake.router.add_get("/api/v2/alerts", garbage)
    upstream = await aiohttp_client(fake)
    url = str(upstream.make_url("")).rstrip("/")
    client = await aiohttp_client(make_app(tmp_path, alertmanager_url=url, **alert_store))
    reconciler = client.app[RECONCILER_KEY]

    async def failed():
        return reconciler.failures >= 1
    await wait_until(failed)
    assert "invalid JSON" in reconciler.status()["error"]
    assert reconciler.status()["ok"] is False


async def test_a_truncated_webhook_triggers_a_reconciliation(aiohttp_client, tmp_path, alert_store):
    """A real Alertmanager with `max_alerts: 1` sends one alert of a two-alert group and
    `truncatedAlerts: 1`; the bridge asks Alertmanager for the rest at once (no periodic
    reconciliation here: only at start-up and when triggered)."""
    am_port = servers.free_port()
    client = await aiohttp_client(make_app(tmp_path, alertmanager_url=f"http://127.0.0.1:{am_port}",
                                           reconcile_interval=0, **alert_store))
    reconciler = client.app[RECONCILER_KEY].by_name["default"]
    config = {
        "route": {"receiver": "bridge", "group_by": ["run"], "group_wait": "200ms",
                  "group_interval": "1h", "repeat_interval": "1h"},
        "receivers": [{"name": "bridge", "webhook_configs": [{
            "url": str(client.make_url("/api/alerts/webhook")), "send_resolved": True,
            "max_alerts": 1,
            "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}}}]}],
    }
    am = servers.alertmanager(tmp_path / "am", config, port=am_port)
    await asyncio.to_thread(am.start)
    try:
        async def started():  # the start-up reconciliation, against an empty Alertmanager
            return reconciler.last_success is not None
        await wait_until(started)
        runs = reconciler.runs
        tag = str(time.time_ns())
        await asyncio.to_thread(push, am.url, "TruncA", "TruncB", run=tag)  # one group

        async def both():
            alerts = await current(client)
            return alerts if {"TruncA", "TruncB"} <= set(alerts) else None
        alerts = await wait_until(both)
    finally:
        await asyncio.to_thread(am.stop)
    sources = sorted(a["source"] for a in alerts.values())
    assert sources == ["alertmanager", "reconcile"]  # one by the webhook, one recovered
    assert reconciler.runs == runs + 1
