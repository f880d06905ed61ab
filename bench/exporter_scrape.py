"""Scrape cost of promwire's exporter against Debian's prometheus-node-exporter.

Two runs, each on free ports, both exporters with their own default exclusions (promwire's
are Debian's node_exporter's):
- `subset`: the same seven collectors (cpu, meminfo, filesystem, diskstats, netdev, loadavg,
  stat), the cost of the core path; target: latency and CPU ratios <= 1.0.
- `defaults`: both with their full defaults, compared with equal series: node_exporter's
  go_/promhttp_ families are left out of its sample count, and the run first checks that
  promwire's defaults yield the same node_* series (printing any difference). It also prints
  each exporter's five costliest collectors by node_scrape_collector_duration_seconds
  (averaged over the measured scrapes); target: latency and CPU ratios <= 0.8 with
  Prometheus' headers.
Each is scraped N times, interleaved (A B, B A, ...) over keep-alive connections as Prometheus
does. For both: median and p95 latency, CPU seconds per scrape (utime+stime deltas of the
process over the measured scrapes), RSS, samples per scrape; then promwire / node_exporter
ratios. promwire's RSS target is <= 40 MiB. The machine may be shared: run it a few times.

    python bench/exporter_scrape.py [-n 2000] [--headers plain|prometheus|both]
                                    [--run subset|defaults|both]

`plain` asks for the text format without compression (the cost of a scrape itself);
`prometheus` sends Prometheus' own Accept (OpenMetrics first) and Accept-Encoding: gzip.
"""

from __future__ import annotations

import argparse
import gzip
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
# node_exporter's own Go/HTTP self-metrics, which promwire has no equivalent of.
NOT_COMPARED = ("go_", "promhttp_")
BUILD_INFO = ("node_exporter_build_info", "promwire_exporter_build_info")
DURATION = "node_scrape_collector_duration_seconds{"
# Note the collectors' durations on every Nth measured scrape (parsing is client-side work).
DURATION_EVERY = 10


def series(text: str) -> set[str]:
    """The series (name and labels) of an exposition, less NOT_COMPARED families."""
    out = set()
    for line in text.splitlines():
        if line and line[0] != "#" and not line.startswith(NOT_COMPARED):
            out.add(line.rsplit(" ", 1)[0])
    return out


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
        self.durations: dict[str, float] = {}
        self.duration_scrapes = 0

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

    def scrape_or_exit(self, headers: dict[str, str]) -> float:
        """A measured scrape; a connection error ends the bench, naming the target."""
        try:
            return self.scrape(headers)
        except OSError as exc:
            raise SystemExit(f"{self.name}: {exc!r} (exit code {self.proc.poll()})") from exc

    def text(self) -> str:
        """The last scrape's body as text (gunzipped)."""
        body = self.body
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        return body.decode()

    def samples(self) -> int:
        """Samples of the last scrape, less node_exporter's go_/promhttp_ families."""
        return len(series(self.text()))

    def note_durations(self) -> None:
        """Add the last scrape's per-collector durations to the running sums."""
        self.duration_scrapes += 1
        for line in self.text().splitlines():
            if line.startswith(DURATION):
                name = line.split('collector="', 1)[1].split('"', 1)[0]
                seconds = float(line.rsplit(" ", 1)[1])
                self.durations[name] = self.durations.get(name, 0.0) + seconds

    def costliest(self, top: int = 5) -> list[tuple[str, float]]:
        """The `top` collectors by mean duration over the noted scrapes, in ms."""
        n = max(self.duration_scrapes, 1)
        ranked = sorted(self.durations.items(), key=lambda kv: -kv[1])[:top]
        return [(name, total / n * 1e3) for name, total in ranked]

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_targets(collectors: tuple[str, ...] | None) -> tuple[Target, Target]:
    """promwire and node_exporter on free ports, with only `collectors` (None: defaults)."""
    node_exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if node_exporter is None:
        raise SystemExit("prometheus-node-exporter is not installed (make bench installs it)")
    flags = [] if collectors is None else \
        ["--collector.disable-defaults", *(f"--collector.{c}" for c in collectors)]
    ours_port, theirs_port = free_port(), free_port()
    ours = Target("promwire", [sys.executable, "-m", "exporter", "--listen",
                               f"127.0.0.1:{ours_port}", "--log-level", "error", *flags],
                  ours_port)
    theirs = Target("node_exporter", [node_exporter, f"--web.listen-address=127.0.0.1:"
                                      f"{theirs_port}", "--log.level=error", *flags],
                    theirs_port)
    return ours, theirs


