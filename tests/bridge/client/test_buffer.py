"""The per-series point buffer and the client-side frame helpers (polled frames, deltas)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bridge.client.buffer import PointBuffer, sample_value
from bridge.client.snapshots import merge_delta, subscription_frame


def snapshot(ts: float, cpu: dict[str, Any], disk: dict[tuple[str, str], Any] | None = None
             ) -> dict[str, Any]:
    metrics = {"cpu": {"title": "CPU busy", "unit": "percent", "samples": [
        {"instance": inst, "labels": {}, "value": v, "timestamp": ts} for inst, v in cpu.items()]}}
    if disk is not None:
        metrics["disk"] = {"title": "Disk used", "unit": "percent", "samples": [
            {"instance": inst, "labels": {"mountpoint": mp}, "value": v, "timestamp": ts}
            for (inst, mp), v in disk.items()]}
    return {"timestamp": ts, "stale": False, "age": 0.0, "metrics": metrics, "errors": {},
            "warnings": []}


def test_keeps_the_last_n_points_per_series() -> None:
    buf = PointBuffer(maxlen=3)
    for t in range(5):
        buf.add_snapshot(snapshot(float(t), {"a:9100": t, "b:9100": 10 * t}))
    assert [p.value for p in buf.points("cpu", "a:9100")] == [2.0, 3.0, 4.0]
    assert [p.timestamp for p in buf.points("cpu", "b:9100")] == [2.0, 3.0, 4.0]
    assert buf.latest("cpu", "b:9100").value == 40.0
    assert buf.points("cpu", "nowhere") == [] and buf.latest("memory", "a:9100") is None


def test_the_default_is_the_last_100_points_per_series() -> None:
    from bridge.client import MetricsFetcher, MetricsWebSocketClient

    for buf in (PointBuffer(), MetricsWebSocketClient("http://127.0.0.1:1").buffer,
                MetricsFetcher("http://127.0.0.1:1").buffer):
        for t in range(150):
            buf.add_snapshot(snapshot(float(t), {"a:9100": t}))
        assert [p.timestamp for p in buf.points("cpu", "a:9100")] == [
            float(t) for t in range(50, 150)]


def test_labels_tell_series_apart() -> None:
    buf = PointBuffer()
    buf.add_snapshot(snapshot(1.0, {}, {("a", "/"): 50, ("a", "/home"): 70}))
    assert buf.latest("disk", "a", {"mountpoint": "/"}).value == 50
    assert buf.latest("disk", "a", {"mountpoint": "/home"}).value == 70
    assert len(buf) == 2


def test_repeated_or_older_points_are_not_added_twice() -> None:
    buf = PointBuffer()
    assert buf.add_snapshot(snapshot(5.0, {"a": 1})) == 1
    assert buf.add_snapshot(snapshot(5.0, {"a": 1})) == 0  # same sample polled again
    assert buf.add_snapshot(snapshot(4.0, {"a": 9})) == 0  # an older frame after a seam
    assert buf.add_snapshot(snapshot(6.0, {"a": 2})) == 1
    assert [p.value for p in buf.points("cpu", "a")] == [1.0, 2.0]


def test_special_values_and_malformed_samples() -> None:
    buf = PointBuffer()
    frame = snapshot(1.0, {"a": "NaN", "b": "+Inf", "c": "-Inf"})
    frame["metrics"]["cpu"]["samples"].append({"instance": "d"})  # no value: skipped
    frame["metrics"]["bogus"] = "not a metric body"
    assert buf.add_snapshot(frame) == 3
    assert math.isnan(buf.latest("cpu", "a").value)
    assert buf.latest("cpu", "b").value == math.inf
    assert buf.latest("cpu", "c").value == -math.inf
    assert sample_value(3) == 3.0
    with pytest.raises(ValueError):
        PointBuffer(0)


def test_subscription_frame_filters_metrics_and_instances() -> None:
    snap = snapshot(1.0, {"a": 1, "b": 2}, {("a", "/"): 5})
    snap["errors"] = {"swap": {"error": "execution", "detail": "x"}}
    frame = subscription_frame(snap, "s1", {"metrics": ["cpu"], "instances": ["b"]})
    assert frame is not None
    assert frame["type"] == "metrics" and frame["id"] == "s1"
    assert list(frame["metrics"]) == ["cpu"]
    assert [s["instance"] for s in frame["metrics"]["cpu"]["samples"]] == ["b"]
    assert frame["errors"] == {}
    # The polled snapshot itself is untouched.
    assert len(snap["metrics"]["cpu"]["samples"]) == 2
    assert subscription_frame(snap, "raw", {"query": "up"}) is None


def test_merge_delta_applies_changes_and_removals() -> None:
    full = {"type": "metrics", "id": "s1", **snapshot(1.0, {"a": 1, "b": 2}, {("a", "/"): 5})}
    delta = {"type": "metrics", "id": "s1", "timestamp": 2.0, "stale": False, "age": 0.0,
             "delta": True, "errors": {}, "warnings": [], "metrics": {
                 "cpu": {"title": "CPU busy", "unit": "percent", "samples": [
                     {"instance": "b", "labels": {}, "value": 3, "timestamp": 2.0}],
                     "removed": [{"instance": "a", "labels": {}}]}}}
    merged = merge_delta(full, delta)
    assert "delta" not in merged and merged["timestamp"] == 2.0
    assert merged["metrics"]["cpu"]["samples"] == [
        {"instance": "b", "labels": {}, "value": 3, "timestamp": 2.0}]
    assert "removed" not in merged["metrics"]["cpu"]
    assert merged["metrics"]["disk"] == full["metrics"]["disk"]  # unchanged metric kept
    # A delta with no previous frame is taken as the full state.
    first = merge_delta(None, delta)
    assert [s["instance"] for s in first["metrics"]["cpu"]["samples"]] == ["b"]


async def test_lossy_inbox_drops_the_oldest() -> None:
    from bridge.client.common import Inbox

    inbox = Inbox(2)
    for i in range(5):
        await inbox.put({"n": i})
    inbox.close()
    assert [await inbox.get() for _ in range(3)] == [{"n": 3}, {"n": 4}, None]
    assert inbox.dropped == 3


async def test_lossless_inbox_makes_the_producer_wait() -> None:
    import asyncio

    from bridge.client.common import Inbox

    inbox = Inbox(2, lossless=True)

    async def produce() -> None:
        for i in range(6):
            await inbox.put({"n": i})
        inbox.close()

    producer = asyncio.create_task(produce())
    await asyncio.sleep(0.01)
    assert not producer.done()  # blocked: the inbox holds 2
    got = []
    while (frame := await inbox.get()) is not None:
        got.append(frame["n"])
    await producer
    assert got == list(range(6)) and inbox.dropped == 0
