"""GET /api/instances against a real Prometheus: up, down (a stopped exporter), stale (a target
no longer scraped, samples from an earlier run) and gone (no sample for an hour).

The earlier run's samples are written into Prometheus' TSDB before it starts, with promtool's
backfill, exactly as an older `make run` would have left them in `.run/`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import servers

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(servers.PROMETHEUS is None or shutil.which("promtool") is None,
                                 reason="make test installs prometheus and promtool")]

# Hosts of an earlier run: newest `up` sample this many seconds before Prometheus starts.
EARLIER = {"lagging:9100": 20, "old:9100": 1800, "gone:9100": 7200}


def _backfill(tsdb: Path, now: float) -> None:
    """Blocks holding `up` = 1 for each EARLIER host, two samples 10 s apart."""
    lines = sorted((now - age - gap, f'up{{job="node",instance="{host}"}} 1 {now - age - gap:.3f}')
                   for host, age in EARLIER.items() for gap in (10, 0))
    tsdb.mkdir(parents=True)
    source = tsdb.parent / "earlier.om"
    source.write_text("# TYPE up gauge\n" + "".join(line + "\n" for _, line in lines) + "# EOF\n")
    done = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source),
                           str(tsdb)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


class Stack:
    def __init__(self, base: Path) -> None:
        self.live = servers.exporter(base / "live")
        self.doomed = servers.exporter(base / "doomed")
        self.created = time.time()
        _backfill(base / "prometheus" / "tsdb", self.created)
        self.prometheus = servers.prometheus(
            base / "prometheus", [self.live.address, self.doomed.address])
        self.bridge = servers.bridge(base / "bridge", self.prometheus.url)

    def instances(self) -> dict[str, dict[str, Any]]:
        status, body = servers.http_json(self.bridge.url + "/api/instances")
        assert status == 200, body
        assert body["warnings"] == []
        for entry in body["instances"]:
            assert entry["up"] is (entry["state"] == "up"), entry
        return {entry["instance"]: entry for entry in body["instances"]}

    def states(self) -> dict[str, str]:
        return {name: entry["state"] for name, entry in self.instances().items()}

    def drop_target(self, proc: servers.Process) -> None:
        """Reload Prometheus without `proc`'s target, as a restart with other targets would."""
        path = Path(self.prometheus.workdir) / "prometheus.yml"
        config = yaml.safe_load(path.read_text())
        for job in config["scrape_configs"]:
            for static in job["static_configs"]:
                static["targets"] = [t for t in static["targets"] if t != proc.address]
        path.write_text(yaml.safe_dump(config))
        request = urllib.request.Request(self.prometheus.url + "/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 200


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    started: list[servers.Process] = []
    try:
        for proc in (s.live, s.doomed, s.prometheus, s.bridge):
            proc.start()
            started.append(proc)
        yield s
    finally:
        for proc in reversed(started):
            proc.stop()


def test_up_down_stale_and_gone_from_the_newest_up_sample(stack: Stack) -> None:
    live, doomed = stack.live.address, stack.doomed.address
    servers.wait_for(lambda: len(servers.prom_query(
        stack.prometheus.url, f'up{{instance=~"{live}|{doomed}"}} == 1')) == 2,
        timeout=30, message="Prometheus to scrape both exporters")
    # Plain `up` still answers 1 for the earlier run's host within its 5-minute lookback...
    assert [r["value"][1] for r in servers.prom_query(stack.prometheus.url,
                                                      'up{instance="lagging:9100"}')] == ["1"]
    # ...but its newest sample is far older than two 1 s scrape intervals.
    found = stack.instances()
    assert {name: e["state"] for name, e in found.items()} == {
        live: "up", doomed: "up", "lagging:9100": "stale", "old:9100": "stale"}
    assert found["lagging:9100"]["timestamp"] == pytest.approx(stack.created - 20, abs=0.01)
    # Past the lookback its time is known to within the 10 s step; an hour old, it is gone.
    assert 0 <= found["old:9100"]["timestamp"] - (stack.created - 1800) <= 10
    # The live host's newest sample was scraped in this run, after the planted history.
    assert found[live]["timestamp"] > stack.created > found["lagging:9100"]["timestamp"]

    # A stopped exporter is scraped as down: a fresh `up` sample of 0.
    stack.doomed.stop()
    servers.wait_for(lambda: stack.states().get(doomed) == "down", timeout=30,
                     message="the stopped exporter to show as down")
    assert stack.states()[live] == "up"

    # No longer scraped at all: its series ends and the host is stale, not down, not up.
    stack.drop_target(stack.doomed)
    servers.wait_for(lambda: stack.states().get(doomed) == "stale", timeout=30,
                     message="the dropped target to show as stale")
    assert stack.states() == {live: "up", doomed: "stale", "lagging:9100": "stale",
                              "old:9100": "stale"}
