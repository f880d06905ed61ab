"""Filtered alert history under load: does it stall the bridge for everyone else?

A real bridge process holds E alert events (every alert fires and resolves, so nothing stays
firing). C concurrent readers then request `GET /api/alerts/history?limit=1000&filter=...` in a
loop for T seconds, with a filter that matches one event in a hundred, so every request scans
the most rows a page may (limit x 10). Meanwhile one unrelated client asks `GET /api/alerts`
every 50 ms and notes how long each answer took.

Printed: history answers/s (200s, and 503s: refused by the concurrency bound; a refused reader
waits 100 ms before asking again), and the unrelated
request's latency p50 / p99 / max, loaded and unloaded; the anchor is the unloaded p50, the
ratio is loaded p99 / unloaded p50. Issue 9 measured 614 ms for the unrelated request with 50
readers. Same machine for clients and bridge (2 shared cores): expect noise.

    python bench/alerts_history.py [--events 20000] [--clients 50] [--seconds 10]
                                   [--filter 'team="rare"']
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from alerts_ingest import HEADERS, pct, start_bridge  # bench/ is on sys.path when run

BATCH = 500


def notification(start: int, n: int, status: str) -> bytes:
    alerts = [{"status": status,
               "labels": {"alertname": "HistoryBench", "instance": f"host-{i}:9100",
                          "team": "rare" if i % 100 == 0 else "common",
                          "severity": "warning"},
               "annotations": {"summary": f"alert {i} is {status}", "runbook": "x" * 200},
               "startsAt": "2026-01-01T00:00:00Z",
               "endsAt": "2026-01-01T01:00:00Z" if status == "resolved"
               else "0001-01-01T00:00:00Z",
               "generatorURL": "http://prometheus/graph"} for i in range(start, start + n)]
    return json.dumps({"version": "4", "status": status, "receiver": "bench",
                       "groupKey": f"g{start}", "alerts": alerts, "truncatedAlerts": 0}).encode()


async def fill(session: aiohttp.ClientSession, url: str, events: int) -> None:
    alerts = events // 2
    for start in range(0, alerts, BATCH):
        for status in ("firing", "resolved"):
            body = notification(start, min(BATCH, alerts - start), status)
            async with session.post(url + "/api/alerts/webhook", data=body,
                                    headers=HEADERS) as resp:
                if resp.status != 200:
                    raise SystemExit(f"webhook answered {resp.status}: {await resp.text()}")


async def probe(session: aiohttp.ClientSession, url: str, stop: asyncio.Event,
                out: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        async with session.get(url + "/api/alerts") as resp:
            await resp.read()
            assert resp.status == 200
        out.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)


async def load(url: str, clients: int, seconds: float, matcher: str
               ) -> tuple[dict[int, int], list[float], int]:
    """(answers by status, unrelated latencies in ms, events in the last 200 page)."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    last_page = 0
    stop = asyncio.Event()
    params = {"limit": "1000", "filter": matcher}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def reader() -> None:
            nonlocal last_page
            while not stop.is_set():
                async with session.get(url + "/api/alerts/history", params=params) as resp:
                    body = await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                    if resp.status == 200:
                        last_page = len(json.loads(body)["events"])
                if resp.status == 503:  # "retry shortly", as a well-behaved client does
                    await asyncio.sleep(0.1)
        prober = asyncio.create_task(probe(session, url, stop, latencies))
        readers = [asyncio.create_task(reader()) for _ in range(clients)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(prober, *readers)
    return statuses, latencies, last_page


async def unloaded(url: str, seconds: float) -> list[float]:
    stop, out = asyncio.Event(), []
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(probe(session, url, stop, out))
        await asyncio.sleep(seconds)
        stop.set()
        await task
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--filter", default='team="rare"',
                    help='matcher; e.g. team=~"ra.e" for one SQL cannot evaluate')
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
        proc, url = start_bridge(Path(tmp), "NORMAL")
        try:
            async with aiohttp.ClientSession() as session:
                await fill(session, url, args.events)
            base = await unloaded(url, 2.0)
            print(f"== {args.events} events; {args.clients} readers of "
                  f"/api/alerts/history?limit=1000&filter={args.filter} for {args.seconds:g}s")
            statuses, lat, page = await load(url, args.clients, args.seconds, args.filter)
        finally:
            proc.terminate()
            proc.wait(10)
    ok = statuses.get(200, 0)
    print(f"history 200/s {ok / args.seconds:7.1f}   503/s "
          f"{statuses.get(503, 0) / args.seconds:7.1f}   other "
          f"{sum(v for k, v in statuses.items() if k not in (200, 503))}   "
          f"events per page {page}")
    anchor = statistics.median(base)
    p99 = pct(lat, 0.99)
    print(f"unrelated GET /api/alerts ms: unloaded p50 {anchor:6.2f} (anchor)   loaded p50 "
          f"{statistics.median(lat):7.2f}  p99 {p99:7.2f}  max {max(lat):7.2f}   "
          f"ratio p99/anchor {p99 / anchor:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
