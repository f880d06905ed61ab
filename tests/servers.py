"""Real processes for integration tests: the exporter, the bridge, Debian's Prometheus and
Alertmanager, each on 127.0.0.1 with a free port and its own temp dir.

Tests use these through the fixtures in `tests/conftest.py`; nothing here mocks anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
VICTORIA_METRICS = shutil.which("victoria-metrics")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None
             ) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_get_or_none(url: str, timeout: float = 2.0) -> int | None:
    """The status of GET `url`, or None when nothing answers."""
    try:
        return http_get(url, timeout)[0]
    except OSError:
        return None


def http_json(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None
              ) -> tuple[int, Any]:
    status, body = http_get(url, timeout, headers)
    return status, json.loads(body) if body else None


class Process:
    """A child process with a log file, a base URL, and a readiness wait."""

    @property
    def address(self) -> str:
        """HOST:PORT of `url`: what a scrape target or an Alertmanager target names."""
        return self.url.split("://", 1)[1]

    def __init__(self, name: str, argv: Sequence[str], workdir: Path, url: str,
                 ready_path: str, env: dict[str, str] | None = None) -> None:
        self.name, self.argv, self.workdir = name, list(argv), workdir
        self.url, self.ready_path = url, ready_path
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Process:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # closed below: the child keeps its own copy
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.workdir, env=self.env, start_new_session=True)
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log()}")
            try:
                status, _ = http_get(self.url + self.ready_path, timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def send_signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def exporter(workdir: Path, *args: str, port: int | None = None) -> Process:
    port = port or free_port()
    argv = python_module("exporter", "--listen", f"127.0.0.1:{port}", *args)
    return Process("exporter", argv, workdir, f"http://127.0.0.1:{port}", "/-/healthy")


def bridge(workdir: Path, prometheus_url: str, *args: str, port: int | None = None,
           alertmanager_url: str | None = None, token: str = "test-token",
           config: dict[str, Any] | None = None) -> Process:
    """The bridge as a process. `config` is written as its YAML file."""
    port = port or free_port()
    argv = python_module("bridge", "--listen", f"127.0.0.1:{port}",
                         "--prometheus-url", prometheus_url,
                         "--data-dir", str(workdir / "data"), "--auth-token", token, *args)
    if alertmanager_url:
        argv += ["--alertmanager-url", alertmanager_url]
    if config is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "bridge.yml"
        path.write_text(yaml.safe_dump(config))
        argv += ["--config", str(path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMWIRE_")}
    return Process("bridge", argv, workdir, f"http://127.0.0.1:{port}", "/health", env=env)


def prometheus(workdir: Path, targets: Sequence[str], *, rule_files: Sequence[Path] = (),
               alertmanager: str | None = None, interval: str = "1s",
               port: int | None = None, extra_scrape: Sequence[dict[str, Any]] = ()
               ) -> Process:
    """Debian's Prometheus scraping `targets` (HOST:PORT) as job "node" every `interval`."""
    if PROMETHEUS is None:
        raise RuntimeError("prometheus is not installed (make test installs it)")
    port = port or free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {"job_name": "node", "static_configs": [{"targets": list(targets)}]},
            *extra_scrape,
        ],
    }
    if rule_files:
        config["rule_files"] = [str(p) for p in rule_files]
    if alertmanager:
        config["alerting"] = {"alertmanagers": [
            {"static_configs": [{"targets": [alertmanager.split("://", 1)[-1]]}]}]}
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    argv = [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
            "--log.level=warn"]
    return Process("prometheus", argv, workdir, f"http://127.0.0.1:{port}", "/-/ready")


def rule_groups(*alerts: dict[str, Any]) -> str:
    """A Prometheus rule file of `alerts` (alerting rules), evaluated every second."""
    return yaml.safe_dump({"groups": [{"name": "test", "interval": "1s", "rules": list(alerts)}]})


def alerting_prometheus(workdir: Path, alertmanagers: Sequence[Process],
                        *alerts: dict[str, Any]) -> Process:
    """Debian's Prometheus evaluating the alerting rules `alerts` every second (`set_rules`
    changes them) and sending their alerts to each of `alertmanagers` (an HA set gets every
    alert, as Prometheus sends). Alerts are re-sent every second, so a removed rule's alert
    resolves in Alertmanager once its endsAt (4 x that delay) passes."""
    workdir.mkdir(parents=True, exist_ok=True)
    rule_file = workdir / "rules.yml"
    rule_file.write_text(rule_groups(*alerts))
    proc = prometheus(workdir, [], rule_files=[rule_file])
    config = yaml.safe_load((workdir / "prometheus.yml").read_text())
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [
        am.address for am in alertmanagers]}]}]}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    proc.argv.append("--rules.alert.resend-delay=1s")
    return proc


def set_rules(prom: Process, *alerts: dict[str, Any]) -> None:
    """Make an `alerting_prometheus` evaluate exactly `alerts` from now on (its reload)."""
    (prom.workdir / "rules.yml").write_text(rule_groups(*alerts))
    req = urllib.request.Request(prom.url + "/-/reload", method="POST")
    with urllib.request.urlopen(req, timeout=5):
        pass


