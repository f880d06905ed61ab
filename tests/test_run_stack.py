"""`make run`'s stack runner: every part comes up wired to the others, and goes down together."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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


def test_stack_comes_up_wired_and_stops_on_sigterm(tmp_path: Path) -> None:
    ports = {name: servers.free_port() for name in
             ("bridge", "exporter", "prometheus", "alertmanager")}
    argv = [sys.executable, str(ROOT / "scripts" / "run_stack.py"), "--run-dir", str(tmp_path),
            "--scrape-interval", "1s", *(f"--{n}-port={p}" for n, p in ports.items())]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    bridge = f"http://127.0.0.1:{ports['bridge']}"
    prom = f"http://127.0.0.1:{ports['prometheus']}"
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "stack is up" in banner, banner + proc.stdout.read()

        # Prometheus scrapes the exporter and the bridge sees it as an instance.
        servers.wait_for(lambda: servers.prom_query(prom, 'up{job="node"} == 1'), timeout=30,
                         message="Prometheus to scrape the exporter")
        status, instances = servers.http_json(f"{bridge}/api/instances")
        assert status == 200
        assert [i["instance"] for i in instances["instances"]] == \
            [f"127.0.0.1:{ports['exporter']}"]
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
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
    assert rc == 0
    time.sleep(0.2)
    for name, port in ports.items():
        assert servers.http_get_or_none(f"http://127.0.0.1:{port}/") is None, f"{name} still up"
