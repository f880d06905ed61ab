"""`MetricsWebSocketClient(typed=True)`: MetricsUpdate objects instead of raw frames.

Against the stand-in bridge of test_metrics.py (it sends acks, errors, statuses and deltas on
demand); the real bridge is in test_typed_live.py.
"""

from __future__ import annotations

import math
from typing import Any

from bridge.client import Control, MetricsUpdate, Sample
from bridge.client.updates import to_update
from tests.bridge.client.helpers import until
from tests.bridge.client.test_metrics import FakeBridge, fake, fast_client, snapshot

__all__ = ["fake"]  # the fixture, used by name below


async def test_typed_callback_gets_flat_updates_and_no_control_frames(
        fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    client = fast_client(url, typed=True)
    seen: list[Any] = []
    client.set_callback(seen.append)
    async with client:
        await until(lambda: len(seen) >= 2)
        bad = await client.subscribe(["nope"])  # answered with an error frame
        bridge.extra_frames = [{"type": "heartbeat", "timestamp": 1.0}]
        await until(lambda: bad not in client.subscriptions and not bridge.extra_frames)
        mark = len(seen)
        await until(lambda: len(seen) >= mark + 2)
    assert all(isinstance(u, MetricsUpdate) for u in seen)
    update = seen[-1]
    assert update.id == "default" and update.metrics == ("cpu",)
    assert update.instances == ("h:9100",)
    assert update.value("cpu", "h:9100") == update.frame["metrics"]["cpu"]["samples"][0]["value"]
    assert update.value("cpu", "other:9100") is None and update.value("memory") is None
    assert update.units == {"cpu": "percent"} and not update.stale
    assert update.transport == "ws"
    assert [u.timestamp for u in seen] == sorted(u.timestamp for u in seen)


async def test_control_true_adds_control_objects(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    client = fast_client(url, typed=True, control=True)
    seen: list[Any] = []
    client.set_callback(seen.append)
    async with client:
        await until(lambda: seen)
        bridge.extra_frames = [{"type": "heartbeat", "timestamp": 1.0}]
        sub = await client.subscribe(["nope"])
        await until(lambda: any(isinstance(i, Control) and i.type == "error" for i in seen)
                    and any(isinstance(i, Control) and i.type == "heartbeat" for i in seen))
    error = next(i for i in seen if isinstance(i, Control) and i.type == "error")
    assert error.id == sub and error.get("detail") == "unknown metric"


async def test_raw_client_can_drop_control_frames(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    client = fast_client(url, control=False)
    seen: list[Any] = []
    client.set_callback(seen.append)
    async with client:
        bridge.extra_frames = [{"type": "heartbeat", "timestamp": 1.0}]
        await until(lambda: not bridge.extra_frames and len(seen) >= 3)
    assert {f["type"] for f in seen} == {"metrics"} and isinstance(seen[0], dict)


async def test_typed_async_for_and_stale_while_prometheus_down(
        fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    client = fast_client(url, typed=True)
    updates: list[MetricsUpdate] = []
    async with client:
        async for update in client:
            updates.append(update)
            if len(updates) == 1:
                bridge.extra_frames = [{"type": "status", "prometheus": "down",
                                        "detail": "refused", "timestamp": 1.0}]
            if client.prometheus == "down" and updates[-1].stale:
                break
    assert not updates[0].stale and updates[-1].stale
    assert client.latest() is not None and client.latest().stale  # closed: nothing live


async def test_typed_updates_merge_deltas(fake: tuple[FakeBridge, str]) -> None:
    bridge, url = fake
    client = fast_client(url, typed=True)
    seen: list[MetricsUpdate] = []
    client.set_callback(seen.append)
    async with client:
        sub = await client.subscribe(["cpu"], delta=True)
        full = {"type": "metrics", "id": sub, "delta": True, **snapshot(1.0, 5.0, "a")}
        full["metrics"]["cpu"]["samples"].append(
            {"instance": "b", "labels": {}, "value": 6.0, "timestamp": 1.0})
        change = {"type": "metrics", "id": sub, "delta": True, **snapshot(2.0, 7.0, "b")}
        bridge.extra_frames = [full, change]
        await until(lambda: any(u.id == sub and u.timestamp == 2.0 for u in seen))
    last = next(u for u in seen if u.id == sub and u.timestamp == 2.0)
    # The wire frame held only b's change; the update is the whole merged state.
    assert last.instances == ("a", "b")
    assert last.by_instance("cpu") == {"a": 5.0, "b": 7.0}
    assert "delta" not in last.frame


def test_samples_with_labels_and_special_values() -> None:
    frame = {"type": "metrics", "id": "s1", "timestamp": 10.0, "stale": False, "age": 0.5,
             "metrics": {"disk": {"title": "Disk used", "unit": "percent", "samples": [
                 {"instance": "h", "labels": {"mountpoint": "/"}, "value": 40.0,
                  "timestamp": 9.0},
                 {"instance": "h", "labels": {"mountpoint": "/home"}, "value": "NaN",
                  "timestamp": 9.0},
                 {"instance": "g", "labels": {"mountpoint": "/"}, "value": "+Inf",
                  "timestamp": 9.0}]}}}
    update = to_update(frame)
    assert update.value("disk", "h", {"mountpoint": "/"}) == 40.0
    assert math.isnan(update.value("disk", "h", {"mountpoint": "/home"}))
    assert update.value("disk", "g") == math.inf
    assert update.samples("disk", "h") == [
        Sample("disk", "h", {"mountpoint": "/"}, 40.0, 9.0),
        Sample("disk", "h", {"mountpoint": "/home"}, update.samples("disk", "h")[1].value, 9.0)]
    assert [s.instance for s in update.samples(labels={"mountpoint": "/"})] == ["h", "g"]
    assert update.instances == ("g", "h") and update.titles == {"disk": "Disk used"}
    assert update.age == 0.5


def test_raw_query_frames_become_samples() -> None:
    frame = {"type": "metrics", "id": "r1", "timestamp": 10.0, "query": "up",
             "resultType": "vector",
             "result": [{"metric": {"instance": "h:9100", "job": "node"}, "value": [9.5, "1"]}]}
    update = to_update(frame)
    assert update.query == "up" and update.metrics == ()
    assert update.samples() == [Sample("up", "h:9100", {"job": "node"}, 1.0, 9.5)]
    assert update.value("up", "h:9100") == 1.0
