"""What is measured, on one bridge (SQLite) or on replicas sharing one PostgreSQL log: durable
ingest, webhook->subscriber latency on the posting replica and on the others, events lost when
a replica is SIGKILLed mid-run, and the HA case (two Alertmanager peers notifying the same
alerts)."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from alertsbench import posters
from alertsbench.procs import HEADERS
from alertsbench.subscribers import Subscriber, closing, pct, sent_at, subscribe
from bridge.alerts.model import fingerprint

WEBHOOK = "/api/alerts/webhook"


def notification(prefix: str, n: int, sent: str = "", status: str = "firing") -> bytes:
    """Alertmanager's webhook body (version 4, every field it sends, each alert with its
    fingerprint) for alerts `{prefix}-0..n-1`."""
    alerts = []
    for i in range(n):
        labels = {"alertname": "Bench", "instance": f"{prefix}-{i}"}
        alerts.append({"status": status, "labels": labels, "annotations": {"sent": sent},
                       "startsAt": "2026-01-01T00:00:00Z",
                       "endsAt": "2026-01-01T01:00:00Z" if status == "resolved"
                       else "0001-01-01T00:00:00Z",
                       "generatorURL": "", "fingerprint": fingerprint(labels)})
    return json.dumps({"receiver": "bench", "status": status, "alerts": alerts,
                       "groupLabels": {"instance": f"{prefix}-0"} if n == 1 else {},
                       "commonLabels": alerts[0]["labels"] if n == 1 else {"alertname": "Bench"},
                       "commonAnnotations": {"sent": sent}, "externalURL": "",
                       "version": "4", "groupKey": prefix, "truncatedAlerts": 0}).encode()


async def post(session: aiohttp.ClientSession, url: str, body: bytes) -> dict[str, Any]:
    async with session.post(url + WEBHOOK, data=body, headers=HEADERS) as resp:
        if resp.status != 200:
            raise SystemExit(f"webhook answered {resp.status}: {await resp.text()}")
        answer: dict[str, Any] = await resp.json()
        return answer


async def head(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url + "/api/alerts") as resp:
        body = await resp.json()
    return int(body["seq"]), str(body["epoch"])


async def ingest(urls: list[str], clients: int, per: int, seconds: float) -> tuple[int, float]:
    """Notifications acknowledged (200 = committed) by `clients` concurrent posters (raw
    keep-alive HTTP/1.1, `posters`), client c posting to replica c % len(urls)."""
    stop_at = time.perf_counter() + seconds
    counter = itertools.count()

    def next_body() -> bytes | None:
        if time.perf_counter() >= stop_at:
            return None
        return notification(f"n{next(counter)}", per)
    started = time.perf_counter()
    done = await asyncio.gather(*(posters.post_all(url, len(range(i, clients, len(urls))),
                                                   next_body)
                                  for i, url in enumerate(urls[:clients])))
    return sum(done), time.perf_counter() - started


@dataclass
class Latency:
    """Webhook->subscriber seconds, split by whether the subscriber is on the posting replica."""

    same: list[float] = field(default_factory=list)
    other: list[float] = field(default_factory=list)

    def note(self, sub: Subscriber, text: str, now: float) -> None:
        sent = sent_at(text)
        if sent is not None:
            (self.same if sent[1] == sub.replica else self.other).append(now - sent[0])

    def line(self, name: str, values: list[float], target_ms: float | None) -> str:
        ms = [v * 1000 for v in values]
        p99 = pct(ms, 0.99)
        text = (f"{name:<16} n {len(ms):7d}  p50 {pct(ms, 0.5):7.2f}  p99 {p99:7.2f}  "
                f"max {max(ms, default=float('nan')):7.2f} ms")
        if target_ms is not None and ms:
            text += (f"   (target p99 < {target_ms:g} ms: ratio {p99 / target_ms:.2f}, "
                     f"{'met' if p99 < target_ms else 'NOT met'})")
        return text


async def paced(count: int, rate: float, send: Any) -> None:
    """send(i) for i in 0..count-1 at `rate` per second (each awaited before the next)."""
    next_at = time.perf_counter()
    for i in range(count):
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await send(i)
        next_at += 1.0 / rate


async def until(done: Any, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if done():
            return True
        await asyncio.sleep(0.05)
    return bool(done())


async def latency(urls: list[str], subscribers: int, rate: float, seconds: float
                  ) -> tuple[Latency, int, int]:
    """Notifications (one new alert each) posted at `rate`/s round-robin over the replicas,
    subscribers spread over them: (latencies, events, deliveries missing)."""
    lat = Latency()
    since = await head(urls[0])
    subs = await subscribe(urls, subscribers, lat.note, since)
    events = int(rate * seconds)
    try:
        async with aiohttp.ClientSession() as session:
            async def send(i: int) -> None:
                via = i % len(urls)
                await post(session, urls[via], notification(f"lat{i}", 1, f"{time.time()!r}@{via}"))
            await paced(events, rate, send)
        await until(lambda: len(lat.same) + len(lat.other) >= events * subscribers)
    finally:
        closing(subs)()
    return lat, events, events * subscribers - len(lat.same) - len(lat.other)


@dataclass
class KillResult:
    acknowledged: int
    stored: int
    lost: int
    duplicates: int
    unordered: int
    resyncs: int
    moved: int


async def kill_run(urls: list[str], victim: subprocess.Popen[bytes], subscribers: int,
                   rate: float, seconds: float) -> KillResult:
    """New alerts posted at `rate`/s round-robin; replica 0 (`victim`) SIGKILLed half-way. A
    post refused by the dead replica is retried on the next, as Alertmanager's retry through a
    load balancer does. Its subscribers resume on another replica from their last seq."""
    since = await head(urls[1])
    subs = await subscribe(urls, subscribers, lambda *_: None, since)
    count = int(rate * seconds)
    acked = 0
    try:
        async with aiohttp.ClientSession() as session:
            async def send(i: int) -> None:
                nonlocal acked
                if i == count // 2:
                    victim.send_signal(signal.SIGKILL)
                body = notification(f"kill{i}", 1)
                for attempt in range(len(urls) * 3):
                    try:
                        await post(session, urls[(i + attempt) % len(urls)], body)
                        acked += 1
                        return
                    except (aiohttp.ClientError, OSError):
                        await asyncio.sleep(0.05)
                raise SystemExit(f"kill{i} was refused by every replica")
            await paced(count, rate, send)
        last, _ = await head(urls[1])
        await until(lambda: all(s.seqs and s.seqs[-1] >= last for s in subs))
    finally:
        closing(subs)()
    expected = set(range(since[0] + 1, last + 1))
    return KillResult(
        acknowledged=acked, stored=last - since[0],
        lost=sum(len(expected - set(s.seqs)) for s in subs),
        duplicates=sum(len(s.seqs) - len(set(s.seqs)) for s in subs),
        unordered=sum(s.seqs != sorted(s.seqs) for s in subs),
        resyncs=sum(s.resyncs for s in subs), moved=sum(s.reconnects > 0 for s in subs))


@dataclass
class HaResult:
    latency: Latency
    kinds: Counter[str]
    per_alert: Counter[tuple[str, ...]]
    missing: int


async def ha_case(peers: tuple[str, str], urls: list[str], subscribers: int, alerts: int,
                  rate: float) -> HaResult:
    """Two Alertmanager peers notify the same `alerts` alerts (each to its own bridge replica,
    or both to the one bridge), at once, firing and then resolved: the log must hold exactly
    one event per state change. Latency: post -> each subscriber, over every delivery."""
    lat = Latency()
    per_alert: dict[str, list[str]] = {}

    def note(sub: Subscriber, text: str, now: float) -> None:
        lat.note(sub, text, now)
        if sub is subs[0]:
            frame = json.loads(text)
            per_alert.setdefault(frame["alert"]["labels"]["instance"], []).append(frame["event"])
    since = await head(urls[0])
    subs: list[Subscriber] = []
    subs.extend(await subscribe(urls, subscribers, note, since))
    try:
        async with aiohttp.ClientSession() as session:
            for status in ("firing", "resolved"):
                async def send(i: int, status: str = status) -> None:
                    # Both peers send the same body; "@0": latency is not split by replica here.
                    body = notification(f"ha{i}", 1, f"{time.time()!r}@-1", status)
                    await asyncio.gather(*(post(session, p, body) for p in peers))
                await paced(alerts, rate, send)
        deliveries = 2 * alerts * subscribers
        await until(lambda: len(lat.other) >= deliveries, 30)
    finally:
        closing(subs)()
    kinds = Counter(k for ks in per_alert.values() for k in ks)
    return HaResult(lat, kinds, Counter(tuple(ks) for ks in per_alert.values()),
                    2 * alerts * subscribers - len(lat.other) - len(lat.same))
