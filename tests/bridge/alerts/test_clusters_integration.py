"""Two Alertmanager clusters fed by one real Prometheus, and a bridge process reading both.

`ha` is a pair gossiping on loopback (tests/servers.alertmanager_pair), `solo` a single peer;
Prometheus sends every alert to all three, each Alertmanager notifies the bridge, and the
bridge reconciles each cluster through one peer at a time. Subscribers are `websockets`
clients. The tests run in order on one stack (the last one kills a peer), once per alert
backend: the stack is the module's `module_alert_store`'s, and pytest runs every test on the
SQLite one, then every test again on a new stack on the PostgreSQL one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
import yaml

from tests import servers

pytestmark = pytest.mark.integration

TOKEN = "clusters-token"
STEADY = {"alert": "ClusterSteady", "expr": "vector(1)", "labels": {"severity": "info"},
          "annotations": {"summary": "always firing"}}
LIFE = {"alert": "ClusterLife", "expr": "vector(1)", "labels": {"severity": "warning"},
        "annotations": {"summary": "fires, then its rule is removed"}}

ACKED = {"alert": "ClusterAcked", "expr": "vector(1)", "labels": {"severity": "page"},
         "annotations": {"summary": "acked, then its rule is removed"}}


def rules(*alerts: dict[str, Any]) -> str:
    return yaml.safe_dump({"groups": [{"name": "clusters-test", "interval": "1s",
                                       "rules": list(alerts)}]})


def am_config(bridge_port: int) -> dict[str, Any]:
    return {
        "route": {"receiver": "bridge", "group_by": ["alertname"], "group_wait": "500ms",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "bridge", "webhook_configs": [{
            "url": f"http://127.0.0.1:{bridge_port}/api/alerts/webhook", "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}}}]}],
    }


@dataclass
class Stack:
    prom: servers.Process
    pair: tuple[servers.Process, servers.Process]
    solo: servers.Process
    bridge: servers.Process
    rules: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, module_alert_store: dict[str, Any]
          ) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp(f"clusters-{module_alert_store['store']}")
    port = servers.free_port()
    config = am_config(port)
    # peer_timeout 0: both peers of the pair notify every change, as a pair whose gossip lags
    # behind does; the bridge must still log one event per change.
    with servers.alertmanager_pair(base / "ha", config, peer_timeout="0s") as pair:
        solo_port = servers.free_port()
        solo = servers.alertmanager(base / "solo", config, solo_port,
                                    external_url=f"http://127.0.0.1:{solo_port}").start()
        bridge = servers.bridge(base / "bridge", "http://127.0.0.1:1", port=port, token=TOKEN,
                                config={
            "alerts": {"heartbeat": 1.0, "resend_interval": 3.0, **module_alert_store},
            "alertmanager": {"reconcile_interval": 0.5, "reconcile_backoff_max": 1.0,
                             "timeout": 2.0, "clusters": [
                                 {"name": "ha", "peers": [pair[0].url, pair[1].url]},
                                 {"name": "solo", "peers": [solo.url]}]}})
        rule_file = base / "rules.yml"
        rule_file.write_text(rules(STEADY))
        prom = servers.prometheus(base / "prom", [], rule_files=[rule_file])
        prom_yml = base / "prom" / "prometheus.yml"
        prom_config = yaml.safe_load(prom_yml.read_text())
        prom_config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [
            am.address for am in (*pair, solo)]}]}]}
        prom_yml.write_text(yaml.safe_dump(prom_config))
        # A removed rule's alert ends when its endsAt (4 x the resend delay) passes.
        prom.argv.append("--rules.alert.resend-delay=1s")
        try:
            bridge.start()
            prom.start()
            yield Stack(prom, pair, solo, bridge, rule_file)
        finally:
            prom.stop()
            bridge.stop()
            solo.stop()


@dataclass
class Subscriber:
    """A WebSocket subscriber collecting every alert frame in the background."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def of(self, name: str, cluster: str | None = None) -> list[tuple[str, str]]:
        """(event, cluster) of `name`'s events so far."""
        return [(f["event"], f["alert"]["cluster"]) for f in self.frames
                if f["alert"]["labels"]["alertname"] == name
                and cluster in (None, f["alert"]["cluster"])]

    async def until(self, predicate: Any, within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.frames[-10:]}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def subscribe(stack: Stack, query: str = "") -> Any:
    url = stack.bridge.url.replace("http://", "ws://") + "/api/ws/ws/alerts" + query
    sub = Subscriber()
    async with websockets.connect(url) as ws:
        snapshot = json.loads(await ws.recv())
        assert snapshot["type"] == "snapshot"

        async def read() -> None:
            async for text in ws:
                frame = json.loads(text)
                if frame["type"] == "alert":
                    sub.frames.append(frame)
        sub.task = asyncio.create_task(read())
        try:
            yield sub, snapshot
        finally:
            sub.task.cancel()
            await asyncio.gather(sub.task, return_exceptions=True)


