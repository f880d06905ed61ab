"""Several bridges: the clients and promwire-watch rotate through them on reconnect.

The first tests pin the rotation itself (order, backoff once per full rotation, the resume point
carried to the next bridge); the integration tests run two real bridges, each on its own SQLite
log (so with distinct epochs), kill the one in use, and check that the clients move on and that
the alert stream resyncs, said out loud, instead of mixing two logs. Exactly-once across replicas
that share one log, with no resync, is tests/bridge/alerts/pg/test_client.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge import watch
from bridge.client import AlertsClient, MetricsWebSocketClient
from tests import servers
from tests.bridge.client.helpers import until
from tests.bridge.client.test_alerts import event, scripted
from tests.bridge.client.test_watch import post_alert


def dead_url() -> str:
    return f"http://127.0.0.1:{servers.free_port()}"


# -- the rotation ---------------------------------------------------------------------------

def test_one_url_a_list_or_urls() -> None:
    assert AlertsClient("http://a:1").bridges == ("http://a:1",)
    assert AlertsClient(["http://a:1", "ws://b:2/api/ws/ws/alerts"]).bridges == \
        ("http://a:1", "http://b:2")
    assert MetricsWebSocketClient(urls=["a:1", "https://b/x/"]).bridges == \
        ("http://a:1", "https://b/x")
    assert MetricsWebSocketClient().bridges == ("http://127.0.0.1:8000",)
    for bad in ([], ["http://a:1", "ftp://b"], ["http://a"] * 65):
        with pytest.raises(ValueError):
            AlertsClient(bad)
    with pytest.raises(ValueError, match="not both"):
        MetricsWebSocketClient("http://a:1", urls=["http://b:1"])


async def test_attempts_alternate_and_the_backoff_grows_once_per_rotation() -> None:
    urls = [dead_url(), dead_url()]
    client = AlertsClient(urls, backoff_base=0.01, backoff_cap=1.0, ping_interval=None)
    async with client:
        await until(lambda: len(client.attempts) >= 7)
    attempts = list(client.attempts)[:7]
    assert [a.bridge for a in attempts] == [urls[i % 2] for i in range(7)]
    assert not any(a.ok for a in attempts)
    # A hop to the other bridge waits at most the base; a rotation that failed doubles it.
    assert [a.ceiling for a in attempts] == [0.0, 0.01, 0.01, 0.01, 0.02, 0.01, 0.04]


async def test_a_lost_stream_resumes_on_the_next_bridge(aiohttp_server: Any) -> None:
    first, url_a = await scripted(aiohttp_server, [
        [{"type": "snapshot", "epoch": "E1", "seq": 0, "alerts": []}, event(1), event(2)],
        ["hold"]])
    second, url_b = await scripted(aiohttp_server, [[event(3), "hold"]])
    client = AlertsClient([url_a, url_b], backoff_base=0.01, backoff_cap=0.05,
                          ping_interval=None)
    delivered: list[dict[str, Any]] = []
    client.set_callback(delivered.append)
    async with client:
        await until(lambda: client.seq == 3)
    assert second.queries == [{"since": ["2"], "epoch": ["E1"]}]
    assert [f.get("seq") for f in delivered] == [0, 1, 2, 3] and client.resyncs == 0
    assert first.queries == [{}]  # the first bridge was left for the second


# -- two real bridges, each on its own log --------------------------------------------------

@pytest.fixture
def two_bridges(node_stack: Any, tmp_path: Path) -> Any:
    alertmanager = dead_url()  # reconciliation has nothing to say about manual alerts
    pair = [servers.bridge(tmp_path / name, node_stack.prometheus.url, port=servers.free_port(),
                           alertmanager_url=alertmanager,
                           config={"alerts": {"heartbeat": 1}, "streams": {"interval": 1}})
            for name in ("a", "b")]
    try:
        for bridge in pair:
            bridge.start()
        yield pair
    finally:
        for bridge in pair:
            bridge.stop()


def manual(name: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "severity": "warning"}, "status": "firing"}


def epoch_of(bridge: servers.Process) -> str:
    status, body = servers.http_json(bridge.url + "/api/alerts")
    assert status == 200, body
    return body["epoch"]


@pytest.mark.integration
async def test_clients_move_to_the_other_bridge_and_resync_between_logs(two_bridges: Any
                                                                        ) -> None:
    a, b = two_bridges
    await asyncio.to_thread(post_alert, a.url, manual("OnBoth"))  # as an HA pair posts
    await asyncio.to_thread(post_alert, b.url, manual("OnBoth"))
    await asyncio.to_thread(post_alert, a.url, manual("OnlyOnA"))
    epoch_a, epoch_b = epoch_of(a), epoch_of(b)
    assert epoch_a != epoch_b
    options = {"backoff_base": 0.05, "backoff_cap": 0.4, "heartbeat_timeout": 5}
    alerts = AlertsClient([a.url, b.url], **options)
    metrics = MetricsWebSocketClient([a.url, b.url], **options)
    delivered: list[dict[str, Any]] = []
    resynced: list[dict[str, Any]] = []
    alerts.set_callback(delivered.append)
    alerts.set_resync_callback(resynced.append)
    updates: list[Any] = []
    metrics.set_callback(updates.append)
    names = lambda: {x["labels"]["alertname"] for x in alerts.firing}  # noqa: E731
    async with alerts, metrics:
        await until(lambda: alerts.epoch == epoch_a and updates)
        assert names() == {"OnBoth", "OnlyOnA"} and alerts.http_base == a.url
        await asyncio.to_thread(a.kill)  # no goodbye
        await until(lambda: alerts.epoch == epoch_b)
        seen = len(updates)
        await until(lambda: len(updates) > seen and metrics.state == "connected")
        assert metrics.http_base == b.url and alerts.http_base == b.url
        assert names() == {"OnBoth"}  # B's view, not a mix of both logs
        await asyncio.to_thread(post_alert, b.url, manual("AfterFailover"))
        await until(lambda: "AfterFailover" in names())
        await asyncio.to_thread(a.start)  # back on its own log, and B goes away
        await asyncio.to_thread(b.kill)
        await until(lambda: alerts.epoch == epoch_a)
        assert names() == {"OnBoth", "OnlyOnA"}
    snapshots = [f for f in delivered if f["type"] == "snapshot"]
    assert [(s["epoch"], s["resynced"], s.get("reason")) for s in snapshots] == [
        (epoch_a, False, None), (epoch_b, True, "epoch_changed"), (epoch_a, True, "epoch_changed")]
    assert resynced == snapshots[1:] and alerts.resyncs == 2
    events = [f for f in delivered if f["type"] == "alert"]
    assert [(f["epoch"], f["alert"]["labels"]["alertname"]) for f in events] == \
        [(epoch_b, "AfterFailover")]
    assert {x.bridge for x in metrics.attempts if x.ok} == {a.url, b.url}


@pytest.mark.integration
def test_watch_rotates_past_a_dead_bridge(two_bridges: Any) -> None:
    a, _ = two_bridges
    dead = dead_url()
    assert watch.main([f"{dead},{dead}", "--bridge", a.url, "--once"]) == 0
    other = dead_url()
    out = subprocess.run([sys.executable, "-m", "bridge.watch", dead, "--bridge", other,
                          "--once"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and len(out.stderr.splitlines()) == 1
    assert f"cannot reach {dead}" in out.stderr and f"cannot reach {other}" in out.stderr
    proc = subprocess.Popen([sys.executable, "-m", "bridge.watch", dead, "--bridge", a.url,
                             "--json", "--no-alerts"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            frame = json.loads(line)
            if frame["type"] == "metrics":
                break
        else:
            pytest.fail("promwire-watch ended without a metrics frame")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert frame["id"] == "default" and frame["metrics"]
