"""promwire-watch: the rendered view, `--once` output and exit codes, and the live view
following a real bridge through a restart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge import watch
from bridge.watchview import alert_lines, fmt_rate, host_rows, render
from tests import servers


def sample(instance: str, value: Any, **labels: str) -> dict[str, Any]:
    return {"instance": instance, "labels": labels, "value": value, "timestamp": 1000.0}


SNAPSHOT: dict[str, Any] = {
    "timestamp": 1000.0, "stale": False, "age": 0.1, "warnings": [],
    "errors": {"swap": {"error": "execution", "detail": "boom"}},
    "metrics": {
        "cpu": {"samples": [sample("b:9100", 12.345), sample("a:9100", "NaN")]},
        "memory": {"samples": [sample("a:9100", 50), sample("b:9100", 75.5)]},
        "disk": {"samples": [sample("a:9100", 40, mountpoint="/"),
                             sample("a:9100", 90, mountpoint="/data")]},
        "network": {"samples": [
            sample("a:9100", 1024, device="eth0", direction="receive"),
            sample("a:9100", 1024, device="eth1", direction="receive"),
            sample("a:9100", 10, device="eth0", direction="transmit")]},
        "load1": {"samples": [sample("a:9100", 0.5)]},
    },
}


def test_one_row_per_host_with_fullest_disk_and_summed_network() -> None:
    rows = host_rows(SNAPSHOT)
    assert rows == [
        ["a:9100", "NaN", "50.0%", "90.0% /data", "2.0 KiB/s", "10 B/s", "0.50"],
        ["b:9100", "12.3%", "75.5%", "-", "-", "-", "-"],
    ]


def test_rates_in_binary_units() -> None:
    assert [fmt_rate(v) for v in (0, 1023, 1536, 5 * 1024 ** 2, 3 * 1024 ** 3, 5000 * 1024 ** 3)
            ] == ["0 B/s", "1023 B/s", "1.5 KiB/s", "5.0 MiB/s", "3.0 GiB/s", "5000.0 GiB/s"]


def test_screen_shows_state_staleness_errors_and_alerts() -> None:
    stale = {**SNAPSHOT, "stale": True}
    alerts = [
        {"status": "firing", "labels": {"alertname": "DiskFull", "severity": "warning",
                                        "instance": "a:9100"},
         "annotations": {"summary": "disk almost full"}, "startsAt": "2026-11-25T20:00:00Z"},
        {"status": "firing", "labels": {"alertname": "HostDown", "severity": "critical"},
         "annotations": {}, "startsAt": "2026-11-25T19:00:00Z"},
        {"status": "resolved", "labels": {"alertname": "Gone"}, "annotations": {}},
    ]
    text = render("http://bridge:8000", stale, alerts, {"metrics": "polling (poll)"},
                  now=1002.0)
    lines = text.splitlines()
    assert lines[0] == "promwire-watch  http://bridge:8000  metrics: polling (poll)"
    assert "age 2.0s" in lines[2] and lines[2].endswith("STALE")
    assert lines[3].split() == ["HOST", "CPU", "MEM", "DISK", "NET", "RX", "NET", "TX", "LOAD1"]
    assert "error in swap: boom" in text
    firing = text[text.index("firing alerts: 2"):].splitlines()
    assert firing[2].split()[:2] == ["critical", "HostDown"]  # most severe first
    assert "disk almost full" in firing[3] and "Gone" not in text
    assert render("u", None, None)
    assert alert_lines(None, "unavailable (404)") == ["alerts: unavailable (404)"]


def run_watch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge.watch", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_once_exits_1_with_one_line_when_nothing_listens() -> None:
    url = f"http://127.0.0.1:{servers.free_port()}"
    result = run_watch(url, "--once")
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("promwire-watch: cannot reach " + url)


def test_bad_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert watch.main(["ftp://nowhere", "--once"]) == 2
    assert "expected an http(s) or ws(s) URL" in capsys.readouterr().err


@pytest.fixture
def live_bridge(node_stack: Any, tmp_path: Path) -> Iterator[servers.Process]:
    bridge = servers.bridge(tmp_path / "bridge", node_stack.prometheus.url,
                            port=servers.free_port(),
                            alertmanager_url=f"http://127.0.0.1:{servers.free_port()}",
                            config={"streams": {"interval": 1}})
    bridge.start()
    try:
        yield bridge
    finally:
        bridge.stop()


def post_alert(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(url + "/api/ws/broadcast/alert",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": "Bearer test-token",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


@pytest.mark.integration
def test_once_prints_hosts_and_firing_alerts(node_stack: Any,
                                             live_bridge: servers.Process) -> None:
    post_alert(live_bridge.url, {"labels": {"alertname": "WatchTest", "severity": "critical",
                                            "instance": node_stack.exporter_target},
                                 "annotations": {"summary": "shown by --once"}})
    servers.wait_for(lambda: servers.http_json(live_bridge.url + "/api/metrics/current")[0]
                     == 200, message="a first snapshot")
    result = run_watch(live_bridge.url, "--once")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"promwire-watch  {live_bridge.url}"
    header = next(i for i, line in enumerate(lines) if line.startswith("HOST"))
    row = lines[header + 1].split()
    assert row[0] == node_stack.exporter_target
    assert row[1].endswith("%") and row[2].endswith("%") and row[3].endswith("%")
    assert "firing alerts: 1" in result.stdout
    alert_row = next(line for line in lines if "WatchTest" in line)
    assert alert_row.split()[0] == "critical" and "shown by --once" in alert_row

    as_json = run_watch(live_bridge.url, "--once", "--json")
    assert as_json.returncode == 0, as_json.stderr
    metrics, alerts = (json.loads(line) for line in as_json.stdout.splitlines())
    assert metrics["type"] == "metrics" and metrics["id"] == "default"
    assert {"cpu", "memory", "disk", "network"} <= set(metrics["metrics"])
    assert alerts["type"] == "snapshot"
    assert [a["labels"]["alertname"] for a in alerts["alerts"]] == ["WatchTest"]


class Lines:
    """Reads a child's stdout lines in a thread so the test can wait on them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.items: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.items.append(json.loads(line))

    def join(self) -> None:
        self._thread.join(timeout=30)

    def wait(self, predicate: Any, start: int = 0) -> dict[str, Any]:
        return servers.wait_for(lambda: next((x for x in self.items[start:] if predicate(x)),
                                             None), timeout=60, message="a watch line")


