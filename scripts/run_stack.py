#!/usr/bin/env python3
"""`make run`: the whole local stack as processes, no Docker.

Starts the exporter, Debian's Prometheus and Alertmanager, and the bridge on 127.0.0.1, wired
together from the files in config/ (rendered into .run/ with the ports actually used), prints
where everything is, and stops it all on Ctrl-C or when any part dies.

The bridge keeps its documented port (8000, or --bridge-port); the others use their usual
ports when free and any free port otherwise, because Debian's packages start system services on
9090/9093/9100 on machines with systemd.
"""

from __future__ import annotations

import argparse
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


def wait_ready(name: str, proc: subprocess.Popen[bytes], url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"run: {name} exited with {proc.returncode}; see its log in .run/")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"run: {name} not ready at {url} after {timeout:.0f}s; see .run/")


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the stack the way Ctrl-C does."""
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(ROOT / ".run"), help="state and logs (.run)")
    ap.add_argument("--bridge-port", type=int, default=8000)
    ap.add_argument("--exporter-port", type=int, default=9100)
    ap.add_argument("--prometheus-port", type=int, default=9090)
    ap.add_argument("--alertmanager-port", type=int, default=9093)
    ap.add_argument("--scrape-interval", default="5s")
    args = ap.parse_args()

    run = Path(args.run_dir).resolve()
    run.mkdir(parents=True, exist_ok=True)
    if not port_free(args.bridge_port):
        print(f"run: port {args.bridge_port} is in use; pass RUN_ARGS='--bridge-port N'",
              file=sys.stderr)
        return 1
    ports = {
        "bridge": args.bridge_port,
        "exporter": pick_port(args.exporter_port),
        "prometheus": pick_port(args.prometheus_port),
        "alertmanager": pick_port(args.alertmanager_port),
    }
    token_file = run / "bridge" / "auth_token"
    ensure_token(token_file)
    prom_yml = render_prometheus(run, ports, args.scrape_interval)
    am_yml = render_alertmanager(run, ports, token_file)
    alertmanager_bin = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    prometheus_bin = shutil.which("prometheus")
    if not prometheus_bin or not alertmanager_bin:
        print("run: prometheus/prometheus-alertmanager missing (make run installs them)",
              file=sys.stderr)
        return 1

    py = sys.executable
    bridge_args = [py, "-m", "bridge", "--listen", f"127.0.0.1:{ports['bridge']}",
                   "--prometheus-url", f"http://127.0.0.1:{ports['prometheus']}",
                   "--alertmanager-url", f"http://127.0.0.1:{ports['alertmanager']}",
                   "--data-dir", str(run / "bridge")]
    if (CONFIG / "bridge.yml").exists():
        bridge_args += ["--config", str(CONFIG / "bridge.yml")]
    parts = [
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
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def stop_all(*_: object) -> None:
        for _name, proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for name, argv, ready in parts:
            log = open(run / f"{name}.log", "ab")  # the child keeps its own descriptor
            procs.append((name, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                 cwd=ROOT, start_new_session=True)))
            log.close()
            wait_ready(name, procs[-1][1], ready)
        print("promwire stack is up (logs and state in .run/, Ctrl-C stops it):")
        print(f"  bridge        http://127.0.0.1:{ports['bridge']}/  (the live page; token: "
              f"{token_file})")
        print(f"  exporter      http://127.0.0.1:{ports['exporter']}/metrics")
        print(f"  prometheus    http://127.0.0.1:{ports['prometheus']}/")
        print(f"  alertmanager  http://127.0.0.1:{ports['alertmanager']}/")
        print("  (no Grafana: to see dashboards/ in your own, README \"Grafana next to make run\")")
        sys.stdout.flush()
        while all(proc.poll() is None for _name, proc in procs):
            time.sleep(0.5)
        dead = [name for name, proc in procs if proc.poll() is not None]
        print(f"run: {', '.join(dead)} exited; stopping the stack (see .run/*.log)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