def am_request(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        text = resp.read()
    return json.loads(text) if text.strip() else None


def silence(am: servers.Process, name: str) -> str:
    """A silence made directly on one Alertmanager (as amtool or its UI would)."""
    now = datetime.now(UTC)
    body = {"matchers": [{"name": "alertname", "value": name, "isRegex": False,
                          "isEqual": True}],
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "clusters-test", "comment": "testing suppression"}
    return str(am_request(am.url + "/api/v2/silences", "POST", body)["silenceID"])


def history(stack: Stack, name: str) -> list[tuple[str, str]]:
    _, body = servers.http_json(stack.bridge.url + "/api/alerts/history?state=all&limit=1000&"
                                + "filter=" + urllib.request.quote(f'alertname="{name}"'))
    # Silence events (the watcher sees the test's silences) carry no alert.
    return [(e["event"], e["alert"]["cluster"]) for e in body["events"] if e["type"] == "alert"]


def per_cluster(events: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind, cluster in events:
        out.setdefault(cluster, []).append(kind)
    return out


async def test_a_silence_suppresses_then_unsuppresses_in_the_stream(stack):
    async with subscribe(stack) as (default, _), subscribe(stack, "?state=all") as (every, _):
        firing = lambda: {c for k, c in every.of("ClusterSteady") if k == "firing"}  # noqa: E731
        current = await asyncio.to_thread(servers.http_json, stack.bridge.url + "/api/alerts")
        seen = {a["cluster"] for a in current[1]["alerts"]
                if a["labels"]["alertname"] == "ClusterSteady"}
        if seen != {"ha", "solo"}:  # not yet fired before we subscribed
            await every.until(lambda: firing() | seen == {"ha", "solo"}, 90, "both firing")
        silence_id = await asyncio.to_thread(silence, stack.pair[0], "ClusterSteady")
        await default.until(lambda: ("suppressed", "ha") in default.of("ClusterSteady"), 30,
                            "suppressed")
        frame = next(f for f in default.frames if f["event"] == "suppressed")
        assert frame["alert"]["state"] == "suppressed"
        assert frame["alert"]["silencedBy"] == [silence_id]
        assert frame["alert"]["source"] == "reconcile"
        # Only the silenced cluster's alert; the other one stays listed.
        _, body = await asyncio.to_thread(servers.http_json, stack.bridge.url + "/api/alerts")
        listed = {a["cluster"] for a in body["alerts"]
                  if a["labels"]["alertname"] == "ClusterSteady"}
        assert listed == {"solo"}
        _, body = await asyncio.to_thread(
            servers.http_json, stack.bridge.url + "/api/alerts?state=suppressed&cluster=ha")
        assert [a["silencedBy"] for a in body["alerts"]] == [[silence_id]]
        # Several reconciliations while silenced: never resolved (the webhook never mentions
        # it, Alertmanager's full list does).
        await asyncio.sleep(4)
        await asyncio.to_thread(am_request, f"{stack.pair[0].url}/api/v2/silence/{silence_id}",
                                "DELETE")
        await default.until(lambda: ("unsuppressed", "ha") in default.of("ClusterSteady"), 30,
                            "unsuppressed")
        unsuppressed = default.frames[-1]
        assert unsuppressed["alert"]["state"] == "active"
        assert unsuppressed["alert"]["silencedBy"] == []
        await asyncio.sleep(2)
    ha = per_cluster(await asyncio.to_thread(history, stack, "ClusterSteady"))
    assert ha == {"ha": ["firing", "suppressed", "unsuppressed"], "solo": ["firing"]}


def webhooks_sent(am: servers.Process) -> float:
    """How many webhook notifications this Alertmanager delivered (its own counters: the
    attempts less the failed ones, so a notification the bridge refused does not count)."""
    _, body = servers.http_get(am.url + "/metrics")

    def total(name: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
                   if line.startswith(name + "{") and 'integration="webhook"' in line)
    return (total("alertmanager_notifications_total")
            - total("alertmanager_notifications_failed_total"))


async def test_one_alert_through_the_ha_pair_is_one_firing_and_one_resolved(stack):
    sent = [await asyncio.to_thread(webhooks_sent, peer) for peer in stack.pair]
    async with subscribe(stack, "?state=all") as (sub, _):
        stack.rules.write_text(rules(STEADY, LIFE))
        await asyncio.to_thread(am_request, stack.prom.url + "/-/reload", "POST")
        both = lambda kind: {c for k, c in sub.of("ClusterLife") if k == kind}  # noqa: E731
        await sub.until(lambda: both("firing") == {"ha", "solo"}, 90, "firing in both")
        # Both peers of the pair notify (peer_timeout 0): give them time.
        await asyncio.sleep(4)
        stack.rules.write_text(rules(STEADY))
        await asyncio.to_thread(am_request, stack.prom.url + "/-/reload", "POST")
        await sub.until(lambda: both("resolved") == {"ha", "solo"}, 90, "resolved in both")
        await asyncio.sleep(5)  # late notifications of either peer, reconciliations
        assert per_cluster(sub.of("ClusterLife")) == {"ha": ["firing", "resolved"],
                                                      "solo": ["firing", "resolved"]}
    # Each peer sent at least the firing and the resolved notification itself.
    now = [await asyncio.to_thread(webhooks_sent, peer) for peer in stack.pair]
    assert [after - before >= 2 for after, before in zip(now, sent, strict=True)] == [True, True]
    assert per_cluster(await asyncio.to_thread(history, stack, "ClusterLife")) == {
        "ha": ["firing", "resolved"], "solo": ["firing", "resolved"]}


def bridge_post(stack: Stack, path: str, body: Any) -> Any:
    req = urllib.request.Request(stack.bridge.url + path, data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json",
                                                         "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


async def test_an_ack_of_a_prometheus_alert_expires_on_both_peers_when_it_resolves(stack):
    """Acked through the bridge, a real Prometheus alert turns suppressed (no false
    resolution); once its rule is gone it resolves, and the bridge expires the ack, which
    both peers of the pair then hold as expired."""
    async with subscribe(stack, "?state=all") as (sub, _):
        stack.rules.write_text(rules(STEADY, ACKED))
        await asyncio.to_thread(am_request, stack.prom.url + "/-/reload", "POST")
        await sub.until(lambda: ("firing", "ha") in sub.of("ClusterAcked"), 90, "firing")
        fp = next(f["alert"]["fingerprint"] for f in sub.frames
                  if f["alert"]["labels"]["alertname"] == "ClusterAcked")
        answer = await asyncio.to_thread(bridge_post, stack, f"/api/alerts/{fp}/ack?cluster=ha",
                                         {"comment": "on it"})
        sid = answer["silence"]["id"]
        await sub.until(lambda: ("suppressed", "ha") in sub.of("ClusterAcked"), 60,
                        "suppressed by the ack")
        assert ("resolved", "ha") not in sub.of("ClusterAcked")
        stack.rules.write_text(rules(STEADY))
        await asyncio.to_thread(am_request, stack.prom.url + "/-/reload", "POST")
        await sub.until(lambda: ("resolved", "ha") in sub.of("ClusterAcked"), 90, "resolved")
        kinds = [k for k, c in sub.of("ClusterAcked") if c == "ha"]
        assert kinds[:2] == ["firing", "suppressed"] and kinds.count("resolved") == 1
        assert kinds[-1] == "resolved"  # resolved once, at the end: never while acked

    def expired_on_both() -> bool:
        return all(am_request(f"{peer.url}/api/v2/silence/{sid}")["status"]["state"]
                   == "expired" for peer in stack.pair)
    await asyncio.to_thread(servers.wait_for, expired_on_both, 30, 0.2,
                            "the ack expired on both peers")


def reconcile_of(stack: Stack, cluster: str) -> dict[str, Any]:
    _, body = servers.http_json(stack.bridge.url + "/health")
    return body["checks"]["alerts"]["reconcile"]["clusters"][cluster]


def active_peer(stack: Stack, cluster: str) -> str:
    _, body = servers.http_json(stack.bridge.url + "/health")
    return str(body["checks"]["alertmanager"]["clusters"][cluster]["active"])


async def test_a_peer_killed_midway_fails_over_without_false_resolutions(stack):
    first, second = stack.pair
    async with subscribe(stack, "?state=all") as (sub, snapshot):
        assert {a["cluster"] for a in snapshot["alerts"]
                if a["labels"]["alertname"] == "ClusterSteady"} == {"ha", "solo"}
        runs = reconcile_of(stack, "ha")["runs"]
        await asyncio.to_thread(first.kill)
        # The next reading of `ha` goes to the second peer, which says what the first did.
        await asyncio.to_thread(servers.wait_for,
                                lambda: reconcile_of(stack, "ha")["runs"] >= runs + 3,
                                20, 0.2, "reconciliations after the kill")
        assert await asyncio.to_thread(active_peer, stack, "ha") == second.url
        assert reconcile_of(stack, "ha")["ok"] is True
        # Suppression read through the surviving peer.
        silence_id = await asyncio.to_thread(silence, second, "ClusterSteady")
        await sub.until(lambda: ("suppressed", "ha") in sub.of("ClusterSteady"), 30,
                        "suppressed via the second peer")
        assert sub.frames[-1]["alert"]["silencedBy"] == [silence_id]
        await asyncio.sleep(3)
        assert sub.of("ClusterSteady") == [("suppressed", "ha")]  # nothing resolved
    _, body = await asyncio.to_thread(servers.http_json,
                                      stack.bridge.url + "/api/alerts?state=all")
    assert sorted(a["cluster"] for a in body["alerts"]
                  if a["labels"]["alertname"] == "ClusterSteady") == ["ha", "solo"]
