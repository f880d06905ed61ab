"""End to end with real processes: exporter -> Prometheus (rules) -> Alertmanager -> bridge ->
a `websockets` client; and a bridge SIGKILLed while alerts change, resumed losslessly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
import yaml

from tests import servers

pytestmark = pytest.mark.integration

TOKEN = "integration-token"
REPO_AM_CONFIG = Path(__file__).resolve().parents[3] / "config/alertmanager/alertmanager.yml"
TEST_RULE = {"groups": [{"name": "promwire-test", "rules": [{
    "alert": "PromwireTestAlert",
    "expr": 'node_memory_MemTotal_bytes{job="node"} > 0',
    "labels": {"severity": "info"},
    "annotations": {"summary": "memory total on {{ $labels.instance }} is positive"},
}]}]}


def am_config(bridge_port: int, token_file: Path) -> dict[str, Any]:
    """The shipped config/alertmanager/alertmanager.yml, pointed at this bridge, fast timings."""
    config = yaml.safe_load(REPO_AM_CONFIG.read_text())
    config["route"].update(group_wait="500ms", group_interval="1s", repeat_interval="1h")
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"http://127.0.0.1:{bridge_port}/api/alerts/webhook"
            hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    return config


def start_am_and_bridge(base: Path, prom_url: str, reconcile_interval: float = 1.0,
                        resend_interval: float = 1.0, store: dict[str, Any] | None = None
                        ) -> tuple[servers.Process, servers.Process]:
    """A real Alertmanager and bridge (its log on SQLite, or where `store`, the `alert_store`
    fixture's settings, says). Nothing re-sends these tests' alerts to Alertmanager unless they
    start a Prometheus, so by default an alert missing from it is resolved by reconciliation
    after a second (`alerts.resend_interval`)."""
    port = servers.free_port()
    token_file = base / "token"
    token_file.write_text(TOKEN + "\n")
    am = servers.alertmanager(base / "am", am_config(port, token_file)).start()
    config = {"alerts": {"heartbeat": 1.0, "resend_interval": resend_interval, **(store or {})},
              "alertmanager": {"reconcile_interval": reconcile_interval,
                               "reconcile_backoff_max": 1.0}}
    bridge = servers.bridge(base / "bridge", prom_url, port=port, alertmanager_url=am.url,
                            token=TOKEN, config=config)
    bridge.start()
    return am, bridge


def post_reload(prom_url: str) -> int:
    req = urllib.request.Request(prom_url + "/-/reload", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


def ws_url(bridge: servers.Process, query: str = "") -> str:
    return bridge.url.replace("http://", "ws://") + "/api/ws/ws/alerts" + query


async def next_alert(ws: Any, predicate: Any, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching alert event in time")
        frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        if frame["type"] == "alert" and predicate(frame):
            return frame


async def test_rule_fires_and_resolves_through_alertmanager_to_a_websocket(node_stack, tmp_path,
                                                                         alert_store):
    # Reconciliation only at start-up: the events below must come through the webhook.
    am, bridge = start_am_and_bridge(tmp_path, "http://127.0.0.1:1", reconcile_interval=0,
                                     store=alert_store)
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(TEST_RULE))
    prom = servers.prometheus(tmp_path / "prom", [node_stack.exporter_target],
                              rule_files=[rules], alertmanager=am.url)
    # A removed rule's alert is not resolved explicitly: Alertmanager resolves it when its endsAt
    # (4 x the resend delay, 1 min by default) passes. A short delay keeps the test short.
    prom.argv.append("--rules.alert.resend-delay=1s")
    try:
        async with websockets.connect(ws_url(bridge)) as ws:
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "snapshot" and snapshot["alerts"] == []
            prom.start()
            named = lambda f: f["alert"]["labels"]["alertname"] == "PromwireTestAlert"  # noqa: E731
            fired = await next_alert(ws, named, 90)
            assert fired["event"] == "firing" and fired["status"] == "firing"
            alert = fired["alert"]
            assert alert["source"] == "alertmanager"
            assert alert["labels"]["instance"] == node_stack.exporter_target
            assert alert["annotations"]["summary"].startswith("memory total on ")
            # Remove the rule and reload Prometheus: the resolution flows through.
            rules.write_text(yaml.safe_dump({"groups": []}))
            assert await asyncio.to_thread(post_reload, prom.url) == 200
            resolved = await next_alert(ws, named, 90)
            assert (resolved["event"], resolved["status"]) == ("resolved", "resolved")
            assert resolved["seq"] > fired["seq"]
            assert resolved["alert"]["fingerprint"] == alert["fingerprint"]
    finally:
        prom.stop()
        bridge.stop()
        am.stop()


def notifications_sent(prom_url: str) -> float:
    """Prometheus' own count of alerts it delivered to Alertmanager (from its /metrics)."""
    _, body = servers.http_get(prom_url + "/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("prometheus_notifications_sent_total"))


def reconcile_held(bridge: servers.Process) -> int:
    _, body = servers.http_json(bridge.url + "/health")
    return int(body["checks"]["alerts"]["reconcile"]["held"])


async def test_alertmanager_restart_while_a_rule_fires_streams_no_resolved(node_stack, tmp_path,
                                                                          alert_store):
    """Alertmanager forgets its alerts when it restarts; Prometheus re-sends a firing one only
    every resend delay (3 s here, evaluating every 1 s, so the bridge waits 6 s). Meanwhile
    reconciliation (every 0.5 s) finds the alert missing: it must hold it, not stream
    `resolved` (and a `refired` later), as it once did."""
    am, bridge = start_am_and_bridge(tmp_path, "http://127.0.0.1:1", reconcile_interval=0.5,
                                     resend_interval=6.0, store=alert_store)
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(TEST_RULE))
    prom = servers.prometheus(tmp_path / "prom", [node_stack.exporter_target],
                              rule_files=[rules], alertmanager=am.url)
    prom.argv.append("--rules.alert.resend-delay=3s")
    named = lambda f: f["alert"]["labels"]["alertname"] == "PromwireTestAlert"  # noqa: E731
    try:
        async with websockets.connect(ws_url(bridge)) as ws:
            await ws.recv()  # the snapshot
            prom.start()
            fired = await next_alert(ws, named, 90)
            assert fired["event"] == "firing"
            # Restart right after Prometheus delivered it: the next re-send is ~4 s away.
            sent = await asyncio.to_thread(notifications_sent, prom.url)
            await asyncio.to_thread(servers.wait_for, lambda: notifications_sent(prom.url) > sent,
                                    timeout=30, interval=0.05, message="a re-send")
            await asyncio.to_thread(am.stop)
            await asyncio.to_thread(am.start)
            held_seen, events = 0, []
            deadline = time.monotonic() + 40
            # Until it was missing and is back (nothing left to decide), or something streamed.
            while not events and time.monotonic() < deadline:
                held = await asyncio.to_thread(reconcile_held, bridge)
                held_seen = max(held_seen, held)
                if held_seen and held == 0:
                    break
                with contextlib.suppress(TimeoutError):
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.3))
                    if frame["type"] == "alert" and named(frame):
                        events.append(frame["event"])
            # One more reconciliation's worth of listening.
            with contextlib.suppress(TimeoutError):
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                    if frame["type"] == "alert" and named(frame):
                        events.append(frame["event"])
            assert events == []
            # Reconciliation did see it missing from the restarted Alertmanager, and it is back.
            assert held_seen == 1 and held == 0
        _, body = await asyncio.to_thread(servers.http_json, bridge.url + "/api/alerts")
        assert [a["status"] for a in body["alerts"]
                if a["labels"]["alertname"] == "PromwireTestAlert"] == ["firing"]
    finally:
        prom.stop()
        bridge.stop()
        am.stop()


