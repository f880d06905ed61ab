"""The typed client and `python -m bridge.client` against a real bridge process on a real
Prometheus scraping the real exporter (and against a bridge that is not there, and one whose
Prometheus is down)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.client import Control, MetricsUpdate, MetricsWebSocketClient
from tests import servers
from tests.bridge.client.helpers import until
from tests.conftest import NodeStack

pytestmark = pytest.mark.integration
TOKEN = "typed-token"
# Heartbeats every second: a typed consumer must still see none of them.
CONFIG: dict[str, Any] = {"streams": {"interval": 1, "heartbeat": 1}}
HOST_LINE = re.compile(r"^  (\S+)\s+CPU\s+(\S+) %\s+Memory\s+(\S+) %\s+Disk\s+(\S+) %")


@pytest.fixture(scope="module")
def bridge(node_stack: NodeStack, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[servers.Process]:
    proc = servers.bridge(tmp_path_factory.mktemp("typed_bridge"), node_stack.prometheus.url,
                          token=TOKEN, alertmanager_url="", config=CONFIG).start()
    try:
        yield proc
    finally:
        proc.stop()


def run_check(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge.client", *args], capture_output=True,
                          text=True, timeout=timeout, encoding="utf-8")


async def test_typed_updates_from_the_real_bridge(bridge: servers.Process,
                                                  node_stack: NodeStack) -> None:
    target = node_stack.exporter_target
    typed = MetricsWebSocketClient(bridge.url, token=TOKEN)  # typed by default (issue 12)
    raw = MetricsWebSocketClient(bridge.url, token=TOKEN, typed=False)
    updates: list[Any] = []
    frames: list[dict[str, Any]] = []
    typed.set_callback(updates.append)
    raw.set_callback(frames.append)
    async with typed, raw:
        sub = await typed.subscribe(["cpu", "memory", "disk"], delta=True)
        await raw.subscribe(["cpu", "memory", "disk"], delta=True, sub_id=sub)
        await until(lambda: len([u for u in updates if u.id == sub]) >= 4
                    and any(f.get("type") == "heartbeat" for f in frames))
    assert all(isinstance(u, MetricsUpdate) for u in updates)  # no heartbeat, no ack
    mine = [u for u in updates if u.id == sub]
    for update in mine:
        # Every update is the full state, though the wire carried deltas after the first.
        assert set(update.metrics) == {"cpu", "memory", "disk"}
        assert target in update.instances and not update.stale
        cpu, memory = update.value("cpu", target), update.value("memory", target)
        assert cpu is not None and 0 <= cpu <= 100 and memory is not None and 0 < memory < 100
        mounts = update.samples("disk", target)
        assert mounts and all("mountpoint" in s.labels for s in mounts)
        root = mounts[0].labels
        assert update.value("disk", target, root) == mounts[0].value
    assert any(f.get("delta") for f in frames if f.get("id") == sub)
    first = next(f for f in frames if f.get("id") == sub and f.get("type") == "metrics")
    sample = first["metrics"]["memory"]["samples"][0]
    same = next(u for u in mine if u.timestamp == first["timestamp"])
    assert same.value("memory", sample["instance"]) == sample["value"]
    assert typed.latest(sub) is not None


async def test_typed_control_frames_on_request(bridge: servers.Process) -> None:
    client = MetricsWebSocketClient(bridge.url, token=TOKEN, typed=True, control=True)
    seen: list[Any] = []
    client.set_callback(seen.append)
    async with client:
        await client.subscribe(["cpu"], sub_id="c1")
        await until(lambda: any(isinstance(i, Control) and i.type == "heartbeat" for i in seen)
                    and any(isinstance(i, MetricsUpdate) and i.id == "c1" for i in seen))
    acks = [i for i in seen if isinstance(i, Control) and i.type == "subscribed"]
    assert [a.id for a in acks] == ["c1"] and acks[0].get("metrics") == ["cpu"]


def test_connectivity_check_prints_hosts(bridge: servers.Process,
                                         node_stack: NodeStack) -> None:
    done = run_check(bridge.url, "--frames", "2", "--token", TOKEN)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("✅ Connected to " + bridge.url)
    headers = [line for line in lines if line.startswith("frame ")]
    assert [h.split()[1] for h in headers] == ["1", "2"]
    hosts = [m.groups() for line in lines if (m := HOST_LINE.match(line))]
    assert len(hosts) >= 2 and {h[0] for h in hosts} >= {node_stack.exporter_target}
    for _host, *values in hosts:
        assert all(0 <= float(v) <= 100 for v in values), values


def test_connectivity_check_without_a_bridge() -> None:
    url = f"http://127.0.0.1:{servers.free_port()}"
    done = run_check(url, "--frames", "1")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [done.stdout.splitlines()[0]]  # one line, no traceback
    assert done.stdout.startswith(f"❌ cannot reach the bridge at {url}")
    assert "Traceback" not in done.stderr


def test_connectivity_check_with_a_wrong_token(node_stack: NodeStack, tmp_path: Path) -> None:
    strict = servers.bridge(tmp_path / "strict", node_stack.prometheus.url, token=TOKEN,
                            alertmanager_url="",
                            config={**CONFIG, "auth": {"protect_reads": True}}).start()
    try:
        done = run_check(strict.url, "--token", "wrong")
    finally:
        strict.stop()
    assert done.returncode == 1 and done.stdout.startswith("❌ ")
    assert "401" in done.stdout


def test_connectivity_check_with_prometheus_down(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{servers.free_port()}"
    proc = servers.bridge(tmp_path / "bridge", dead, token=TOKEN, alertmanager_url="",
                          config=CONFIG).start()
    try:
        done = run_check(proc.url, "--token", TOKEN, "--timeout", "3")
    finally:
        proc.stop()
    lines = done.stdout.splitlines()
    assert done.returncode == 1
    assert lines[0].startswith("✅ Connected")
    assert lines[1].startswith("⚠️  the bridge is up but Prometheus is down")
    assert lines[-1].startswith("❌ no metric frame")


async def test_client_sees_no_down_on_a_healthy_start(bridge: servers.Process) -> None:
    """Seen from the client: on a bridge whose Prometheus is up, `client.prometheus` never
    reads `down` and the first control frame of a subscription is its ack."""
    client = MetricsWebSocketClient(bridge.url, token=TOKEN, typed=True, control=True)
    seen: list[Any] = []
    client.set_callback(seen.append)
    async with client:
        await client.subscribe(["memory"], sub_id="m1")
        await until(lambda: any(isinstance(i, MetricsUpdate) and i.id == "m1" for i in seen))
    controls = [i for i in seen if isinstance(i, Control)]
    assert not any(c.type == "status" for c in controls)
    assert [c.type for c in controls if c.id in ("m1", "default")][:2] == \
        ["unsubscribed", "subscribed"]


def test_connectivity_check_stops_when_its_reader_leaves(bridge: servers.Process) -> None:
    """`--frames 0` runs until interrupted, or until `| head` has read enough."""
    proc = subprocess.Popen([sys.executable, "-m", "bridge.client", bridge.url, "--frames", "0",
                             "--token", TOKEN], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("✅".encode())
        proc.stdout.close()
        assert proc.wait(60) == 0
        assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
