"""Silences and acks against real Alertmanagers: an HA pair gossiping on loopback (cluster "ha")
and Debian's amtool. The bridge runs in-process (the whole app on a test server); its alerts come
from Alertmanager by reconciliation, as a bridge that missed the webhooks would get them. The
ack's alert comes from a real Prometheus rule (the `prom` fixture); the others are posted to
Alertmanager as Prometheus posts them (`push_alert`), which keeps them quick. Who may write
(scopes, `auth.read_only`) is test_silence_scopes_live.py's; the pair, the bridge and the
Alertmanager helpers are amlive.py's (fixtures in conftest.py)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridge.alerts.model import fingerprint
from tests import servers
from tests.bridge.alerts.amlive import AM_CONFIG, am_post, bridge_app, eventually, push_alert
from tests.bridge.alerts.helpers import AUTH, ONE_BACKEND, TOKEN
from tests.servers import Process, http_json, wait_for

pytestmark = pytest.mark.integration

AMTOOL = shutil.which("amtool")


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory, pair: tuple[Process, Process]
         ) -> Iterator[Process]:
    """A real Prometheus sending its rules' alerts to both peers (`servers.set_rules`)."""
    proc = servers.alerting_prometheus(tmp_path_factory.mktemp("prom"), pair).start()
    try:
        yield proc
    finally:
        proc.stop()


