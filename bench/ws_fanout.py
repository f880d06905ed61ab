"""WebSocket fan-out: N clients on the bridge's default metric stream at a 1 s interval.

Starts a scrape target, a dedicated Prometheus (nothing else queries it) and a fresh bridge per
N; load-generator processes open N WebSocket connections with a minimal client (handshake, frame
parser, pong) so that the clients cost as little CPU as possible on this shared machine. Each
metrics frame carries the tick's `timestamp` (when the bridge started that round of queries);
lag = receipt time - timestamp, over frames of ticks inside the measurement window.

Prints, per N: p50/p99/max lag, frames received vs expected, bridge CPU (% of one core) and RSS
per connection, frames dropped (bridge /metrics) and Prometheus queries per tick (its own
prometheus_engine_query_duration_seconds_count{slice="inner_eval"}), against the issue's
targets (p99 < 250 ms and <= 30 KiB per connection at N = 10,000; one round of catalog queries
per tick) and against what N clients polling Prometheus directly would cost.

    .venv/bin/python bench/ws_fanout.py [--clients 1000,5000,10000] [--window 15] [--workers 3]
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import os
import re
import resource
import select
import shutil
import socket
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import servers

INTERVAL = 1.0
CATALOG_QUERIES = 8  # built-in catalog size: one round = this many instant queries


def raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- load generator ---------------------------------------------------------------------------

def handshake(port: int) -> tuple[socket.socket, bytes]:
    """Open one WebSocket (blocking); returns the socket and bytes already past the headers."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /api/ws/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("closed during the handshake")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise OSError(head[:200].decode(errors="replace"))
    sock.setblocking(False)
    return sock, rest


def parse_frames(buf: bytes, on_frame: Any) -> bytes:
    """Call on_frame(opcode, payload) for each complete frame; return the incomplete rest."""
    pos, size = 0, len(buf)
    while size - pos >= 2:
        b1 = buf[pos + 1] & 0x7F
        n, head = b1, 2
        if b1 == 126:
            if size - pos < 4:
                break
            n, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
        elif b1 == 127:
            if size - pos < 10:
                break
            n, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
        if size - pos < head + n:
            break
        on_frame(buf[pos] & 0x0F, buf[pos + head:pos + head + n])
        pos += head + n
    return buf[pos:]


def worker(port: int, count: int, ready: Any, go: Any, since: Any, window: float,
           out: Any, nice: int) -> None:
    """Hold `count` sockets in one epoll loop; record lags of metrics frames in the window.

    A plain epoll loop rather than asyncio or `websockets`: the load generator shares the
    machine's two cores with the bridge, so each received frame must cost it as little as
    possible.
    """
    raise_fd_limit()
    os.nice(nice)
    socks: dict[int, socket.socket] = {}
    bufs: dict[int, bytes] = {}
    failed = 0
    for _ in range(count):
        try:
            sock, rest = handshake(port)
        except OSError:
            failed += 1
            continue
        socks[sock.fileno()], bufs[sock.fileno()] = sock, rest
    ep = select.epoll()
    for fd in socks:
        ep.register(fd, select.EPOLLIN)
    ready.set()
    lags = array("d")
    lo = hi = end = float("inf")
    now = 0.0
    current: socket.socket | None = None

    def on_frame(opcode: int, payload: bytes) -> None:
        if opcode == 0x1 and payload.startswith(b'{"type":"metrics"'):
            i = payload.find(b'"timestamp":') + 12
            ts = float(payload[i:payload.find(b",", i)])
            if lo <= ts < hi:
                lags.append(now - ts)
        elif opcode == 0x9 and current is not None:  # ping -> masked pong (zero mask)
            current.send(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)

    while time.time() < end:
        if lo == float("inf") and go.is_set():
            lo, hi = since.value, since.value + window
            end = hi + 1.5
        for fd, _ in ep.poll(0.2):
            current = socks[fd]
            try:
                data = current.recv(262144)
            except OSError:
                data = b""
            if not data:
                ep.unregister(fd)
                failed += 1
                continue
            now = time.time()
            bufs[fd] = parse_frames(bufs[fd] + data if bufs[fd] else data, on_frame)
    out.put((lags.tobytes(), failed))
    for sock in socks.values():
        sock.close()


