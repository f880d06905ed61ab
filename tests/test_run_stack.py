"""`make run`'s stack runner: every part comes up wired to the others, and goes down together."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scripts import run_stack
from tests import servers

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(servers.PROMETHEUS is None or servers.ALERTMANAGER is None,
                                reason="Debian prometheus/alertmanager not installed")


def _post_alert_to_alertmanager(am_url: str) -> None:
    alert = [{"labels": {"alertname": "StackWiringTest", "severity": "info",
                         "instance": "stack-test"},
              "annotations": {"summary": "posted by test_run_stack"}}]
    req = urllib.request.Request(f"{am_url}/api/v2/alerts", data=json.dumps(alert).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


def _stack_argv(run_dir: Path) -> tuple[list[str], dict[str, int]]:
    ports = {name: servers.free_port() for name in
             ("bridge", "exporter", "prometheus", "alertmanager")}
    return ([sys.executable, str(ROOT / "scripts" / "run_stack.py"), "--run-dir", str(run_dir),
             "--scrape-interval", "1s", *(f"--{n}-port={p}" for n, p in ports.items())], ports)


def _start_stack(run_dir: Path) -> tuple[subprocess.Popen[str], dict[str, int]]:
    """A stack in `run_dir`, once its banner says it is up."""
    argv, ports = _stack_argv(run_dir)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    if "stack is up" not in banner:
        proc.kill()
        pytest.fail(banner + proc.stdout.read())
    return proc, ports


def _stop_stack(proc: subprocess.Popen[str], ports: dict[str, int]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    time.sleep(0.2)
    for name, port in ports.items():
        assert servers.http_get_or_none(f"http://127.0.0.1:{port}/") is None, f"{name} still up"


def _wait_scraped(ports: dict[str, int]) -> None:
    servers.wait_for(lambda: servers.prom_query(f"http://127.0.0.1:{ports['prometheus']}",
                                                'up{job="node"} == 1'),
                     timeout=30, message="Prometheus to scrape the exporter")


def test_stack_comes_up_wired_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc, ports = _start_stack(tmp_path)
    bridge = f"http://127.0.0.1:{ports['bridge']}"
    try:
        # Prometheus scrapes the exporter and the bridge sees it as an instance, named after
        # the host.
        _wait_scraped(ports)
        status, instances = servers.http_json(f"{bridge}/api/instances")
        assert status == 200
        assert [i["instance"] for i in instances["instances"]] == [socket.gethostname()]
        status, health = servers.http_json(f"{bridge}/health")
        assert status == 200 and health["checks"]["alertmanager"]["ok"]

        # Alertmanager reaches the bridge's webhook with the token from the shared file.
        _post_alert_to_alertmanager(f"http://127.0.0.1:{ports['alertmanager']}")
        servers.wait_for(lambda: b"promwire_bridge_webhooks_received_total 1.0"
                         in servers.http_get(f"{bridge}/metrics")[1],
                         timeout=60, message="Alertmanager to post to the bridge's webhook")
        alerts = servers.http_json(f"{bridge}/api/alerts")[1]["alerts"]
        assert [a["labels"]["alertname"] for a in alerts] == ["StackWiringTest"]
    finally:
        _stop_stack(proc, ports)


def test_one_stack_per_run_dir_and_a_second_one_elsewhere(tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first, first_ports = _start_stack(first_dir)
    try:
        _wait_scraped(first_ports)
        am_config = (first_dir / "alertmanager" / "alertmanager.yml").read_text()
        prom_config = (first_dir / "prometheus" / "prometheus.yml").read_text()

        # A second stack in the same run dir is refused in one line naming the first one, and
        # touches none of its state (the busy ports it was given are its own, all free).
        argv, _ = _stack_argv(first_dir)
        refused = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert refused.returncode == 2, refused
        assert refused.stdout == ""
        line = refused.stderr
        assert line.count("\n") == 1, line
        assert f"pid {first.pid}" in line and "--run-dir" in line, line
        for name, port in first_ports.items():
            assert f"{name} {port}" in line, line
        assert (first_dir / "alertmanager" / "alertmanager.yml").read_text() == am_config
        assert (first_dir / "prometheus" / "prometheus.yml").read_text() == prom_config

        # Another run dir gets a stack of its own, beside the first; all its state is there.
        second, second_ports = _start_stack(second_dir)
        try:
            for ports in (first_ports, second_ports):
                status, _ = servers.http_json(f"http://127.0.0.1:{ports['bridge']}/health")
                assert status == 200
            assert (second_dir / "prometheus" / "data").is_dir()
            assert (second_dir / "alertmanager" / "data").is_dir()
            assert (second_dir / "bridge" / "alerts.db").exists()
            assert f":{second_ports['bridge']}/" in \
                (second_dir / "alertmanager" / "alertmanager.yml").read_text()
            assert (first_dir / "alertmanager" / "alertmanager.yml").read_text() == am_config
        finally:
            _stop_stack(second, second_ports)
    finally:
        _stop_stack(first, first_ports)

    # The lock goes with the stack: the same run dir starts again. Its exporter is on another
    # port, and it is still the same host (the TSDB kept the first run's samples).
    again, again_ports = _start_stack(first_dir)
    try:
        assert again_ports["exporter"] != first_ports["exporter"]
        _wait_scraped(again_ports)
        status, instances = servers.http_json(
            f"http://127.0.0.1:{again_ports['bridge']}/api/instances")
        assert status == 200
        assert [i["instance"] for i in instances["instances"]] == [socket.gethostname()]
    finally:
        _stop_stack(again, again_ports)


def test_default_bridge_port_moves_when_busy_but_an_asked_one_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        monkeypatch.setitem(run_stack.DEFAULT_PORTS, "bridge", busy)
        defaults = {f"{n}_port": None for n in run_stack.DEFAULT_PORTS}
        ports = run_stack.choose_ports(argparse.Namespace(**defaults))
        assert ports is not None and ports["bridge"] != busy
        asked = argparse.Namespace(**{**defaults, "bridge_port": busy})
        assert run_stack.choose_ports(asked) is None


# A script that starts a stack in the background, waits for its banner, signals it and reports
# how the job ended. A non-interactive shell starts background jobs with SIGINT ignored.
_BACKGROUND_SCRIPT = r'''
"$@" > "$OUT" 2>&1 &
job=$!
for _ in $(seq 600); do grep -q "stack is up" "$OUT" && break; sleep 0.1; done
grep -q "stack is up" "$OUT" || { echo "never came up"; kill -KILL $job; exit 3; }
sleep 60 & probe=$!  # a job started like the stack, keeping the dispositions it was given
sleep 0.2  # (it has exec'd sleep by now)
grep -q "^SigIgn:.*[2367abef]$" /proc/$probe/status && echo "jobs start ignoring SIGINT"
kill $probe
runner=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' \
         "$RUN_DIR/lock")
if [ "$TARGET" = job ]; then kill -s "$SIG" $job; else kill -s "$SIG" $runner; fi
for _ in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
kill -0 $job 2>/dev/null && { echo "still running after SIG$SIG"; kill -TERM $runner; }
wait $job
echo "rc=$?"
'''


@pytest.mark.parametrize(("how", "sig", "target", "rc"), [
    ("runner", "INT", "job", 0),      # `scripts/run_stack.py &`, then kill -INT $!
    ("make", "INT", "runner", 0),     # `make run &`, then kill -INT the pid in .run/lock
    ("make", "TERM", "job", 143),     # `make run &`, then kill $!: make passes SIGTERM on
])
def test_signals_stop_a_stack_started_in_the_background(
        tmp_path: Path, how: str, sig: str, target: str, rc: int) -> None:
    argv, ports = _stack_argv(tmp_path / "run")
    if how == "make":
        argv = ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed-stamp", "-o", "debs",
                "run", f"PY={sys.executable}", f"RUN_ARGS={' '.join(argv[2:])}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.update(OUT=str(tmp_path / "out"), RUN_DIR=str(tmp_path / "run"), SIG=sig,
               TARGET=target)
    script = subprocess.run(["bash", "-c", _BACKGROUND_SCRIPT, "script", *argv], env=env,
                            capture_output=True, text=True, timeout=120)
    report = script.stdout + script.stderr + (tmp_path / "out").read_text()
    assert script.stdout.splitlines() == ["jobs start ignoring SIGINT", f"rc={rc}"], report
    for name, port in ports.items():
        assert servers.http_get_or_none(f"http://127.0.0.1:{port}/") is None, f"{name} still up"
