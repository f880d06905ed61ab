"""Groups and backfill against real processes: Prometheus with rules that fire, Alertmanager."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from bridge.alerts.backfill import Backfiller
from bridge.alerts.model import parse_time
from bridge.app import create_app
from bridge.config import (
    AlertmanagerConfig,
    AlertsConfig,
    AuthConfig,
    BridgeConfig,
    ClusterConfig,
    PrometheusConfig,
)
from bridge.upstream.prometheus import PrometheusClient
from tests import servers
from tests.bridge.alerts.helpers import TOKEN, make_store

pytestmark = pytest.mark.integration


def rules(tmp_path, expr: str) -> list:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "interval": "1s", "rules": [
        {"alert": "Flap", "expr": expr, "labels": {"severity": "page"}}]}]}))
    return [path]


@pytest.fixture
def am(tmp_path):
    proc = servers.alertmanager(tmp_path / "am", {
        "route": {"receiver": "team", "group_by": ["alertname"], "group_wait": "1s"},
        "receivers": [{"name": "team"}]}).start()
    yield proc
    proc.stop()


async def test_groups_per_cluster_with_a_dead_cluster_listed_in_errors(aiohttp_client, tmp_path,
                                                                      am):
    prom = servers.prometheus(tmp_path / "prom", [], rule_files=rules(tmp_path, "vector(1)"),
                              alertmanager=am.url)
    # Its first notification may go before Alertmanager is discovered (dropped): re-send soon.
    prom.argv.append("--rules.alert.resend-delay=1s")
    prom.start()
    try:
        config = BridgeConfig(
            data_dir=str(tmp_path / "data"), auth=AuthConfig(token=TOKEN),
            prometheus=PrometheusConfig(url=prom.url),
            alertmanager=AlertmanagerConfig(clusters=(
                ClusterConfig("main", (am.url,)),
                ClusterConfig("dead", (f"http://127.0.0.1:{servers.free_port()}",)))),
            alerts=AlertsConfig(backfill=False))
        client = await aiohttp_client(create_app(config))
        body: dict = {}
        for _ in range(150):
            resp = await client.get("/api/alerts/groups")
            assert resp.status == 200
            body = await resp.json()
            if body["groups"]:
                break
            await asyncio.sleep(0.2)
        (group,) = body["groups"]
        assert group["cluster"] == "main" and group["receiver"] == "team"
        assert group["labels"] == {"alertname": "Flap"}
        (alert,) = group["alerts"]
        assert alert["labels"]["severity"] == "page" and alert["status"] == "firing"
        assert alert["state"] == "active" and alert["silencedBy"] == []
        assert [e["cluster"] for e in body["errors"]] == ["dead"]
        resp = await client.get("/api/alerts/groups", params={"filter": 'severity="none"'})
        assert (await resp.json())["groups"] == []
        resp = await client.get("/api/alerts/groups", params={"state": "suppressed"})
        assert (await resp.json())["groups"] == []
        assert (await client.get("/api/alerts/groups?cluster=dead")).status == 503
        resp = await client.get("/api/alerts/groups?cluster=nope")
        assert resp.status == 400 and (await resp.json())["error"] == "bad_request"
        assert (await client.get("/api/alerts/groups?state=bogus")).status == 400
    finally:
        prom.stop()


async def test_backfill_writes_finished_episodes_from_alerts_once(tmp_path, alert_store):
    """A rule firing 10 s of every 20: each finished episode becomes one firing and one
    resolved event with Prometheus' startsAt; a second run adds nothing. On either backend."""
    prom = servers.prometheus(tmp_path / "prom", [],
                              rule_files=rules(tmp_path, "(vector(time()) % 20) < 10")).start()
    client = PrometheusClient(PrometheusConfig(url=prom.url))
    await client.open()
    settings = {**alert_store, "retention_days": 0.01, "backfill_holdoff": 1.0,
                "backfill_step": 1.0}
    config = AlertsConfig(**settings)
    store = make_store(tmp_path / "data", settings)
    await store.open()
    try:
        backfiller = Backfiller(client, store, config, "default")
        written = 0
        for _ in range(60):
            written = await backfiller.run_once()
            if written:
                break
            backfiller.resume_ms = None
            await asyncio.sleep(1)
        assert written >= 2 and written % 2 == 0
        _, last = await store.bounds()
        rows = await store.events_after(0, 100)
        frames = [json.loads(text) for _, text in rows]
        assert [f["event"] for f in frames[:2]] == ["firing", "resolved"]
        for i, (fire, resolve) in enumerate(zip(frames[::2], frames[1::2], strict=True)):
            assert fire["alert"]["source"] == resolve["alert"]["source"] == "prometheus"
            assert fire["alert"]["labels"] == {"alertname": "Flap", "severity": "page"}
            starts = parse_time(fire["alert"]["startsAt"])
            ends = parse_time(resolve["alert"]["endsAt"])
            if i == 0 and starts % 20_000 >= 1_000:
                # Prometheus started inside a firing window: its first episode begins then,
                # and ends, like every other, by the first evaluation after second 10 (<= 11).
                assert ends % 20_000 <= 11_000 and 0 < ends - starts <= 11_000
                continue
            assert starts % 20_000 < 1_000  # fired at the first evaluation of its window
            assert 9_000 <= ends - starts <= 11_000
            assert fire["timestamp"] == fire["alert"]["startsAt"]
            assert resolve["timestamp"] == resolve["alert"]["endsAt"]
        backfiller.resume_ms = None  # a restart: the whole window again
        assert await backfiller.run_once() == 0 or (await store.bounds())[1] > last
        again = [json.loads(t)["alert"]["startsAt"] for _, t in await store.events_after(0, 1000)]
        assert len(again) == len(set(again)) * 2  # still one firing and one resolved each
    finally:
        await store.close()
        await client.close()
        prom.stop()
