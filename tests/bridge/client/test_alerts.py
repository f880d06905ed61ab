"""AlertsClient: each event once, in order, across reconnects; resync said out loud.

The stand-in server here scripts what a bridge would send on each connection, to inject the
faults a healthy bridge avoids (duplicates at the seam, a changed epoch); the last test runs the
real bridge, killed and restarted while alerts keep changing.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bridge.client import AlertsClient
from tests import servers
from tests.bridge.client.helpers import until


def alert(name: str, status: str = "firing") -> dict[str, Any]:
    return {"fingerprint": f"fp-{name}", "status": status, "labels": {"alertname": name},
            "annotations": {}, "startsAt": "2026-11-25T20:00:00Z", "endsAt": None,
            "generatorURL": "", "source": "manual", "updatedAt": "2026-11-25T20:00:00Z"}


def event(seq: int, epoch: str = "E1", name: str | None = None, status: str = "firing"
          ) -> dict[str, Any]:
    return {"type": "alert", "seq": seq, "epoch": epoch, "event": status, "status": status,
            "timestamp": "2026-11-25T20:00:00Z", "alert": alert(name or f"A{seq}", status)}


class ScriptedBridge:
    """Connection k gets `scripts[k]` (frames), then is closed — or held open if the script
    ends with "hold"."""

    def __init__(self, scripts: list[list[Any]]) -> None:
        self.scripts = scripts
        self.queries: list[dict[str, list[str]]] = []

    async def ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.queries.append({k: request.query.getall(k) for k in request.query})
        script = self.scripts.pop(0) if self.scripts else ["hold"]
        for item in script:
            if item == "hold":
                async for _ in ws:
                    pass
                return ws
            if isinstance(item, tuple):  # ("close", code)
                await ws.close(code=item[1])
                return ws
            await ws.send_str(json.dumps(item))
        await ws.close()
        return ws


async def scripted(aiohttp_server: Any, scripts: list[list[Any]]) -> tuple[ScriptedBridge, str]:
    bridge = ScriptedBridge(scripts)
    app = web.Application()
    app.router.add_get("/api/ws/ws/alerts", bridge.ws)
    server = await aiohttp_server(app)
    return bridge, str(server.make_url("/")).rstrip("/")


def fast(url: str, **options: Any) -> AlertsClient:
    return AlertsClient(url, backoff_base=0.01, backoff_cap=0.05, ping_interval=None,
                        **options)


async def test_duplicates_at_the_seam_are_dropped(aiohttp_server: Any) -> None:
    bridge, url = await scripted(aiohttp_server, [
        [{"type": "snapshot", "epoch": "E1", "seq": 0, "alerts": []},
         event(1), event(2), event(3)],
        # Resumed: the server repeats 2 and 3 (what a sloppy seam would do), then goes on.
        [event(2), event(3), event(4), {"type": "heartbeat", "seq": 4}, event(5), "hold"],
    ])
    client = fast(url)
    delivered: list[dict[str, Any]] = []
    client.set_callback(delivered.append)
    async with client:
        await until(lambda: client.seq == 5)
    assert [f["type"] for f in delivered] == ["snapshot"] + ["alert"] * 5
    assert [f["seq"] for f in delivered[1:]] == [1, 2, 3, 4, 5]
    assert delivered[0]["resynced"] is False
    assert client.duplicates_dropped == 2 and client.events_delivered == 5
    assert bridge.queries[0] == {}
    assert bridge.queries[1] == {"since": ["3"], "epoch": ["E1"]}
    assert client.position == ("E1", 5)


async def test_heartbeats_move_the_resume_point(aiohttp_server: Any) -> None:
    bridge, url = await scripted(aiohttp_server, [
        [{"type": "snapshot", "epoch": "E1", "seq": 3, "alerts": []},
         {"type": "heartbeat", "timestamp": 1.0, "seq": 9}],  # 4..9 were filtered out
        [event(12), "hold"],
    ])
    client = fast(url, filters=['severity="critical"'])
    async with client:
        await until(lambda: client.seq == 12)
    assert bridge.queries[1]["since"] == ["9"]


async def test_resync_delivers_the_fresh_snapshot_and_says_so(aiohttp_server: Any) -> None:
    bridge, url = await scripted(aiohttp_server, [
        [{"type": "snapshot", "epoch": "E1", "seq": 2, "alerts": [alert("old")]}],
        [{"type": "resync", "reason": "epoch_changed", "epoch": "E2", "seq": 7, "since": 2},
         {"type": "snapshot", "epoch": "E2", "seq": 7, "alerts": [alert("new")]},
         event(8, "E2", "newer"), "hold"],
    ])
    client = fast(url, filters=['severity="critical"'])
    delivered: list[dict[str, Any]] = []
    resyncs: list[dict[str, Any]] = []
    client.set_callback(delivered.append)

    async def on_resync(frame: dict[str, Any]) -> None:
        resyncs.append(frame)

    client.set_resync_callback(on_resync)
    async with client:
        await until(lambda: client.seq == 8)
    assert [(f["type"], f.get("resynced")) for f in delivered] == [
        ("snapshot", False), ("snapshot", True), ("alert", None)]
    assert delivered[1]["reason"] == "epoch_changed" and resyncs == [delivered[1]]
    assert client.resyncs == 1 and client.position == ("E2", 8)
    assert sorted(a["labels"]["alertname"] for a in client.firing) == ["new", "newer"]
    assert bridge.queries[1] == {"filter": ['severity="critical"'], "since": ["2"],
                                 "epoch": ["E1"]}


async def test_resuming_from_a_saved_position(aiohttp_server: Any) -> None:
    bridge, url = await scripted(aiohttp_server, [[event(11), event(12), "hold"]])
    client = fast(url, since=10, epoch="E1")
    seen: list[int] = []
    async for frame in client:
        seen.append(frame["seq"])
        if len(seen) == 2:
            break
    assert seen == [11, 12]
    assert bridge.queries[0] == {"since": ["10"], "epoch": ["E1"]}
    await until(lambda: client.state == "closed")  # leaving the loop stopped the client


async def test_a_slow_loop_body_misses_no_event(aiohttp_server: Any) -> None:
    frames = [{"type": "snapshot", "epoch": "E1", "seq": 0, "alerts": []}]
    _, url = await scripted(aiohttp_server, [[*frames, *(event(i) for i in range(1, 41)),
                                              "hold"]])
    client = fast(url, queue_size=2)
    seqs: list[int] = []
    async for frame in client:
        await asyncio.sleep(0.002)  # slower than the stream
        if frame["type"] == "alert":
            seqs.append(frame["seq"])
            if frame["seq"] == 40:
                break
    assert seqs == list(range(1, 41))
    await until(lambda: client.state == "closed")


async def test_resolved_events_leave_the_firing_view(aiohttp_server: Any) -> None:
    _, url = await scripted(aiohttp_server, [
        [{"type": "snapshot", "epoch": "E1", "seq": 0, "alerts": []},
         event(1, name="X"), event(2, name="Y"), event(3, name="X", status="resolved"), "hold"],
    ])
    client = fast(url)
    async with client:
        await until(lambda: client.seq == 3)
    assert [a["labels"]["alertname"] for a in client.firing] == ["Y"]


async def test_a_refused_filter_stops_with_the_bridges_reason(aiohttp_server: Any) -> None:
    _, url = await scripted(aiohttp_server, [
        [{"type": "error", "error": "bad_request", "detail": "filter: bad matcher 'sev~'"},
         ("close", 1008)],
    ])
    client = fast(url, filters=["sev~"])
    with pytest.raises(ValueError, match="bad matcher"):
        await client.run()
    assert client.state == "closed"


# -- against the real bridge ----------------------------------------------------------------

class Poster:
    """Posts manual alerts through the bridge's token-protected endpoint, retrying while the
    bridge is down, and keeps the seq of every event the bridge acknowledged."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url + "/api/ws/broadcast/alert", token
        self.seqs: list[int] = []
        self.accepted = 0
        self.stop = threading.Event()

    def post(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        while not self.stop.is_set():
            request = urllib.request.Request(self.url, data=data, method="POST", headers={
                "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    answer = json.loads(response.read())
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)  # bridge down or restarting: Alertmanager would retry too
                continue
            self.accepted += 1
            # No event when a retry repeats a notice whose first try was stored just before
            # the bridge died (the answer was lost): that is the store's dedupe at work.
            if answer.get("event"):
                self.seqs.append(answer["event"]["seq"])
            return

    def run(self, count: int) -> None:
        for i in range(count):
            name = f"ClientTest{i // 2}"
            status = "firing" if i % 2 == 0 else "resolved"
            self.post({"labels": {"alertname": name, "severity": "warning"},
                       "annotations": {"summary": f"test alert {i}"}, "status": status})


def history(url: str) -> tuple[str, list[int]]:
    seqs: list[int] = []
    since = 0
    while True:
        status, body = servers.http_json(f"{url}/api/alerts/history?since={since}&limit=1000")
        assert status == 200, body
        seqs += [e["seq"] for e in body["events"]]
        if body["next"] is None:
            return body["epoch"], seqs
        since = body["next"]


@pytest.mark.integration
async def test_nothing_lost_or_duplicated_across_a_bridge_kill(node_stack: Any,
                                                               tmp_path: Path) -> None:
    port = servers.free_port()
    bridge = servers.bridge(tmp_path / "bridge", node_stack.prometheus.url, port=port,
                            alertmanager_url=f"http://127.0.0.1:{servers.free_port()}",
                            config={"alerts": {"heartbeat": 1}})
    await asyncio.to_thread(bridge.start)
    client = AlertsClient(bridge.url, backoff_base=0.05, backoff_cap=0.4,
                          heartbeat_timeout=5)
    delivered: list[dict[str, Any]] = []
    client.set_callback(delivered.append)
    poster = Poster(bridge.url, "test-token")
    try:
        async with client:
            await until(lambda: delivered)  # the opening snapshot
            posting = asyncio.create_task(asyncio.to_thread(poster.run, 120))
            await until(lambda: poster.accepted >= 30)
            await asyncio.to_thread(bridge.kill)  # mid-stream, no goodbye
            await until(lambda: sum(not a.ok for a in client.attempts) >= 2)
            await asyncio.to_thread(bridge.start)
            await posting
            await until(lambda: client.seq is not None and client.seq >= max(poster.seqs))
            epoch, logged = await asyncio.to_thread(history, bridge.url)
    finally:
        poster.stop.set()
        await asyncio.to_thread(bridge.stop)
    events = [f for f in delivered if f["type"] == "alert"]
    seqs = [f["seq"] for f in events]
    assert delivered[0]["type"] == "snapshot" and delivered[0]["resynced"] is False
    assert [f for f in delivered[1:] if f["type"] == "snapshot"] == []  # no resync needed
    assert seqs == logged  # exactly the bridge's log: nothing lost, nothing twice, in order
    assert poster.accepted == 120 and set(poster.seqs) <= set(seqs)
    assert {f["epoch"] for f in events} == {epoch} and client.resyncs == 0
    assert sum(1 for a in client.attempts if a.ok) >= 2  # it did reconnect
    firing = {a["labels"]["alertname"] for a in client.firing}
    assert firing == set()  # every test alert was resolved again


def muted(seq: int, kind: str, name: str, cluster: str = "default",
          state: str = "suppressed") -> dict[str, Any]:
    frame = event(seq, name=name)
    frame["event"] = kind
    frame["alert"].update(cluster=cluster, state=state,
                          silencedBy=["s1"] if state == "suppressed" else [])
    return frame


async def test_suppression_events_move_alerts_out_of_and_back_into_firing(
        aiohttp_server: Any) -> None:
    """The same labels in two clusters are two alerts; a `suppressed` event drops one from a
    default (state=active) client's view, `unsuppressed` restores it."""
    twin = {**alert("X"), "cluster": "b"}
    bridge, url = await scripted(aiohttp_server, [
        [{"type": "snapshot", "epoch": "E1", "seq": 2, "alerts": [alert("X"), twin]},
         muted(3, "suppressed", "X")],
        [muted(4, "unsuppressed", "X", state="active"), "hold"],  # resumed after 3
    ])
    client = fast(url)
    views: dict[int, list[str]] = {}  # seq -> the clusters of `firing` right after it
    client.set_callback(lambda frame: views.setdefault(
        client.seq or 0, sorted(a.get("cluster", "default") for a in client.firing)))
    async with client:
        await until(lambda: client.seq == 4)
    assert views[3] == ["b"] and views[4] == ["b", "default"]
    bridge.scripts.append([{"type": "snapshot", "epoch": "E1", "seq": 4, "alerts": []},
                           muted(5, "suppressed", "X"), "hold"])
    everything = fast(url, state="all", cluster="default")
    async with everything:
        await until(lambda: everything.seq == 5)
        assert [a["state"] for a in everything.firing] == ["suppressed"]
    assert bridge.queries[-1] == {"state": ["all"], "cluster": ["default"]}


def silence_event(seq: int, epoch: str = "E1") -> dict[str, Any]:
    return {"type": "silence", "seq": seq, "epoch": epoch, "event": "created",
            "timestamp": "2026-11-25T20:00:00Z", "by": "default",
            "silence": {"cluster": "default", "id": f"s{seq}", "state": "active"}}


async def test_silence_events_are_resume_points_delivered_once(aiohttp_server: Any) -> None:
    bridge, url = await scripted(aiohttp_server, [
        [{"type": "snapshot", "epoch": "E1", "seq": 0, "alerts": []},
         event(1), silence_event(2)],
        # Resumed after 2: the bridge repeats the silence event at the seam, then goes on.
        [silence_event(2), event(3), silence_event(4), "hold"],
    ])
    client = fast(url)
    delivered: list[dict[str, Any]] = []
    client.set_callback(delivered.append)
    async with client:
        await until(lambda: client.seq == 4)
    assert [(f["type"], f.get("seq")) for f in delivered] == [
        ("snapshot", 0), ("alert", 1), ("silence", 2), ("alert", 3), ("silence", 4)]
    assert bridge.queries[1] == {"since": ["2"], "epoch": ["E1"]}
    assert client.duplicates_dropped == 1 and client.events_delivered == 4
    assert sorted(a["labels"]["alertname"] for a in client.firing) == ["A1", "A3"]
