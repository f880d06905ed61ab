"""Scrape cost of promwire's exporter against Debian's prometheus-node-exporter.

Both run with the same collectors (cpu, meminfo, filesystem, diskstats, netdev, loadavg, stat)
and their own default exclusions (promwire's are Debian's node_exporter's), on free ports.
Each is scraped N times, interleaved (A B, B A, ...) over keep-alive connections as Prometheus
does. For both: median and p95 latency, CPU
seconds per scrape (utime+stime deltas of the process over the measured scrapes), RSS, samples
per scrape; then promwire / node_exporter ratios. Target: latency and CPU ratios <= 1.0,
promwire RSS <= 40 MiB. The machine may be shared: run it a few times.

    python bench/exporter_scrape.py [-n 2000] [--headers plain|prometheus|both]

`plain` asks for the text format without compression (the cost of a scrape itself);
`prometheus` sends Prometheus' own Accept (OpenMetrics first) and Accept-Encoding: gzip.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTORS = ("cpu", "meminfo", "filesystem", "diskstats", "netdev", "loadavg", "stat")
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}
PLAIN_HEADERS = {"Accept": "text/plain", "Accept-Encoding": "identity"}
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Target:
    def __init__(self, name: str, argv: list[str], port: int) -> None:
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.conn: http.client.HTTPConnection | None = None
        self.latencies: list[float] = []
        self.body = b""

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}")
            try:
                self.scrape({})
                return
            except OSError:
                self.conn = None
                time.sleep(0.1)
        raise SystemExit(f"{self.name} not ready after {timeout}s")

    def scrape(self, headers: dict[str, str]) -> float:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        start = time.perf_counter()
        self.conn.request("GET", "/metrics", headers=headers)
        resp = self.conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter() - start
        if resp.status != 200:
            raise SystemExit(f"{self.name}: HTTP {resp.status}")
        self.body = body
        return elapsed

    def samples(self) -> int:
        import gzip

        body = self.body
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        return sum(1 for line in body.decode().splitlines() if line and line[0] != "#")

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_targets() -> tuple[Target, Target]:
    node_exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if node_exporter is None:
        raise SystemExit("prometheus-node-exporter is not installed (make bench installs it)")
    flags = ["--collector.disable-defaults", *(f"--collector.{c}" for c in COLLECTORS)]
    ours_port, theirs_port = free_port(), free_port()
    ours = Target("promwire", [sys.executable, "-m", "exporter", "--listen",
                               f"127.0.0.1:{ours_port}", "--log-level", "error", *flags],
                  ours_port)
    theirs = Target("node_exporter", [node_exporter, f"--web.listen-address=127.0.0.1:"
                                      f"{theirs_port}", "--log.level=error", *flags],
                    theirs_port)
    return ours, theirs


def report(targets: tuple[Target, Target], cpu: dict[str, float], n: int) -> None:
    rows = {}
    print(f"{'':14} {'median ms':>10} {'p95 ms':>8} {'CPU ms/scrape':>14} {'RSS MiB':>8} "
          f"{'samples':>8}")
    for t in targets:
        lat = sorted(t.latencies)
        rows[t.name] = (statistics.median(lat) * 1e3, lat[int(0.95 * (len(lat) - 1))] * 1e3,
                        cpu[t.name] / n * 1e3, rss_mib(t.proc.pid), t.samples())
        median, p95, cpu_ms, rss, count = rows[t.name]
        print(f"{t.name:14} {median:10.3f} {p95:8.3f} {cpu_ms:14.3f} {rss:8.1f} {count:8d}")
    ours, theirs = rows["promwire"], rows["node_exporter"]
    print(f"{'ratio':14} {ours[0] / theirs[0]:10.2f} {ours[1] / theirs[1]:8.2f} "
          f"{ours[2] / theirs[2]:14.2f} {ours[3] / theirs[3]:8.2f}")
    met = ours[0] <= theirs[0] and ours[2] <= theirs[2] and ours[3] <= 40
    print(f"target: latency and CPU ratios <= 1.00, promwire RSS <= 40 MiB "
          f"({'met' if met else 'NOT met'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=2000, help="scrapes of each target (default 2000)")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--headers", choices=("plain", "prometheus", "both"), default="both",
                    help="plain: text, no gzip; prometheus: Prometheus' Accept and gzip")
    args = ap.parse_args()
    modes = ("plain", "prometheus") if args.headers == "both" else (args.headers,)
    targets = start_targets()
    try:
        for t in targets:
            t.wait_ready()
        for mode in modes:
            headers = PROMETHEUS_HEADERS if mode == "prometheus" else PLAIN_HEADERS
            for _ in range(args.warmup):
                for t in targets:
                    t.scrape(headers)
            for t in targets:
                t.latencies = []
            before = {t.name: cpu_seconds(t.proc.pid) for t in targets}
            for i in range(args.n):
                for t in (targets if i % 2 == 0 else targets[::-1]):
                    t.latencies.append(t.scrape(headers))
            cpu = {t.name: cpu_seconds(t.proc.pid) - before[t.name] for t in targets}
            kind = "Prometheus' (OpenMetrics, gzip)" if mode == "prometheus" else "text, no gzip"
            print(f"\n{args.n} scrapes each, interleaved; collectors {', '.join(COLLECTORS)}; "
                  f"headers: {kind}")
            report(targets, cpu, args.n)
    finally:
        for t in targets:
            t.stop()


if __name__ == "__main__":
    main()
