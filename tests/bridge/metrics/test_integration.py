"""The REST API end to end: a real bridge process, a real Prometheus, the real exporter.

Read tests share the session's `node_stack`; the outage test starts its own Prometheus (scraping
the same exporter) so it can stop and restart it on the same port.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests import servers
from tests.conftest import NodeStack

pytestmark = pytest.mark.integration
TOKEN = "integration-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def stack(node_stack: NodeStack) -> NodeStack:
    """The session's real exporter scraped by a real Prometheus."""
    return node_stack


@pytest.fixture(scope="module")
def bridge(stack: NodeStack, tmp_path_factory) -> Iterator[servers.Process]:
    proc = servers.bridge(tmp_path_factory.mktemp("rest_bridge"), stack.prometheus.url,
                          token=TOKEN, alertmanager_url="",
                          config={"metrics": {"raw_queries": True}})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def get(proc: servers.Process, path: str, status: int = 200, headers=None):
    code, body = servers.http_json(proc.url + path, timeout=30, headers=headers)
    assert code == status, (path, code, body)
    return body


def samples(snapshot, name):
    return snapshot["metrics"][name]["samples"]


def test_current_values_are_numbers_in_range(bridge, stack):
    snap = servers.wait_for(
        lambda: (s := get(bridge, "/api/metrics/current")) and all(
            samples(s, n) for n in ("cpu", "memory", "disk", "network")) and s,
        timeout=30, message="every metric to have samples")
    assert snap["stale"] is False and snap["errors"] == {}, snap["errors"]
    target = stack.exporter_target
    for name in snap["metrics"]:
        assert {s["instance"] for s in samples(snap, name)} == {target}, name
    for name in ("cpu", "memory", "swap", "disk"):
        for sample in samples(snap, name):
            assert isinstance(sample["value"], float | int), (name, sample)
            assert 0 <= sample["value"] <= 100, (name, sample)
    assert "/" in {s["labels"]["mountpoint"] for s in samples(snap, "disk")}
    for name, directions in (("network", {"receive", "transmit"}),
                             ("disk_io", {"read", "write"})):
        assert {s["labels"]["direction"] for s in samples(snap, name)} <= directions
        assert all(s["value"] >= 0 and s["labels"]["device"] for s in samples(snap, name))
    assert {s["labels"]["direction"] for s in samples(snap, "network")} == {"receive",
                                                                            "transmit"}
    assert samples(snap, "load1")[0]["value"] >= 0
    assert samples(snap, "uptime")[0]["value"] > 0
    # The sample is evaluated at the snapshot's moment, not some old point of the series.
    assert samples(snap, "cpu")[0]["timestamp"] == pytest.approx(snap["timestamp"], abs=1)


def test_instance_filter_and_instances(bridge, stack):
    target = stack.exporter_target
    body = get(bridge, "/api/instances")
    assert {"instance": target, "job": "node", "up": True} in [
        {k: i[k] for k in ("instance", "job", "up")} for i in body["instances"]]
    snap = get(bridge, f"/api/metrics/current?instance={quote(target)}")
    assert samples(snap, "memory")[0]["instance"] == target
    snap = get(bridge, "/api/metrics/current?instance=elsewhere:9100")
    assert all(m["samples"] == [] for m in snap["metrics"].values())


def data_seconds(prom_url: str) -> float:
    """How many seconds of node_load1 samples Prometheus holds (up to 60)."""
    result = servers.prom_query(prom_url, "count_over_time(node_load1[1m])")
    return float(result[0]["value"][1]) if result else 0.0


