#!/usr/bin/env python3
"""`make run`: the whole local stack as processes, no Docker.

Starts the exporter, Debian's Prometheus and Alertmanager, and the bridge on 127.0.0.1, wired
together from the files in config/ (rendered into .run/ with the ports actually used), prints
where everything is, and stops it all on Ctrl-C or when any part dies.

Every part uses its usual port when free and any free port otherwise (Debian's packages start
system services on 9090/9093/9100 on machines with systemd); only a bridge port given as a flag
is kept or refused. One stack per run dir: `.run/lock` is held (flock) for the stack's lifetime and
names its pid and ports, so a second `make run` in the same checkout exits 2 saying which stack
runs there instead of sharing its TSDB, alert store and rendered configs.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
LOCK_NAME = "lock"
DEFAULT_PORTS = {"bridge": 8000, "exporter": 9100, "prometheus": 9090, "alertmanager": 9093}


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port(preferred: int) -> int:
    if preferred and port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lock_run_dir(run: Path) -> int | None:
    """The descriptor holding `run`'s lock, or None when another stack holds it.

    flock, not a pid file: the kernel drops the lock when the holder dies however it dies, so
    a crash never leaves a run dir claimed. The descriptor is close-on-exec, so the children do
    not keep the lock after the runner is gone.
    """
    fd = os.open(run / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def record_stack(fd: int, ports: dict[str, int]) -> None:
    """Write this stack's pid and ports into the lock file for a second runner to name."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "ports": ports}).encode() + b"\n", 0)


def describe_holder(run: Path) -> str:
    """The stack holding `run`'s lock, as the one line a refused second runner prints."""
    try:
        holder = json.loads((run / LOCK_NAME).read_text())
        ports = ", ".join(f"{name} {port}" for name, port in holder["ports"].items())
        who = f"pid {int(holder['pid'])}: {ports}"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        who = "still starting"  # it has the lock but has not written its ports yet
    return (f"run: a stack is already running in {run} ({who}); stop it, or start another "
            f"with RUN_ARGS='--run-dir DIR'")


