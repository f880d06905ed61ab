"""Alert ingest and fan-out of the bridge, as a real process over real HTTP and WebSocket.

1. Durable ingest: C concurrent clients POST Alertmanager webhook notifications (version 4,
   every alert new, so every alert is an event) for T seconds; a notification counts only once
   its 200 arrived, i.e. after the SQLite commit (WAL, `alerts.sync`, FULL by default).
   Printed: notifications/s and alerts/s, with the sync setting.
2. Fan-out latency: S WebSocket subscribers on /api/ws/ws/alerts; notifications are posted at
   R/s and each subscriber notes when each event arrives. Latency = arrival - just before the
   POST was sent, over every (subscriber, event) pair: p50 / p99 / max.

Targets (issue 5): >= 2,000 alerts/s durably accepted; p99 < 50 ms with 1,000 subscribers.
The subscribers run in this one Python process on the same (2-core, shared) machine as the
bridge, so their own receive cost is inside the figure; expect noise from other work.

    python bench/alerts_ingest.py [--sync FULL] [--clients 32] [--per-notification 1]
                                  [--seconds 10] [--subscribers 1000] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_bridge(workdir: Path, sync: str) -> tuple[subprocess.Popen[bytes], str]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {"alerts": {"sync": sync, "max_subscribers": 20000, "heartbeat": 60},
              "alertmanager": {"url": ""}}
    (workdir / "bridge.yml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMWIRE_")}
    log = open(workdir / "bridge.log", "wb")  # the child keeps its own copy
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "--listen", f"127.0.0.1:{port}",
         "--prometheus-url", "http://127.0.0.1:1", "--data-dir", str(workdir / "data"),
         "--auth-token", TOKEN, "--config", str(workdir / "bridge.yml"), "--log-level",
         "warning"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/api/alerts", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("bridge did not start; see " + str(workdir / "bridge.log"))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def notification(prefix: str, n: int, sent: float | None = None) -> bytes:
    alerts = [{"status": "firing",
               "labels": {"alertname": "Bench", "instance": f"{prefix}-{i}"},
               "annotations": {"sent": repr(sent) if sent is not None else ""},
               "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
               "generatorURL": ""} for i in range(n)]
    return json.dumps({"version": "4", "status": "firing", "receiver": "bench",
                       "groupKey": prefix, "alerts": alerts, "truncatedAlerts": 0}).encode()


async def ingest(url: str, clients: int, per: int, seconds: float) -> tuple[int, float]:
    """Notifications acknowledged (200 = committed) by `clients` concurrent posters."""
    done = 0
    stop_at = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def poster(c: int) -> None:
            nonlocal done
            i = 0
            while time.perf_counter() < stop_at:
                body = notification(f"c{c}n{i}", per)
                async with session.post(url + "/api/alerts/webhook", data=body,
                                        headers=HEADERS) as resp:
                    if resp.status != 200:
                        raise SystemExit(f"webhook answered {resp.status}: {await resp.text()}")
                    await resp.read()
                done += 1
                i += 1
        started = time.perf_counter()
        await asyncio.gather(*(poster(c) for c in range(clients)))
        return done, time.perf_counter() - started


async def fanout(url: str, pid: int, subscribers: int, rate: float, seconds: float,
                 client: str) -> tuple[list[float], int, int, float]:
    """(latencies of every event at every subscriber in s, events, deliveries missing,
    bridge CPU seconds from the first notification until the last delivery)."""
    latencies: list[float] = []
    expected: list[int] = []  # set once every notification was posted
    all_in = asyncio.Event()

    def on_text(text: str, now: float) -> None:
        # Cheap on purpose: the subscribers share this process and its CPU.
        start = text.find('"sent":"')
        if start >= 0 and text.startswith('{"type":"alert"'):
            latencies.append(now - float(text[start + 8:text.index('"', start + 8)]))
            if expected and len(latencies) >= expected[0]:
                all_in.set()

    async with contextlib.AsyncExitStack() as stack:
        if client == "raw":
            host, port = url.removeprefix("http://").split(":")
            loop = asyncio.get_running_loop()
            for _ in range(subscribers):
                _t, proto = await loop.create_connection(
                    lambda: RawSubscriber(f"{host}:{port}", on_text), host, int(port))
                stack.callback(proto.transport.close)  # type: ignore[union-attr]
                await proto.snapshot
        else:
            await _aiohttp_subscribers(stack, url, subscribers, on_text)
        cpu_before = cpu_seconds(pid)
        events = 0
        async with aiohttp.ClientSession() as poster:
            interval = 1.0 / rate
            next_at = time.perf_counter()
            end = next_at + seconds
            while next_at < end:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                body = notification(f"lat{events}", 1, sent=time.time())
                async with poster.post(url + "/api/alerts/webhook", data=body,
                                       headers=HEADERS) as resp:
                    assert resp.status == 200, await resp.text()
                events += 1
                next_at += interval
        expected.append(events * subscribers)
        if len(latencies) >= expected[0]:
            all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), 30)
        cpu = cpu_seconds(pid) - cpu_before
    return latencies, events, events * subscribers - len(latencies), cpu


async def _aiohttp_subscribers(stack: contextlib.AsyncExitStack, url: str, subscribers: int,
                               on_text: Any) -> None:
    session = await stack.enter_async_context(
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
    ws_url = url.replace("http://", "ws://") + "/api/ws/ws/alerts"

    async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            on_text(msg.data, time.time())
    for _ in range(subscribers):
        ws = await session.ws_connect(ws_url, max_msg_size=0)
        await ws.receive()  # the snapshot
        task = asyncio.create_task(listen(ws))
        stack.push_async_callback(ws.close)
        stack.callback(task.cancel)


class RawSubscriber(asyncio.Protocol):
    """A minimal RFC 6455 client (handshake, unmasked server text frames): its cost per message
    is a few microseconds, so the latency measured is the bridge's rather than this process'."""

    def __init__(self, host: str, on_text: Any) -> None:
        self.host, self.on_text = host, on_text
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.snapshot: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET /api/ws/ws/alerts HTTP/1.1\r\nHost: {self.host}\r\n"
                         f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                         ).encode())

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 101"):
                raise SystemExit(f"upgrade refused: {bytes(self.buf[:80])!r}")
            del self.buf[:end + 4]
            self.upgraded = True
        while len(self.buf) >= 2:
            n, off = self.buf[1] & 0x7F, 2
            if n == 126:
                if len(self.buf) < 4:
                    return
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    return
                n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
            if len(self.buf) < off + n:
                return
            opcode = self.buf[0] & 0x0F
            payload = bytes(self.buf[off:off + n])
            del self.buf[:off + n]
            if opcode == 0x1:
                if not self.snapshot.done():
                    self.snapshot.set_result(None)
                else:
                    self.on_text(payload.decode(), now)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sync", default="FULL", choices=["OFF", "NORMAL", "FULL", "EXTRA"])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--per-notification", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=10.0, help="notifications/s while measuring "
                    "fan-out latency")
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument("--client", choices=["raw", "aiohttp"], default="raw",
                    help="subscriber implementation: a minimal RFC 6455 client (default) or "
                    "aiohttp's (its own per-message cost then dominates the figure)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="alerts-bench-") as tmp:
        proc, url = start_bridge(Path(tmp), args.sync)
        try:
            print(f"== durable ingest: {args.clients} concurrent webhook clients, "
                  f"{args.per_notification} new alert(s) per notification, "
                  f"SQLite WAL synchronous={args.sync}, {args.seconds:g}s")
            done, took = await ingest(url, args.clients, args.per_notification, args.seconds)
            per_s = done / took
            alerts_s = per_s * args.per_notification
            print(f"notifications/s {per_s:9.0f}   alerts/s {alerts_s:9.0f}   "
                  f"(target >= 2000 alerts/s: ratio {alerts_s / 2000:.2f}, "
                  f"{'met' if alerts_s >= 2000 else 'NOT met'})")
        finally:
            proc.terminate()
            proc.wait(10)
        # A fresh bridge: the ingest run left tens of thousands of firing alerts, which would
        # make every subscriber's opening snapshot megabytes long.
        proc, url = start_bridge(Path(tmp) / "fanout", args.sync)
        try:
            print(f"== fan-out: {args.subscribers} WebSocket subscribers ({args.client} client), "
                  f"{args.rate:g} notifications/s for {args.latency_seconds:g}s")
            lat, events, lost, cpu = await fanout(url, proc.pid, args.subscribers, args.rate,
                                                  args.latency_seconds, args.client)
            ms = [x * 1000 for x in lat]
            p99 = pct(ms, 0.99)
            print(f"events {events}  deliveries {len(lat)}  missing {lost}  "
                  f"bridge CPU {1000 * cpu / max(events, 1):.1f} ms per event")
            print(f"latency ms  p50 {statistics.median(ms):7.2f}  p99 {p99:7.2f}  "
                  f"max {max(ms):7.2f}   (target p99 < 50 ms: ratio {p99 / 50:.2f}, "
                  f"{'met' if p99 < 50 else 'NOT met'})")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