class AlertChurn:
    """Changes alerts in Alertmanager (as Prometheus would) from a thread: new ones fire,
    older ones resolve, until stopped."""

    def __init__(self, am_url: str) -> None:
        self.am_url = am_url
        self.firing: list[str] = []
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def push(self, name: str, resolved: bool = False) -> None:
        now = datetime.now(UTC)
        ends = now - timedelta(seconds=1) if resolved else now + timedelta(hours=1)
        body = [{"labels": {"alertname": name, "instance": "churn:9100", "severity": "warning"},
                 "annotations": {"summary": name}, "startsAt": "2026-01-01T00:00:00Z",
                 "endsAt": ends.isoformat()}]
        req = urllib.request.Request(f"{self.am_url}/api/v2/alerts",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5):
            pass

    def step(self) -> None:
        self.count += 1
        name = f"Churn{self.count:03d}"
        self.push(name)
        self.firing.append(name)
        if self.count % 3 == 0:
            self.push(self.firing.pop(0), resolved=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()
            time.sleep(0.15)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Follower:
    """One subscriber through AlertChurn and a SIGKILLed bridge: the alert frames it got, the
    churn alerts firing by them, and the two halves of its stream (before the kill, resumed)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.state: set[str] = set()

    def apply(self, frame: dict[str, Any]) -> None:
        self.received.append(frame)
        name = frame["alert"]["labels"]["alertname"]
        (self.state.add if frame["status"] == "firing" else self.state.discard)(name)

    async def until_killed(self, ws: Any, churn: AlertChurn, kill: Any, after: int = 8
                           ) -> tuple[str, int]:
        """From the snapshot on, with the churn started: `kill` (a SIGKILL) once `after` alert
        frames came, and read on until the stream ends. The (epoch, seq) to resume from."""
        snapshot = json.loads(await ws.recv())
        epoch, last = snapshot["epoch"], snapshot["seq"]
        churn.start()
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame["type"] == "alert":
                    self.apply(frame)
                    last = frame["seq"]
                    if len(self.received) == after:
                        kill()
        return epoch, last

    async def until_settled(self, ws: Any, am_url: str, epoch: str) -> None:
        """The resumed stream, until the firing set is Alertmanager's: alert frames of the same
        epoch and heartbeats only (no resync). 60 s only stops a hang."""
        deadline = time.monotonic() + 60
        while self.state != await asyncio.to_thread(am_active, am_url):
            assert time.monotonic() < deadline, sorted(self.state)
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 2))
            except TimeoutError:
                continue
            assert frame["type"] in ("alert", "heartbeat"), frame
            if frame["type"] == "alert":
                assert frame["epoch"] == epoch
                self.apply(frame)

    def check_exactly_once(self, bridge: servers.Process) -> list[dict[str, Any]]:
        """No gap and no duplicate, and the frames are the log's, byte for byte (its history
        from the first one received). The log's events."""
        seqs = [f["seq"] for f in self.received]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "gap or duplicate"
        status, body = servers.http_json(bridge.url + "/api/alerts/history?limit=1000")
        assert status == 200
        log: list[dict[str, Any]] = body["events"]
        assert [e for e in log if e["seq"] >= seqs[0]] == self.received
        return log