def ensure_token(path: Path) -> str:
    """The token the bridge requires and Alertmanager sends, shared through one 0600 file."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def render_prometheus(run: Path, ports: dict[str, int], interval: str) -> Path:
    config: dict[str, Any] = yaml.safe_load((CONFIG / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    targets = {"node": "exporter", "promwire-bridge": "bridge", "prometheus": "prometheus"}
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            port = ports[targets[job["job_name"]]]
            job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    # The host is named after itself, not after whichever port was free this run: the TSDB in
    # the run dir outlives runs, and a port-named instance would make each busy port a new host.
    node = next(job for job in config["scrape_configs"] if job["job_name"] == "node")
    node["static_configs"][0]["labels"] = {"instance": socket.gethostname()}
    config["rule_files"] = [str(CONFIG / "prometheus" / f) for f in config.get("rule_files", [])]
    config["alerting"]["alertmanagers"] = [
        {"static_configs": [{"targets": [f"127.0.0.1:{ports['alertmanager']}"]}]}]
    out = run / "prometheus" / "prometheus.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def render_alertmanager(run: Path, ports: dict[str, int], token_file: Path) -> Path:
    """Point every webhook at this bridge and its token file."""
    config: dict[str, Any] = yaml.safe_load(
        (CONFIG / "alertmanager" / "alertmanager.yml").read_text())
    for receiver in config.get("receivers", []):
        for hook in receiver.get("webhook_configs", []):
            path = hook["url"].split("/", 3)[3] if hook["url"].count("/") >= 3 else ""
            hook["url"] = f"http://127.0.0.1:{ports['bridge']}/{path}"
            auth = hook.setdefault("http_config", {}).setdefault("authorization", {})
            auth.pop("credentials", None)
            auth["credentials_file"] = str(token_file)
    out = run / "alertmanager" / "alertmanager.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def wait_ready(name: str, proc: subprocess.Popen[bytes], url: str, run: Path,
               timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"run: {name} exited with {proc.returncode}; see {run}/{name}.log")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"run: {name} not ready at {url} after {timeout:.0f}s; see {run}/{name}.log")


# Each one stops the stack: Ctrl-C, `kill`, and the terminal closing (the parts run in their own
# sessions, so the runner is the only one told; dying on SIGHUP's default would orphan them).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def handle_stop_signals(handler: Any) -> None:
    """Install `handler` for every stop signal, explicitly.

    Python only turns SIGINT into KeyboardInterrupt when SIGINT starts at its default, and a
    shell starts background jobs (`make run &` in a script) with SIGINT ignored: without this,
    `kill -INT` of such a runner would do nothing.
    """
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(ROOT / ".run"),
                    help="state, rendered configs and logs (.run); one stack per run dir")
    for name, port in DEFAULT_PORTS.items():
        ap.add_argument(f"--{name}-port", type=int, default=None,
                        help=f"default {port}, or any free port when it is busy")
    ap.add_argument("--scrape-interval", default="5s")
    return ap.parse_args()


def choose_ports(args: argparse.Namespace) -> dict[str, int] | None:
    """The ports to use, or None when the bridge port given as a flag is busy.

    The bridge's port is what people type into a browser, so a port asked for is kept or
    refused; left to the default, 8000 is used when free and a free port otherwise (a second
    stack in another run dir), and the banner says which.
    """
    if args.bridge_port is not None and not port_free(args.bridge_port):
        print(f"run: port {args.bridge_port} is in use; pass RUN_ARGS='--bridge-port N'",
              file=sys.stderr)
        return None
    return {name: pick_port(getattr(args, f"{name}_port") or default)
            for name, default in DEFAULT_PORTS.items()}


def build_parts(run: Path, ports: dict[str, int], interval: str, token_file: Path
                ) -> list[tuple[str, list[str], str]] | None:
    """(name, argv, readiness URL) per part, in start order; None when a binary is missing."""
    alertmanager_bin = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    prometheus_bin = shutil.which("prometheus")
    if not prometheus_bin or not alertmanager_bin:
        print("run: prometheus/prometheus-alertmanager missing (make run installs them)",
              file=sys.stderr)
        return None
    prom_yml = render_prometheus(run, ports, interval)
    am_yml = render_alertmanager(run, ports, token_file)
    py = sys.executable
    bridge_args = [py, "-m", "bridge", "--listen", f"127.0.0.1:{ports['bridge']}",
                   "--prometheus-url", f"http://127.0.0.1:{ports['prometheus']}",
                   "--alertmanager-url", f"http://127.0.0.1:{ports['alertmanager']}",
                   "--data-dir", str(run / "bridge")]
    if (CONFIG / "bridge.yml").exists():
        bridge_args += ["--config", str(CONFIG / "bridge.yml")]
    return [
        ("exporter", [py, "-m", "exporter", "--listen", f"127.0.0.1:{ports['exporter']}"],
         f"http://127.0.0.1:{ports['exporter']}/-/healthy"),
        ("bridge", bridge_args, f"http://127.0.0.1:{ports['bridge']}/health"),
        ("alertmanager", [alertmanager_bin, f"--config.file={am_yml}",
                          f"--storage.path={run / 'alertmanager' / 'data'}",
                          f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                          "--cluster.listen-address="],
         f"http://127.0.0.1:{ports['alertmanager']}/-/ready"),
        ("prometheus", [prometheus_bin, f"--config.file={prom_yml}",
                        f"--storage.tsdb.path={run / 'prometheus' / 'data'}",
                        f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                        "--web.enable-lifecycle"],
         f"http://127.0.0.1:{ports['prometheus']}/-/ready"),
    ]


def print_banner(run: Path, ports: dict[str, int], token_file: Path) -> None:
    print(f"promwire stack is up (logs and state in {run}, Ctrl-C stops it):")
    print(f"  bridge        http://127.0.0.1:{ports['bridge']}/  (the live page; token: "
          f"{token_file})")
    print(f"  exporter      http://127.0.0.1:{ports['exporter']}/metrics")
    print(f"  prometheus    http://127.0.0.1:{ports['prometheus']}/")
    print(f"  alertmanager  http://127.0.0.1:{ports['alertmanager']}/")
    print("  (no Grafana: to see dashboards/ in your own, README \"Grafana next to make run\")")
    sys.stdout.flush()


def supervise(run: Path, parts: list[tuple[str, list[str], str]],
              on_up: Any) -> int:
    """Start the parts in order, each once the one before is ready; stop them all together."""
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def stop_all() -> None:
        handle_stop_signals(signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        for _name, proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    try:
        handle_stop_signals(_interrupt)
        for name, argv, ready in parts:
            log = open(run / f"{name}.log", "ab")  # the child keeps its own descriptor
            procs.append((name, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                 cwd=ROOT, start_new_session=True)))
            log.close()
            wait_ready(name, procs[-1][1], ready, run)
        on_up()
        while all(proc.poll() is None for _name, proc in procs):
            time.sleep(0.5)
        dead = [name for name, proc in procs if proc.poll() is not None]
        print(f"run: {', '.join(dead)} exited; stopping the stack (see {run}/*.log)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_all()


def main() -> int:
    args = parse_args()
    run = Path(args.run_dir).resolve()
    run.mkdir(parents=True, exist_ok=True)
    lock = lock_run_dir(run)
    if lock is None:
        print(describe_holder(run), file=sys.stderr)
        return 2
    ports = choose_ports(args)
    if ports is None:
        return 1
    record_stack(lock, ports)
    token_file = run / "bridge" / "auth_token"
    ensure_token(token_file)
    parts = build_parts(run, ports, args.scrape_interval, token_file)
    if parts is None:
        return 1
    return supervise(run, parts, lambda: print_banner(run, ports, token_file))


if __name__ == "__main__":
    sys.exit(main())
