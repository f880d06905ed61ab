"""Acks extended while their alert fires, against a real Alertmanager: the ack's endsAt moves
later in Alertmanager, each move is one `updated` silence event by the extender, the alert's
`ack.until` follows, and the extensions stop at the cap, where the ack ends. Small durations
(seconds) keep it short; the bridge runs in-process and learns the alert by reconciliation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bridge.alerts.ackextend import EXTENDER, extend_ack
from bridge.alerts.backend import STORE_KEY
from bridge.alerts.model import fingerprint, format_time, parse_time
from bridge.app import create_app
from bridge.config import AlertmanagerConfig, AlertsConfig, AuthConfig, BridgeConfig
from bridge.upstream.alertmanager import CLUSTERS_KEY
from tests import servers
from tests.bridge.alerts.helpers import AUTH, TOKEN
from tests.bridge.alerts.test_silences_live import AM_CONFIG, Stream, push_alert, silence_event
from tests.servers import Process, http_json

pytestmark = pytest.mark.integration

# Due 8 s before its end, moved to 10 s from now, at most 20 s after its start: seconds of
# slack for a watcher pass on a loaded machine, whose passes come every 0.3 s when idle.
RULE = AlertsConfig(resend_interval=1.0, heartbeat=0.5, busy_timeout=0.2,
                    ack_extend_if_expiring_in=8.0, ack_extend_by=10.0, ack_max_duration=20.0)


@pytest.fixture(scope="module")
def am(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    proc = servers.alertmanager(tmp_path_factory.mktemp("am"), AM_CONFIG).start()
    try:
        yield proc
    finally:
        proc.stop()


def bridge_app(tmp_path: Any, am_url: str, alerts: AlertsConfig) -> Any:
    return create_app(BridgeConfig(
        data_dir=str(tmp_path), auth=AuthConfig(token=TOKEN), alerts=alerts,
        alertmanager=AlertmanagerConfig(url=am_url, reconcile_interval=0.3,
                                        reconcile_backoff_max=0.5, timeout=2.0)))


@contextlib.asynccontextmanager
async def connect(client: Any) -> AsyncIterator[Stream]:
    ws = await client.ws_connect("/api/ws/ws/alerts")
    stream = Stream(ws)
    await stream.next(lambda f: f["type"] == "snapshot")
    try:
        yield stream
    finally:
        await ws.close()


async def fire_and_ack(client: Any, stream: Stream, am_url: str, name: str) -> dict[str, Any]:
    """An alert fired in Alertmanager, seen by the bridge, acked for 8 s: the ack."""
    labels = {"alertname": name, "instance": "db-1:9100"}
    fp = fingerprint(labels)
    await asyncio.to_thread(push_alert, am_url, labels)
    await stream.next(lambda f: f["type"] == "alert" and f["alert"]["fingerprint"] == fp)
    resp = await client.post(f"/api/alerts/{fp}/ack", headers=AUTH,
                             json={"comment": "on it", "duration": "8s"})
    assert resp.status == 200, await resp.text()
    ack = (await resp.json())["silence"]
    await stream.next(silence_event("created", ack["id"]))
    return ack


def am_silence(am_url: str, sid: str) -> dict[str, Any]:
    status, body = http_json(f"{am_url}/api/v2/silence/{sid}")
    assert status == 200, body
    return body


async def test_an_ack_is_extended_while_its_alert_fires_up_to_its_cap(aiohttp_client, tmp_path,
                                                                      am):
    client = await aiohttp_client(bridge_app(tmp_path, am.url, RULE))
    async with connect(client) as stream:
        ack = await fire_and_ack(client, stream, am.url, "ExtendMe")
        fp = ack["ack"]["fingerprint"]
        first = await stream.next(silence_event("updated", ack["id"]))
        assert first["by"] == EXTENDER
        moved = first["silence"]
        assert parse_time(moved["endsAt"]) > parse_time(ack["endsAt"])
        # The same silence, only later: start, matchers, comment and acker kept.
        assert {k: v for k, v in moved.items() if k != "endsAt"} == \
            {k: v for k, v in ack.items() if k != "endsAt"}
        in_am = await asyncio.to_thread(am_silence, am.url, ack["id"])
        assert parse_time(in_am["endsAt"]) >= parse_time(moved["endsAt"])
        assert in_am["createdBy"] == "default"
        alerts = (await (await client.get("/api/alerts?state=all")).json())["alerts"]
        [acked] = [a for a in alerts if a["fingerprint"] == fp]
        until = acked["ack"]["until"]
        assert parse_time(until) > parse_time(ack["endsAt"])

        # At the cap the extensions stop and the ack ends; the alert fires on.
        await stream.next(silence_event("expired", ack["id"]))
        updates = [f for f in stream.frames
                   if f["type"] == "silence" and f["silence"]["id"] == ack["id"]
                   and f["event"] == "updated"]
        ends = [parse_time(f["silence"]["endsAt"]) for f in updates]
        cap = parse_time(ack["startsAt"]) + 20_000
        assert ends == sorted(set(ends)) and ends[-1] == cap, (ends, cap)
        assert {f["by"] for f in updates} == {EXTENDER}
        assert until in {format_time(e) for e in ends}
        health = await (await client.get("/health")).json()
        assert health["checks"]["silences"]["acks_extended"] == len(updates)
        assert parse_time((await asyncio.to_thread(am_silence, am.url, ack["id"]))["endsAt"]) \
            == cap
        alerts = (await (await client.get("/api/alerts?state=all")).json())["alerts"]
        [still] = [a for a in alerts if a["fingerprint"] == fp]
        assert still["status"] == "firing" and still["ack"] is None


async def test_an_extension_racing_the_ack_s_expiry_leaves_nothing_silenced(aiohttp_client,
                                                                           tmp_path, am):
    """The ack is expired in Alertmanager between the extender's look and its write (as the
    keeper does when the alert resolves then): Alertmanager makes the update a new silence,
    which the extender expires at once."""
    off = AlertsConfig(resend_interval=1.0, heartbeat=0.5, ack_extend=False)
    client = await aiohttp_client(bridge_app(tmp_path, am.url, off))
    app = client.server.app
    async with connect(client) as stream:
        ack = await fire_and_ack(client, stream, am.url, "RaceMe")

        def expired_meanwhile(silence: Any) -> bool:
            req = urllib.request.Request(f"{am.url}/api/v2/silence/{silence['id']}",
                                         method="DELETE")
            with urllib.request.urlopen(req, timeout=5):
                pass
            return True

        done = await extend_ack(app[CLUSTERS_KEY].get("default"), app[STORE_KEY], ack["id"],
                                RULE, expired_meanwhile)
        assert done is None
        status, listed = await asyncio.to_thread(http_json, f"{am.url}/api/v2/silences")
        assert status == 200
        labels = sorted((m["name"], m["value"]) for m in ack["matchers"])
        same = [s for s in listed
                if sorted((m["name"], m["value"]) for m in s["matchers"]) == labels]
        assert len(same) == 2, json.dumps(same)  # the ack and the update made a new silence
        assert {s["status"]["state"] for s in same} == {"expired"}
        [new] = [s for s in same if s["id"] != ack["id"]]
        expired = await stream.next(silence_event("expired", new["id"]))
        assert expired["by"] == EXTENDER


async def test_extend_ack_decides_by_the_clock_it_is_given(aiohttp_client, tmp_path, am):
    """At a time past the ack's end nothing is due; at one just after its start the ack is
    moved to exactly `ack_extend_by` after that time (not after the wall clock's now)."""
    off = AlertsConfig(resend_interval=1.0, heartbeat=0.5, ack_extend=False)
    rule = AlertsConfig(ack_extend_if_expiring_in=8.0, ack_extend_by=10.0,
                        ack_max_duration=3600.0)
    client = await aiohttp_client(bridge_app(tmp_path, am.url, off))
    app = client.server.app
    cluster, store = app[CLUSTERS_KEY].get("default"), app[STORE_KEY]
    async with connect(client) as stream:
        ack = await fire_and_ack(client, stream, am.url, "ClockMe")
        starts, ends = parse_time(ack["startsAt"]), parse_time(ack["endsAt"])
        assert await extend_ack(cluster, store, ack["id"], rule, lambda _: True,
                                clock=lambda: ends + 1000) is None
        in_am = await asyncio.to_thread(am_silence, am.url, ack["id"])
        assert parse_time(in_am["endsAt"]) == ends
        done = await extend_ack(cluster, store, ack["id"], rule, lambda _: True,
                                clock=lambda: starts + 1000)
        assert done is not None and done["id"] == ack["id"]
        assert parse_time(done["endsAt"]) == starts + 11_000
