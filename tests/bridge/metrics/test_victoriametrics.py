"""The bridge's metric half against VictoriaMetrics instead of Prometheus (README "Running at
scale"): a real bridge process whose `prometheus.url` is Debian's single-node VictoriaMetrics,
which scrapes the real exporter every second with its own scraper. Nothing in the bridge is
configured for it.

VictoriaMetrics hides samples newer than `-search.latencyOffset` (30 s by default) from queries;
the main stack runs it with `-search.latencyOffset=0s`, as README says to. The last test keeps the
default and checks what that costs: hosts read as stale and the newest history is missing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import websockets

from tests import servers
from tests.conftest import NodeStack

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(servers.VICTORIA_METRICS is None,
                                 reason="make test installs victoria-metrics")]
TOKEN = "vm-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STREAMS = {"interval": 1.0, "min_interval": 0.2, "stuck_timeout": 3.0, "heartbeat": 30.0}
NO_LATENCY_OFFSET = "-search.latencyOffset=0s"


@dataclass
class VMStack:
    exporter: servers.Process
    vm: servers.Process
    bridge: servers.Process

    @property
    def target(self) -> str:
        return self.exporter.address


@pytest.fixture(scope="module")
def exporter(node_stack: NodeStack) -> servers.Process:
    """The session's real exporter (tests/conftest.py): VictoriaMetrics scrapes it too."""
    return node_stack.exporter


def start_stack(base: Path, exporter: servers.Process, *vm_args: str) -> VMStack:
    vm = servers.victoria_metrics(base / "vm", [exporter.address],
                                  *vm_args).start()
    bridge = servers.bridge(base / "bridge", vm.url, token=TOKEN, alertmanager_url="",
                            config={"metrics": {"raw_queries": True}, "streams": STREAMS})
    try:
        bridge.start()
    except BaseException:
        vm.stop()
        raise
    return VMStack(exporter, vm, bridge)


def stop_stack(stack: VMStack) -> None:
    stack.bridge.stop()
    stack.vm.stop()