def victoria_metrics(workdir: Path, scrape_targets: Sequence[str], *args: str,
                     interval: str = "1s", port: int | None = None) -> Process:
    """Debian's single-node VictoriaMetrics scraping `scrape_targets` (HOST:PORT) as job "node"
    every `interval` with its built-in scraper, serving Prometheus' query API on its port.
    `args` are further flags (e.g. `-search.latencyOffset=0s`)."""
    if VICTORIA_METRICS is None:
        raise RuntimeError("victoria-metrics is not installed (make test installs it)")
    port = port or free_port()
    config = {"global": {"scrape_interval": interval},
              "scrape_configs": [{"job_name": "node",
                                  "static_configs": [{"targets": list(scrape_targets)}]}]}
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "scrape.yml").write_text(yaml.safe_dump(config))
    argv = [VICTORIA_METRICS, f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={workdir / 'data'}", f"-promscrape.config={workdir / 'scrape.yml'}",
            "-promscrape.config.strictParse=false", "-loggerLevel=WARN", *args]
    return Process("victoria-metrics", argv, workdir, f"http://127.0.0.1:{port}", "/-/ready")


def alertmanager(workdir: Path, config: dict[str, Any], port: int | None = None, *,
                 cluster_port: int | None = None, peers: Sequence[int] = (),
                 external_url: str | None = None, peer_timeout: str = "1s") -> Process:
    """Debian's Alertmanager with `config`; clustering off unless `cluster_port` is given, then
    gossiping on 127.0.0.1 with the `peers` (their cluster ports), fast enough for tests.
    `peer_timeout` is how long the second peer waits for the first's notification before it
    sends its own ("0s": both notify every time, as a pair whose gossip lags does)."""
    if ALERTMANAGER is None:
        raise RuntimeError("prometheus-alertmanager is not installed (make test installs it)")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    argv = [ALERTMANAGER, f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    if external_url:
        argv.append(f"--web.external-url={external_url}")
    if cluster_port is None:
        argv.append("--cluster.listen-address=")
    else:
        argv += [f"--cluster.listen-address=127.0.0.1:{cluster_port}",
                 f"--cluster.advertise-address=127.0.0.1:{cluster_port}",
                 "--cluster.gossip-interval=100ms", "--cluster.pushpull-interval=2s",
                 "--cluster.settle-timeout=1s", f"--cluster.peer-timeout={peer_timeout}",
                 *(f"--cluster.peer=127.0.0.1:{p}" for p in peers)]
    return Process("alertmanager", argv, workdir, f"http://127.0.0.1:{port}", "/-/ready")


@contextlib.contextmanager
def alertmanager_pair(base: Path, config: dict[str, Any], peer_timeout: str = "1s"
                      ) -> Iterator[tuple[Process, Process]]:
    """Two Alertmanagers gossiping on loopback (an HA pair), each its own external URL."""
    ports, gossip = (free_port(), free_port()), (free_port(), free_port())
    procs = [alertmanager(base / f"am{i}", config, ports[i], cluster_port=gossip[i],
                          peers=[gossip[1 - i]], external_url=f"http://127.0.0.1:{ports[i]}",
                          peer_timeout=peer_timeout)
             for i in (0, 1)]
    try:
        for proc in procs:
            proc.start()
        yield procs[0], procs[1]
    finally:
        for proc in procs:
            proc.stop()


def prom_query(prom_url: str, query: str) -> list[dict[str, Any]]:
    """An instant query against a real Prometheus, returning `data.result`."""
    from urllib.parse import quote

    status, body = http_json(f"{prom_url}/api/v1/query?query={quote(query)}")
    if status != 200 or body.get("status") != "success":
        raise RuntimeError(f"query {query!r} failed: {status} {body}")
    return body["data"]["result"]


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.2,
             message: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}" + (f": {last_exc}" if last_exc else ""))


NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")


def node_exporter(workdir: Path, *args: str, port: int | None = None) -> Process:
    """Debian's prometheus-node-exporter (the exporter's parity anchor) with `args`."""
    if NODE_EXPORTER is None:
        raise RuntimeError("prometheus-node-exporter is not installed (make test installs it)")
    port = port or free_port()
    argv = [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", "--log.level=error", *args]
    return Process("node_exporter", argv, workdir, f"http://127.0.0.1:{port}", "/metrics")


@contextlib.contextmanager
def exporter_pair(base: Path, *args: str) -> Iterator[tuple[Process, Process]]:
    """promwire's exporter and Debian's node_exporter, both started with the same `args`:
    the two sides of every live parity comparison."""
    ours, theirs = exporter(base / "ours", *args), node_exporter(base / "theirs", *args)
    try:
        ours.start()
        theirs.start()
        yield ours, theirs
    finally:
        ours.stop()
        theirs.stop()