def test_history_points_at_the_asked_step(bridge, stack):
    servers.wait_for(lambda: data_seconds(stack.prometheus.url) >= 12, timeout=60,
                     message="a few seconds of data")
    end = time.time()
    body = get(bridge, f"/api/metrics/memory?start={end - 6}&end={end}&step=2s")
    assert body["step"] == 2 and body["unit"] == "percent"
    (series,) = body["series"]
    stamps = [p[0] for p in series["points"]]
    assert stamps == pytest.approx([end - 6, end - 4, end - 2, end], abs=0.002)
    assert all(0 < p[1] < 100 for p in series["points"])
    body = get(bridge, "/api/metrics/cpu?range=10s&step=1")
    assert all(0 <= p[1] <= 100 for s in body["series"] for p in s["points"])


def test_range_over_the_points_limit(bridge):
    """30,001 points per series at a 1 s step: three chunks, stitched without gaps or repeats."""
    end = float(int(time.time()))
    start = end - 30000
    body = get(bridge, f"/api/query_range?query=vector(1)&start={start}&end={end}&step=1",
               headers=AUTH)
    (series,) = body["data"]["result"]
    stamps = [p[0] for p in series["values"]]
    assert len(stamps) == 30001 and stamps[0] == start and stamps[-1] == end
    assert all(b - a == 1 for a, b in itertools.pairwise(stamps))
    body = get(bridge, f"/api/metrics/load1?start={start}&end={end}&step=1")
    (series,) = body["series"]
    assert series["points"] and all(p[0] == int(p[0]) for p in series["points"])


def test_errors_from_real_prometheus(bridge):
    body = get(bridge, "/api/query?query=sum(", 400, headers=AUTH)
    assert body["error"] == "bad_data" and "parse error" in body["detail"]
    body = get(bridge, "/api/metrics/cpu?step=0", 400)
    assert body["parameter"] == "step"
    body = get(bridge, "/api/metrics/nope", 404)
    assert "cpu" in body["detail"]
    assert get(bridge, "/ready")["ready"] is True


def test_prometheus_outage_stale_then_503_then_recovery(stack: NodeStack, tmp_path: Path):
    port = servers.free_port()
    prom = servers.prometheus(tmp_path / "prometheus", [stack.exporter_target], port=port)
    prom.start()
    bridge = servers.bridge(tmp_path / "bridge", prom.url, token=TOKEN, alertmanager_url="",
                            config={"metrics": {"cache_ttl": 0.2, "max_stale": 3}})
    try:
        bridge.start()
        servers.wait_for(lambda: samples(get(bridge, "/api/metrics/current"), "memory"),
                         timeout=60, message="first snapshot")
        good = get(bridge, "/api/metrics/current")
        assert good["stale"] is False

        prom.stop()
        stale = servers.wait_for(lambda: (s := get(bridge, "/api/metrics/current"))["stale"]
                                 and s, timeout=20, message="a stale snapshot")
        assert samples(stale, "memory") and stale["timestamp"] >= good["timestamp"]
        assert stale["age"] >= 0
        assert get(bridge, "/ready", 503)["error"] == "unavailable"
        health = get(bridge, "/health")
        assert health["status"] == "degraded" and health["checks"]["prometheus"]["ok"] is False

        gone = servers.wait_for(
            lambda: servers.http_json(bridge.url + "/api/metrics/current")[0] == 503
            and servers.http_json(bridge.url + "/api/metrics/current")[1],
            timeout=20, message="503 once the snapshot is older than max_stale")
        assert gone["error"] == "unavailable" and "max_stale" in gone["detail"]
        assert get(bridge, "/api/metrics/cpu?range=1m", 503)["error"] == "unavailable"
        assert bridge.running

        prom.start()  # same port, same data directory; the bridge is not restarted
        fresh = servers.wait_for(
            lambda: servers.http_json(bridge.url + "/api/metrics/current")[0] == 200
            and (s := get(bridge, "/api/metrics/current"))["stale"] is False and s,
            timeout=60, message="fresh data after the restart")
        assert samples(fresh, "memory") and fresh["timestamp"] > stale["timestamp"]
        assert get(bridge, "/ready")["ready"] is True
        assert bridge.running
    finally:
        bridge.stop()
        prom.stop()