def am_active(am_url: str) -> set[str]:
    with urllib.request.urlopen(f"{am_url}/api/v2/alerts?active=true", timeout=5) as resp:
        return {a["labels"]["alertname"] for a in json.loads(resp.read())
                if a["labels"].get("instance") == "churn:9100"}


async def test_sigkill_restart_resume_is_exactly_once_and_recovers_downtime(tmp_path, alert_store):
    am, bridge = start_am_and_bridge(tmp_path, "http://127.0.0.1:1", store=alert_store)
    churn = AlertChurn(am.url)
    sub = Follower()
    try:
        async with websockets.connect(ws_url(bridge)) as ws:
            # SIGKILL while alerts keep changing.
            epoch, last = await sub.until_killed(ws, churn, bridge.kill)
        await asyncio.sleep(2.0)  # changes continue while the bridge is down
        churn.stop()
        downtime_names = {f"Churn{i:03d}" for i in range(1, churn.count + 1)}
        bridge.start()
        async with websockets.connect(ws_url(bridge, f"?since={last}&epoch={epoch}")) as ws:
            await sub.until_settled(ws, am.url, epoch)
        await asyncio.to_thread(sub.check_exactly_once, bridge)
        # Something happened while the bridge was down, and it was recovered.
        assert churn.count > 8 and sub.state == am_active(am.url) and sub.state <= downtime_names
        resolved = {f["alert"]["labels"]["alertname"] for f in sub.received
                    if f["status"] == "resolved"}
        assert resolved, "no resolution was streamed"
    finally:
        if churn._thread.is_alive():
            churn.stop()
        bridge.stop()
        am.stop()