@pytest.mark.integration
def test_live_json_follows_the_bridge_through_a_restart(live_bridge: servers.Process) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bridge.watch", live_bridge.url, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = Lines(proc)
        lines.wait(lambda x: x["type"] == "metrics")
        lines.wait(lambda x: x["type"] == "snapshot" and "epoch" in x)  # alerts stream
        live_bridge.stop()
        mark = len(lines.items)
        lines.wait(lambda x: x["type"] == "connection" and x["stream"] == "metrics"
                   and x["state"] in ("reconnecting", "disconnected"), mark)
        live_bridge.start()
        mark = len(lines.items)
        lines.wait(lambda x: x["type"] == "connection" and x["stream"] == "metrics"
                   and x["state"] == "connected", mark)
        lines.wait(lambda x: x["type"] == "metrics", mark)
        proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop, both streams closed
        assert proc.wait(timeout=30) == 0
        lines.join()
        assert {(x["type"], x["stream"], x["state"]) for x in lines.items[-2:]} == {
            ("connection", "metrics", "closed"), ("connection", "alerts", "closed")}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_live_screen_reflects_the_clients_state() -> None:
    import io

    view = watch.LiveView("http://bridge:8000", io.StringIO())
    assert "(no data yet)" in view.screen() and "alerts: not connected" in view.screen()
    await view.metrics._deliver({"type": "metrics", "id": "default", **SNAPSHOT})
    await view.metrics._deliver({"type": "status", "prometheus": "down", "detail": "x",
                                 "timestamp": 1.0})
    screen = view.screen()
    assert screen.splitlines()[0].endswith("prometheus: down")
    assert "STALE" in screen and "a:9100" in screen


@pytest.mark.integration
def test_live_json_into_a_pipe_that_closes_exits_0_quietly(tmp_path: Path) -> None:
    """`promwire-watch --json | head -1`: once the reader has gone, the watch ends (0, no
    traceback) instead of logging a failed callback for every frame and running on."""
    bridge = servers.bridge(tmp_path / "bridge", "http://127.0.0.1:1",
                            alertmanager_url=f"http://127.0.0.1:{servers.free_port()}",
                            config={"streams": {"heartbeat": 1}, "alerts": {"heartbeat": 1}})
    bridge.start()
    proc = subprocess.Popen([sys.executable, "-m", "bridge.watch", bridge.url, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert json.loads(proc.stdout.readline())["type"]
        proc.stdout.close()  # what `head -1` does after its line
        assert proc.wait(timeout=30) == 0  # a guard against a hang, not a timing assertion
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        bridge.stop()