def compare_series(targets: tuple[Target, Target]) -> None:
    """Print whether both expose the same series (less go_/promhttp_ and build info)."""
    got = {}
    for t in targets:
        t.scrape(PLAIN_HEADERS)
        got[t.name] = {s for s in series(t.text()) if not s.startswith(BUILD_INFO)}
    ours, theirs = got["promwire"], got["node_exporter"]
    print(f"series compared (less go_*, promhttp_*, build info): promwire {len(ours)}, "
          f"node_exporter {len(theirs)}; "
          f"{'the same' if ours == theirs else 'DIFFERENT'}")
    for label, extra in (("only promwire", ours - theirs), ("only node_exporter", theirs - ours)):
        for s in sorted(extra)[:40]:
            print(f"  {label}: {s}")
        if len(extra) > 40:
            print(f"  {label}: ... {len(extra) - 40} more")


def report(targets: tuple[Target, Target], cpu: dict[str, float], n: int,
           ratio_target: float) -> None:
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
    for t in targets:
        top = ", ".join(f"{name} {ms:.2f}" for name, ms in t.costliest())
        print(f"costliest collectors of {t.name} (mean ms): {top}")
    met = ours[0] <= ratio_target * theirs[0] and ours[2] <= ratio_target * theirs[2] \
        and ours[3] <= 40
    print(f"target: latency and CPU ratios <= {ratio_target:.2f}, promwire RSS <= 40 MiB "
          f"({'met' if met else 'NOT met'})")


def measure(targets: tuple[Target, Target], mode: str, n: int, warmup: int) -> dict[str, float]:
    """Warm up, then scrape both `n` times interleaved; the CPU seconds each spent."""
    headers = PROMETHEUS_HEADERS if mode == "prometheus" else PLAIN_HEADERS
    for _ in range(warmup):
        for t in targets:
            t.scrape_or_exit(headers)
    for t in targets:
        t.latencies, t.durations, t.duration_scrapes = [], {}, 0
    before = {t.name: cpu_seconds(t.proc.pid) for t in targets}
    for i in range(n):
        for t in (targets if i % 2 == 0 else targets[::-1]):
            t.latencies.append(t.scrape_or_exit(headers))
            if i % DURATION_EVERY == 0:
                t.note_durations()
    return {t.name: cpu_seconds(t.proc.pid) - before[t.name] for t in targets}


def run(which: str, modes: tuple[str, ...], n: int, warmup: int) -> None:
    collectors = COLLECTORS if which == "subset" else None
    targets = start_targets(collectors)
    try:
        for t in targets:
            t.wait_ready()
        if collectors is None:
            print("\n== full defaults of both")
            compare_series(targets)
        for mode in modes:
            cpu = measure(targets, mode, n, warmup)
            kind = "Prometheus' (OpenMetrics, gzip)" if mode == "prometheus" else "text, no gzip"
            what = "defaults" if collectors is None else f"collectors {', '.join(collectors)}"
            print(f"\n{n} scrapes each, interleaved; {what}; headers: {kind}")
            report(targets, cpu, n, 0.8 if collectors is None else 1.0)
            if collectors is None:  # the host may change meanwhile (mounts, units): again
                compare_series(targets)
    finally:
        for t in targets:
            t.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=2000, help="scrapes of each target (default 2000)")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--headers", choices=("plain", "prometheus", "both"), default="both",
                    help="plain: text, no gzip; prometheus: Prometheus' Accept and gzip")
    ap.add_argument("--run", choices=("subset", "defaults", "both"), default="both",
                    help="subset: the same seven collectors; defaults: both exporters' "
                         "full defaults")
    args = ap.parse_args()
    modes = ("plain", "prometheus") if args.headers == "both" else (args.headers,)
    for which in (("subset", "defaults") if args.run == "both" else (args.run,)):
        run(which, modes, args.n, args.warmup)


if __name__ == "__main__":
    main()