# --- measurements -----------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def metric_sum(url: str, pattern: str) -> float:
    _, body = servers.http_get(url)
    total = 0.0
    for line in body.decode().splitlines():
        if re.match(pattern, line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def prom_queries(prom_url: str) -> float:
    return metric_sum(prom_url + "/metrics",
                      r'prometheus_engine_query_duration_seconds_count\{slice="inner_eval"\}')


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def run(n: int, prom_url: str, workdir: Path, window: float, workers: int, nice: int,
        debug: bool = False) -> dict[str, float]:
    bridge = servers.bridge(workdir / f"bridge-{n}", prom_url, config={
        "streams": {"interval": INTERVAL, "max_connections": n + 100},
        "log_level": "debug" if debug else "warning"})
    bridge.start()
    try:
        assert bridge.proc is not None
        pid = bridge.proc.pid
        time.sleep(1.0)
        rss0 = rss_kib(pid)
        port = int(bridge.url.rsplit(":", 1)[1])
        ctx = mp.get_context("spawn")
        ready = [ctx.Event() for _ in range(workers)]
        go, since, out = ctx.Event(), ctx.Value("d", 0.0), ctx.Queue()
        share = [n // workers + (i < n % workers) for i in range(workers)]
        procs = [ctx.Process(target=worker,
                             args=(port, c, ready[i], go, since, window, out, nice))
                 for i, c in enumerate(share)]
        t0 = time.time()
        for p in procs:
            p.start()
        for r in ready:
            r.wait(300)
        connect_s = time.time() - t0
        time.sleep(2 * INTERVAL)  # let every client get its first frames
        rss1 = rss_kib(pid)
        since.value = time.time() + 0.5
        go.set()
        time.sleep(max(0.0, since.value - time.time()))
        q0, c0 = prom_queries(prom_url), cpu_seconds(pid)
        d0 = metric_sum(bridge.url + "/metrics", r"promwire_bridge_frames_dropped_total ")
        time.sleep(window)
        q1, c1 = prom_queries(prom_url), cpu_seconds(pid)
        d1 = metric_sum(bridge.url + "/metrics", r"promwire_bridge_frames_dropped_total ")
        lags: list[float] = []
        failed = 0
        for _ in procs:
            raw, f = out.get(timeout=120)
            chunk = array("d")
            chunk.frombytes(raw)
            lags.extend(chunk)
            failed += f
        for p in procs:
            p.join(30)
        lags.sort()
        ticks = window / INTERVAL
        return {"n": n, "connected": n - failed, "connect_s": connect_s,
                "frames": len(lags), "expected": (n - failed) * ticks,
                "p50": pct(lags, 0.5) * 1000, "p99": pct(lags, 0.99) * 1000,
                "max": (lags[-1] if lags else float("nan")) * 1000,
                "mean": (statistics.fmean(lags) if lags else float("nan")) * 1000,
                "cpu": (c1 - c0) / window * 100, "rss0": rss0, "rss1": rss1,
                "rss_per_conn": (rss1 - rss0) / max(1, n - failed),
                "dropped": d1 - d0, "queries_per_tick": (q1 - q0) / ticks}
    finally:
        bridge.stop()
        if debug:  # the bridge's own account of each fan-out (bridge.streams debug log)
            print("\n".join(line for line in bridge.log_path.read_text().splitlines()
                            if "frames written" in line)[-3000:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", default="1000,5000,10000")
    p.add_argument("--window", type=float, default=15.0, help="measured seconds per N")
    p.add_argument("--workers", type=int, default=3, help="load-generator processes")
    p.add_argument("--nice", type=int, default=0,
                   help="niceness of the load generators (10 approximates remote clients)")
    p.add_argument("--debug", action="store_true", help="print the bridge's fan-out timings")
    args = p.parse_args()
    limit = raise_fd_limit()
    sizes = [int(x) for x in args.clients.split(",")]
    if max(sizes) + 200 > limit:
        sys.exit(f"RLIMIT_NOFILE hard limit {limit} is too low for {max(sizes)} clients")
    workdir = Path(tempfile.mkdtemp(prefix="ws_fanout-"))
    target = _target(workdir)
    prom = servers.prometheus(workdir / "prometheus", [target[1]]).start()
    try:
        servers.wait_for(lambda: servers.prom_query(prom.url, "rate(node_cpu_seconds_total[5s])"),
                         timeout=60, message="Prometheus to have data")
        print(f"# bridge streams.interval={INTERVAL}s, target {target[0]}, dedicated Prometheus, "
              f"{args.workers} load-generator processes, window {args.window:g}s, "
              f"{os.cpu_count()} cores shared with the clients (and other work: expect noise)")
        print(f"{'N':>6} {'conn':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
              f"{'recv/exp':>9} {'CPU %':>6} {'KiB/conn':>8} {'dropped':>7} "
              f"{'q/tick':>6} {'direct q/tick':>13}")
        for n in sizes:
            r = run(n, prom.url, workdir, args.window, args.workers, args.nice, args.debug)
            print(f"{n:>6} {r['connected']:>6} {r['p50']:>7.1f} {r['p99']:>7.1f} "
                  f"{r['max']:>7.1f} {r['frames'] / max(1, r['expected']):>9.3f} "
                  f"{r['cpu']:>6.1f} {r['rss_per_conn']:>8.1f} {r['dropped']:>7.0f} "
                  f"{r['queries_per_tick']:>6.1f} {n * CATALOG_QUERIES:>13}", flush=True)
        print(f"# targets at N=10000: p99 < 250 ms, <= 30 KiB/conn; q/tick = {CATALOG_QUERIES} "
              "(one round of the catalog's queries for the one distinct subscription)")
    finally:
        prom.stop()
        if target[2] is not None:
            target[2].stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _target(workdir: Path) -> tuple[str, str, servers.Process | None]:
    """The promwire exporter when it runs, else Debian's node_exporter (same metric names)."""
    try:
        exp = servers.exporter(workdir / "exporter").start(timeout=15)
        return "promwire exporter", exp.url.split("://", 1)[1], exp
    except Exception:
        binary = shutil.which("prometheus-node-exporter")
        if binary is None:
            raise
        port = servers.free_port()
        proc = servers.Process("node_exporter", [binary, f"--web.listen-address=127.0.0.1:{port}"],
                               workdir / "node_exporter", f"http://127.0.0.1:{port}", "/metrics")
        proc.start()
        return "prometheus-node-exporter", f"127.0.0.1:{port}", proc


if __name__ == "__main__":
    main()