class Stream:
    """The bridge's alert stream, frames kept in order."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.frames = ws, []

    async def next(self, predicate: Any, within: float = 30.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                frame = json.loads((await self.ws.receive()).data)
                self.frames.append(frame)
                if predicate(frame):
                    return frame


@pytest.fixture
async def stream(bridge) -> AsyncIterator[Stream]:
    ws = await bridge.ws_connect("/api/ws/ws/alerts")
    s = Stream(ws)
    await s.next(lambda f: f["type"] == "snapshot")
    yield s
    await ws.close()


def silence_event(kind: str, sid: str | None = None, comment: str | None = None) -> Any:
    return lambda f: (f["type"] == "silence" and f["event"] == kind
                      and (sid is None or f["silence"]["id"] == sid)
                      and (comment is None or f["silence"]["comment"] == comment))


async def watcher_runs(bridge: Any) -> int:
    body = await (await bridge.get("/health")).json()
    return int(body["checks"]["silences"]["clusters"]["ha"]["runs"])


async def reconcile_runs(bridge: Any) -> int:
    body = await (await bridge.get("/health")).json()
    return int(body["checks"]["alerts"]["reconcile"]["runs"])


async def history(bridge: Any) -> list[dict[str, Any]]:
    return (await (await bridge.get("/api/alerts/history?limit=1000")).json())["events"]


async def test_a_silence_made_through_the_bridge_is_seen_through_the_other_peer(
        bridge, stream, pair):
    body = {"cluster": "ha", "matchers": '{alertname="GossipTest",severity=~"crit.*"}',
            "duration": "2h", "comment": "disk swap on db-1"}
    resp = await bridge.post("/api/silences", json=body, headers=AUTH)
    assert resp.status == 200, await resp.text()
    made = (await resp.json())["silence"]
    assert made["matchers"] == [
        {"name": "alertname", "value": "GossipTest", "isRegex": False, "isEqual": True},
        {"name": "severity", "value": "crit.*", "isRegex": True, "isEqual": True}]
    assert (made["createdBy"], made["state"], made["ack"]) == ("default", "active", None)
    event = await stream.next(silence_event("created", made["id"]))
    assert event["by"] == "default" and event["silence"] == made

    def on_second_peer() -> bool:
        status, got = http_json(f"{pair[1].url}/api/v2/silence/{made['id']}")
        return status == 200 and got["comment"] == "disk swap on db-1"
    await asyncio.to_thread(wait_for, on_second_peer, 15, 0.1, "the silence on the other peer")

    listed = (await (await bridge.get("/api/silences?cluster=ha&state=active")).json())
    [mine] = [s for s in listed["silences"] if s["id"] == made["id"]]
    assert mine["matches"] == [] and mine["matchesNothing"] is True

    # The watcher reads it back several times: still one event for the creation.
    runs = await watcher_runs(bridge)
    await eventually(lambda: watcher_runs(bridge), runs + 3)
    mine = [e for e in await history(bridge)
            if e["type"] == "silence" and e["silence"]["id"] == made["id"]]
    assert [e["event"] for e in mine] == ["created"]

    # Updated in place (same matchers, an active silence keeps its start): `updated`.
    resp = await bridge.post("/api/silences", headers=AUTH, json={
        "cluster": "ha", "id": made["id"], "duration": "3h", "comment": "takes longer"})
    assert resp.status == 200, await resp.text()
    updated = (await resp.json())["silence"]
    assert updated["id"] == made["id"] and updated["startsAt"] == made["startsAt"]
    assert updated["endsAt"] > made["endsAt"]
    await stream.next(silence_event("updated", made["id"], "takes longer"))

    resp = await bridge.delete(f"/api/silences/ha/{made['id']}", headers=AUTH)
    assert resp.status == 200 and (await resp.json())["silence"]["state"] == "expired"
    expired = await stream.next(silence_event("expired", made["id"]))
    assert expired["by"] == "default"
    # Expiring it again changes nothing and logs nothing.
    again = await bridge.delete(f"/api/silences/ha/{made['id']}", headers=AUTH)
    assert again.status == 200
    mine = [e["event"] for e in await history(bridge)
            if e["type"] == "silence" and e["silence"]["id"] == made["id"]]
    assert mine == ["created", "updated", "expired"]


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (make test installs it)")
async def test_a_silence_made_with_amtool_appears_as_an_event(bridge, stream, pair):
    def amtool(*args: str) -> str:
        done = subprocess.run([AMTOOL, "silence", *args, f"--alertmanager.url={pair[1].url}"],
                              capture_output=True, text=True, timeout=30, check=True)
        return done.stdout.strip()

    sid = await asyncio.to_thread(amtool, "add", "--author=alice", "--duration=1h",
                                  "--comment=from the terminal", "alertname=AmtoolTest")
    created = await stream.next(silence_event("created", sid))
    assert created["by"] == "alice"
    assert created["silence"]["createdBy"] == "alice"
    assert created["silence"]["comment"] == "from the terminal"
    assert created["silence"]["matchers"] == [
        {"name": "alertname", "value": "AmtoolTest", "isRegex": False, "isEqual": True}]
    await asyncio.to_thread(amtool, "expire", sid)
    expired = await stream.next(silence_event("expired", sid))
    assert expired["by"] is None and expired["silence"]["state"] == "expired"
    assert expired["seq"] > created["seq"]


ACKED = {"alert": "AckTest", "expr": "vector(1)",
         "labels": {"instance": "web-1:9100", "severity": "critical"},
         "annotations": {"summary": "acked, then its rule is removed"}}


async def test_an_ack_expires_when_its_alert_resolves(bridge, stream, pair, prom):
    """The alert comes from a real Prometheus rule, and resolves when the rule is removed."""
    labels = {"alertname": ACKED["alert"], **ACKED["labels"]}
    fp = fingerprint(labels)
    await asyncio.to_thread(servers.set_rules, prom, ACKED)
    await stream.next(lambda f: f["type"] == "alert" and f["alert"]["fingerprint"] == fp)

    resp = await bridge.post(f"/api/alerts/{fp}/ack", headers=AUTH,
                             json={"comment": "on it", "duration": "30m"})
    assert resp.status == 200, await resp.text()
    ack = (await resp.json())["silence"]
    assert ack["comment"] == "ACK! on it" and ack["ack"] == {"fingerprint": fp}
    assert sorted((m["name"], m["value"]) for m in ack["matchers"]) == sorted(labels.items())
    await stream.next(silence_event("created", ack["id"]))
    current = (await (await bridge.get("/api/alerts")).json())["alerts"]
    [acked] = [a for a in current if a["fingerprint"] == fp]
    assert acked["ack"] == {"by": "default", "comment": "on it", "since": ack["startsAt"],
                            "until": ack["endsAt"], "silenceID": ack["id"]}

    # Silenced in Alertmanager, it keeps firing here: reconciliation runs on, nothing resolves.
    runs = await reconcile_runs(bridge)
    await eventually(lambda: reconcile_runs(bridge), runs + 5)
    assert not [f for f in stream.frames if f["type"] == "alert" and f["status"] == "resolved"
                and f["alert"]["fingerprint"] == fp]

    # Acking again extends the same silence.
    resp = await bridge.post(f"/api/alerts/{fp}/ack", headers=AUTH, json={"comment": "still"})
    extended = (await resp.json())["silence"]
    assert extended["id"] == ack["id"] and extended["endsAt"] > ack["endsAt"]

    await asyncio.to_thread(servers.set_rules, prom)  # the rule goes: it resolves
    await stream.next(lambda f: f["type"] == "alert" and f["alert"]["fingerprint"] == fp
                      and f["status"] == "resolved")
    expired = await stream.next(silence_event("expired", ack["id"]))
    assert expired["by"] == "promwire"

    def expired_on_other_peer() -> bool:
        status, got = http_json(f"{pair[1].url}/api/v2/silence/{ack['id']}")
        return status == 200 and got["status"]["state"] == "expired"
    await asyncio.to_thread(wait_for, expired_on_other_peer, 15, 0.1, "the expiry gossiped")


async def test_a_read_only_bridge_leaves_acks_to_alertmanager(aiohttp_client, tmp_path, pair,
                                                               alert_store):
    """auth.read_only: an ack made in Alertmanager outlives its alert's resolution here, as
    the bridge writes nothing (/health says so)."""
    client = await aiohttp_client(bridge_app(tmp_path, (pair[0].url, pair[1].url), alert_store,
                                             read_only=True))
    ws = await client.ws_connect("/api/ws/ws/alerts")
    watch = Stream(ws)
    await watch.next(lambda f: f["type"] == "snapshot")
    labels = {"alertname": "ReadOnlyAck", "instance": "web-2:9100"}
    fp = fingerprint(labels)
    await asyncio.to_thread(push_alert, pair[0].url, labels)
    await watch.next(lambda f: f["type"] == "alert" and f["alert"]["fingerprint"] == fp)
    ends = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    matchers = [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in labels.items()]
    made = await asyncio.to_thread(am_post, pair[0].url, "/api/v2/silences", {
        "matchers": matchers, "startsAt": datetime.now(UTC).isoformat(), "endsAt": ends,
        "createdBy": "kthxbye", "comment": "ACK! elsewhere"})
    sid = made["silenceID"]
    await watch.next(silence_event("created", sid))
    await asyncio.to_thread(push_alert, pair[0].url, labels, True)
    await watch.next(lambda f: f["type"] == "alert" and f["alert"]["fingerprint"] == fp
                     and f["status"] == "resolved")
    runs = await watcher_runs(client)
    await eventually(lambda: watcher_runs(client), runs + 3)
    assert not [f for f in watch.frames if f["type"] == "silence" and f["event"] == "expired"]
    status, got = await asyncio.to_thread(http_json, f"{pair[0].url}/api/v2/silence/{sid}")
    assert status == 200 and got["status"]["state"] == "active"
    checks = (await (await client.get("/health")).json())["checks"]["silences"]
    assert checks["acks_kept"] == "no (auth.read_only)" and checks["acks_expired"] == 0
    await ws.close()
    await asyncio.to_thread(am_post, pair[0].url, f"/api/v2/silence/{sid}", None, "DELETE")


async def test_acking_an_unknown_alert_is_404(bridge):
    resp = await bridge.post("/api/alerts/0123456789abcdef/ack", headers=AUTH,
                             json={"comment": "x"})
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"


@ONE_BACKEND
@pytest.mark.parametrize(("body", "word"), [
    ({"matchers": ['alertname="X'], "duration": "1h", "comment": "c"}, "closing double quote"),
    ({"matchers": ['alertname=~"("'], "duration": "1h", "comment": "c"}, "regular expression"),
    ({"matchers": ['alertname=""'], "duration": "1h", "comment": "c"}, "empty string"),
    ({"matchers": [], "duration": "1h", "comment": "c"}, "at least one"),
    ({"duration": "1h", "comment": "c"}, "matchers: required"),
    ({"matchers": ['a="1"'], "comment": "c"}, "endsAt or duration"),
    ({"matchers": ['a="1"'], "duration": "1h", "comment": "  "}, "comment"),
    ({"matchers": ['a="1"'], "duration": "1h"}, "comment"),
    ({"matchers": ['a="1"'], "duration": "9000h", "comment": "c"}, "duration: at most"),
    ({"matchers": ['a="1"'], "duration": "-1h", "comment": "c"}, "duration"),
    ({"matchers": ['a="1"'], "startsAt": "2030-01-02T00:00:00Z",
      "endsAt": "2030-01-01T00:00:00Z", "comment": "c"}, "endsAt: must be after startsAt"),
    ({"matchers": ['a="1"'], "endsAt": "2020-01-01T00:00:00Z", "comment": "c"}, "future"),
    ({"matchers": ['a="1"'], "duration": "1h", "comment": "c", "cluster": "nope"},
     "unknown cluster"),
    ({"matchers": ['a="1"'], "duration": "1h", "comment": "c", "owner": "x"}, "unknown field"),
    ({"id": "no/such", "comment": "c"}, "not a silence id"),
    ({"id": "00000000-0000-0000-0000-000000000000", "comment": "c"}, "has no silence"),
])
async def test_bad_silences_are_400_naming_the_problem(bridge, body, word):
    resp = await bridge.post("/api/silences", json={"cluster": "ha", **body}
                             if "cluster" not in body else body, headers=AUTH)
    answer = await resp.json()
    assert resp.status == 400 and answer["error"] == "bad_request", answer
    assert word in answer["detail"], answer


@ONE_BACKEND
async def test_writes_need_the_token_and_bad_queries_are_400(bridge):
    for resp in (await bridge.post("/api/silences", json={}),
                 await bridge.delete("/api/silences/ha/abc"),
                 await bridge.post("/api/alerts/abc/ack", json={"comment": "c"})):
        assert resp.status == 401
    for query in ("cluster=nope", "state=gone"):
        resp = await bridge.get(f"/api/silences?{query}")
        assert resp.status == 400
    resp = await bridge.delete("/api/silences/nope/abc", headers=AUTH)
    assert resp.status == 400 and "unknown cluster" in (await resp.json())["detail"]
    resp = await bridge.post("/api/alerts/abc/ack", headers=AUTH,
                             json={"comment": "c", "duration": "25h"})
    assert resp.status == 400 and "at most 24h" in (await resp.json())["detail"]


@ONE_BACKEND
async def test_alertmanager_down_is_503(aiohttp_client, tmp_path, alert_store):
    am = servers.alertmanager(tmp_path / "am", AM_CONFIG).start()
    client = await aiohttp_client(bridge_app(tmp_path / "bridge", (am.url,), alert_store))
    body = {"cluster": "ha", "matchers": ['alertname="Down"'], "duration": "1h",
            "comment": "before"}
    try:
        assert (await client.post("/api/silences", json=body, headers=AUTH)).status == 200
    finally:
        await asyncio.to_thread(am.stop)
    resp = await client.post("/api/silences", json={**body, "comment": "after"}, headers=AUTH)
    answer = await resp.json()
    assert resp.status == 503 and answer["error"] == "unavailable", answer
    resp = await client.delete("/api/silences/ha/0123-abcd", headers=AUTH)
    assert resp.status == 503


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (make test installs it)")
async def test_a_restarted_bridge_process_logs_no_silence_twice(tmp_path, alert_store):
    """The bridge as a process on a real Alertmanager: an amtool silence is one event, and
    after a SIGKILL and restart the bridge still knows it (listed, no second `created`)."""
    import aiohttp

    am = servers.alertmanager(tmp_path / "am", AM_CONFIG).start()
    config = {"alertmanager": {"reconcile_interval": 0.3, "reconcile_backoff_max": 0.5},
              "alerts": alert_store}
    bridge = servers.bridge(tmp_path / "bridge", "http://127.0.0.1:1", alertmanager_url=am.url,
                            token=TOKEN, config=config)
    ws_url = bridge.url.replace("http://", "ws://") + "/api/ws/ws/alerts"
    try:
        await asyncio.to_thread(bridge.start)
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
            stream = Stream(ws)
            await stream.next(lambda f: f["type"] == "snapshot")
            done = await asyncio.to_thread(subprocess.run, [
                AMTOOL, "silence", "add", "--author=carol", "--duration=1h",
                "--comment=restart test", "alertname=Restart", f"--alertmanager.url={am.url}"],
                capture_output=True, text=True, timeout=30, check=True)
            sid = done.stdout.strip()
            created = await stream.next(silence_event("created", sid))
        await asyncio.to_thread(bridge.kill)
        await asyncio.to_thread(bridge.start)

        def runs() -> int:  # the restarted watcher has read the list a few times
            _, body = http_json(bridge.url + "/health")
            return int(body["checks"]["silences"]["clusters"]["default"]["runs"])
        await asyncio.to_thread(wait_for, lambda: runs() >= 3, 20, 0.1, "watcher runs")
        _, listed = await asyncio.to_thread(http_json, bridge.url + "/api/silences")
        assert [s["id"] for s in listed["silences"]] == [sid]
        _, log = await asyncio.to_thread(http_json, bridge.url + "/api/alerts/history")
        assert [(e["type"], e["event"], e["seq"]) for e in log["events"]] == [
            ("silence", "created", created["seq"])]
    finally:
        await asyncio.to_thread(bridge.stop)
        await asyncio.to_thread(am.stop)