@pytest.fixture(scope="module")
def stack(exporter: servers.Process, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[VMStack]:
    s = start_stack(tmp_path_factory.mktemp("vm_stack"), exporter, NO_LATENCY_OFFSET)
    try:
        servers.wait_for(lambda: servers.prom_query(s.vm.url, "rate(node_cpu_seconds_total[5s])"),
                         timeout=60, message="VictoriaMetrics to scrape the exporter twice")
        yield s
    finally:
        stop_stack(s)


def get(proc: servers.Process, path: str, status: int = 200,
        headers: dict[str, str] | None = None) -> Any:
    code, body = servers.http_json(proc.url + path, timeout=30, headers=headers)
    assert code == status, (path, code, body)
    return body


def samples(snapshot: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return snapshot["metrics"][name]["samples"]


def test_snapshot_carries_the_exporters_values(stack: VMStack) -> None:
    snap = servers.wait_for(
        lambda: (s := get(stack.bridge, "/api/metrics/current")) and all(
            samples(s, n) for n in ("cpu", "memory", "disk", "network")) and s,
        timeout=30, message="every metric to have samples")
    assert snap["stale"] is False and snap["errors"] == {} and snap["warnings"] == []
    for name in snap["metrics"]:
        assert {s["instance"] for s in samples(snap, name)} <= {stack.target}, name
    for name in ("cpu", "memory", "disk"):
        assert all(0 <= s["value"] <= 100 for s in samples(snap, name)), name
    assert "/" in {s["labels"]["mountpoint"] for s in samples(snap, "disk")}
    assert {s["labels"]["direction"] for s in samples(snap, "network")} == {"receive",
                                                                            "transmit"}
    # The exporter's own boot time, through VictoriaMetrics, gives the uptime.
    (boot,) = servers.prom_query(stack.vm.url, "node_boot_time_seconds")
    (uptime,) = samples(snap, "uptime")
    assert uptime["value"] == pytest.approx(snap["timestamp"] - float(boot["value"][1]), abs=5)
    assert samples(snap, "cpu")[0]["timestamp"] == pytest.approx(snap["timestamp"], abs=1)


def test_instances_read_scrape_intervals_from_status_config(stack: VMStack) -> None:
    """VictoriaMetrics serves its -promscrape.config at /api/v1/status/config, so the bridge
    knows the 1 s interval (no `scrape intervals unknown` warning) and the host is up."""
    body = servers.wait_for(lambda: (b := get(stack.bridge, "/api/instances"))["instances"] and b,
                            timeout=30, message="the exporter in /api/instances")
    assert body["warnings"] == []
    assert [(i["instance"], i["job"], i["up"], i["state"]) for i in body["instances"]] == [
        (stack.target, "node", True, "up")]
    assert get(stack.bridge, "/ready")["ready"] is True
    assert get(stack.bridge, "/health")["checks"]["prometheus"]["ok"] is True


def seconds_held(vm_url: str) -> float:
    result = servers.prom_query(vm_url, "count_over_time(node_load1[1m])")
    return float(result[0]["value"][1]) if result else 0.0


def test_history_at_the_asked_step(stack: VMStack) -> None:
    servers.wait_for(lambda: seconds_held(stack.vm.url) >= 12, timeout=60,
                     message="a few seconds of data")
    end = time.time()
    body = get(stack.bridge, f"/api/metrics/memory?start={end - 6}&end={end}&step=2s")
    assert body["step"] == 2 and body["warnings"] == []
    (series,) = body["series"]
    assert series["instance"] == stack.target
    assert [p[0] for p in series["points"]] == pytest.approx(
        [end - 6, end - 4, end - 2, end], abs=0.002)
    assert all(0 < p[1] < 100 for p in series["points"])
    body = get(stack.bridge, "/api/metrics/cpu?range=10s&step=1")
    (series,) = body["series"]
    assert len(series["points"]) >= 5 and all(0 <= p[1] <= 100 for p in series["points"])


def test_query_range_over_the_points_limit_is_stitched(stack: VMStack) -> None:
    """30,001 points at a 1 s step: more than VictoriaMetrics' own default per-series limit
    (30,000) and than prometheus.max_points; the bridge's chunks come back without gaps."""
    end = float(int(time.time()))
    start = end - 30000
    body = get(stack.bridge, f"/api/query_range?query=vector(1)&start={start}&end={end}&step=1",
               headers=AUTH)
    (series,) = body["data"]["result"]
    stamps = [p[0] for p in series["values"]]
    assert len(stamps) == 30001 and stamps[0] == start and stamps[-1] == end
    assert all(b - a == 1 for a, b in itertools.pairwise(stamps))
    query = quote("node_load1")
    body = get(stack.bridge, f"/api/query?query={query}", headers=AUTH)
    assert [r["metric"]["instance"] for r in body["data"]["result"]] == [stack.target]


def test_bad_promql_is_a_4xx_from_victoriametrics(stack: VMStack) -> None:
    """VictoriaMetrics answers a parse error 422 with errorType "422" (Prometheus: 400
    `bad_data`); the bridge passes it on as a 422 `execution`, not a 502."""
    body = get(stack.bridge, "/api/query?query=sum(", 422, headers=AUTH)
    assert body["error"] == "execution" and "sum(" in body["detail"]
    body = get(stack.bridge, "/api/metrics/cpu?step=0", 400)
    assert body["parameter"] == "step"


async def test_websocket_stream_delivers_frames_with_values(stack: VMStack) -> None:
    url = stack.bridge.url.replace("http://", "ws://") + "/api/ws/ws"
    async with websockets.connect(url) as ws:
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(3)]
    assert [(f["type"], f["id"]) for f in frames] == [("metrics", "default")] * 3
    assert frames[0]["timestamp"] < frames[1]["timestamp"] < frames[2]["timestamp"]
    for frame in frames:
        assert frame["errors"] == {} and frame["stale"] is False
        for name in ("cpu", "memory", "disk", "network"):
            assert frame["metrics"][name]["samples"], (name, frame)
            assert all(isinstance(s["value"], float | int) and s["instance"] == stack.target
                       for s in frame["metrics"][name]["samples"]), name


def test_default_latency_offset_hides_the_newest_samples(exporter: servers.Process,
                                                         tmp_path: Path) -> None:
    """With VictoriaMetrics' default -search.latencyOffset (30 s) the newest samples are not
    queryable: once the host shows up its newest `up` is older than two scrape intervals, so
    /api/instances calls a scraped host stale, and the last 10 s of history are empty, while
    the snapshot still has values (the lookback reaches the older samples)."""
    s = start_stack(tmp_path, exporter)
    try:
        found = servers.wait_for(
            lambda: get(s.bridge, "/api/instances")["instances"], timeout=90,
            message="the host to appear once samples pass the latency offset")
        assert [(i["instance"], i["state"], i["up"]) for i in found] == [(s.target, "stale",
                                                                          False)]
        assert [r["value"][1] for r in servers.prom_query(s.vm.url, "up")] == ["1"]
        assert get(s.bridge, "/api/metrics/memory?range=10s&step=1")["series"] == []
        snap = get(s.bridge, "/api/metrics/current")
        assert samples(snap, "memory") and snap["errors"] == {}
    finally:
        stop_stack(s)
