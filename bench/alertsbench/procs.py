"""The processes a run measures: bridges (`python -m bridge`) and, for the shared log, Debian's
PostgreSQL started as the tests start it (tests/pg.py: fsync and synchronous_commit on)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from alertsbench import ROOT

TOKEN = "bench-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_bridge(workdir: Path, alerts: dict[str, Any], wait: bool = True
                 ) -> tuple[subprocess.Popen[bytes], str]:
    """A bridge with the token, no Prometheus and no Alertmanager; `alerts` its alerts config."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {"alerts": {"max_subscribers": 20000, "heartbeat": 60, **alerts},
              "alertmanager": {"url": ""}}
    (workdir / "bridge.yml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMWIRE_")}
    log = open(workdir / "bridge.log", "wb")  # the child keeps its own copy
    # BENCH_PROFILE=DIR: each bridge under cProfile, its stats in DIR/NAME.prof at exit.
    profile = os.environ.get("BENCH_PROFILE")
    prefix = ["-m", "cProfile", "-o", f"{profile}/{workdir.name}.prof"] if profile else []
    proc = subprocess.Popen(
        [sys.executable, *prefix, "-m", "bridge", "--listen", f"127.0.0.1:{port}",
         "--prometheus-url", "http://127.0.0.1:1", "--data-dir", str(workdir / "data"),
         "--auth-token", TOKEN, "--config", str(workdir / "bridge.yml"), "--log-level",
         "warning"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    url = f"http://127.0.0.1:{port}"
    if wait:
        wait_ready(proc, url, workdir)
    return proc, url


def wait_ready(proc: subprocess.Popen[bytes], url: str, workdir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/api/alerts", timeout=1):
                return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("bridge did not start; see " + str(workdir / "bridge.log"))


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_replicas(workdir: Path, database_url: str, count: int
                   ) -> list[tuple[subprocess.Popen[bytes], str]]:
    """`count` bridges on one PostgreSQL log, started together."""
    started = [start_bridge(workdir / f"r{i}", {"store": "postgres",
                                               "database_url": database_url,
                                               "replica_id": f"r{i}"}, wait=False)
               for i in range(count)]
    for i, (proc, url) in enumerate(started):
        wait_ready(proc, url, workdir / f"r{i}")
    return started


def postgres() -> Any:
    """tests.pg's server (initdb in a temp dir, as the postgres user when root), started."""
    from tests.pg import PostgresServer
    return PostgresServer().start()


def settle(server: Any, within: float = 120.0) -> float:
    """Let PostgreSQL finish with a burst before latency is measured: a CHECKPOINT, then
    until no autovacuum worker runs (the ingest's tens of thousands of rows wake them), so
    the latency figures are of a database at rest rather than of the burst's aftermath.
    Seconds it took (at most `within`)."""
    started = time.monotonic()
    server.psql("CHECKPOINT")
    while time.monotonic() - started < within:
        busy = server.psql("SELECT count(*) FROM pg_stat_activity "
                           "WHERE backend_type = 'autovacuum worker'")
        if busy == "0":
            break
        time.sleep(0.5)
    return time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and every descendant alive now (PostgreSQL's backends)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    family, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    total = 0.0
    for pid in family:
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue
    return total
