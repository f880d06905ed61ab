"""Benchmark: GET /api/metrics/current on the bridge vs the same catalog PromQL straight to
Prometheus, for C concurrent clients over T seconds each.

Starts the promwire exporter, a real Prometheus and the bridge as processes on free ports.
One "request" is one current snapshot: a bridge GET, or, direct, one round of every catalog
query (run concurrently, as the bridge does). Prints requests/s, p50/p99 latency, and the
queries Prometheus executed in each run (the delta of its own
prometheus_engine_query_duration_seconds_count{slice="inner_eval"}).
Target: bridge >= 3x the direct request rate, Prometheus' query count independent of C.

    .venv/bin/python bench/rest_current.py [--clients 1,10,50] [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.metrics.catalog import BUILTIN  # noqa: E402
from tests import servers  # noqa: E402

QUERY_COUNT = 'prometheus_engine_query_duration_seconds_count{slice="inner_eval"}'


async def engine_queries(session: aiohttp.ClientSession, prom_url: str) -> float:
    """Queries Prometheus has executed so far, from its own /metrics."""
    async with session.get(prom_url + "/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith(QUERY_COUNT):
                return float(line.rsplit(" ", 1)[1])
    raise RuntimeError("prometheus_engine_query_duration_seconds_count not found")


async def bridge_served(session: aiohttp.ClientSession, bridge_url: str) -> float:
    """Current-snapshot requests the bridge says it answered 200, from its own /metrics."""
    async with session.get(bridge_url + "/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if (line.startswith("promwire_bridge_http_requests_total{")
                    and 'route="/api/metrics/current"' in line and 'status="200"' in line):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def run(clients: int, duration: float, one: Callable[[aiohttp.ClientSession],
                                                             Awaitable[bool]]
              ) -> tuple[int, int, list[float]]:
    """`clients` loops calling `one` for `duration` seconds: (ok, errors, latencies)."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                ok = await one(session)
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        await asyncio.gather(*(loop() for _ in range(clients)))
    return len(latencies), errors, latencies


def bridge_request(url: str) -> Callable[[aiohttp.ClientSession], Awaitable[bool]]:
    async def one(session: aiohttp.ClientSession) -> bool:
        async with session.get(url + "/api/metrics/current") as resp:
            body = await resp.read()
            return resp.status == 200 and body.startswith(b'{"timestamp"')
    return one


def direct_request(prom_url: str) -> Callable[[aiohttp.ClientSession], Awaitable[bool]]:
    queries = [entry.query for entry in BUILTIN]

    async def query(session: aiohttp.ClientSession, promql: str, at: float) -> bool:
        async with session.post(prom_url + "/api/v1/query",
                                data={"query": promql, "time": f"{at:.3f}"}) as resp:
            body = await resp.json()
            return resp.status == 200 and body.get("status") == "success"

    async def one(session: aiohttp.ClientSession) -> bool:
        at = time.time()
        results = await asyncio.gather(*(query(session, q, at) for q in queries))
        return all(results)
    return one


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def measure(name: str, clients: int, duration: float, prom_url: str,
                  one: Callable[[aiohttp.ClientSession], Awaitable[bool]]) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        before = await engine_queries(session, prom_url)
        ok, errors, latencies = await run(clients, duration, one)
        after = await engine_queries(session, prom_url)
    result = {"rps": ok / duration, "p50": percentile(latencies, 50) * 1000,
              "p99": percentile(latencies, 99) * 1000, "errors": errors,
              "queries": after - before, "requests": ok}
    print(f"{name:7} C={clients:<4} {result['rps']:9.1f} req/s   p50 {result['p50']:7.2f} ms   "
          f"p99 {result['p99']:7.2f} ms   errors {errors:<4} Prometheus queries "
          f"{result['queries']:7.0f}", flush=True)
    return result


async def bench(clients: list[int], duration: float, prom_url: str, bridge_url: str) -> None:
    print(f"{len(BUILTIN)} catalog queries per snapshot; {duration:g} s per run\n")
    rows = []
    for c in clients:
        async with aiohttp.ClientSession() as session:
            served_before = await bridge_served(session, bridge_url)
        via_bridge = await measure("bridge", c, duration, prom_url, bridge_request(bridge_url))
        async with aiohttp.ClientSession() as session:
            served = await bridge_served(session, bridge_url) - served_before
        print(f"        (the bridge's own counter: {served:.0f} answered, the client counted "
              f"{via_bridge['requests']:.0f})")
        direct = await measure("direct", c, duration, prom_url, direct_request(prom_url))
        rows.append((c, via_bridge, direct))
    print("\n   C   bridge req/s   direct req/s   ratio   Prometheus queries bridge / direct")
    for c, b, d in rows:
        ratio = b["rps"] / d["rps"] if d["rps"] else float("inf")
        print(f"{c:4}   {b['rps']:12.1f}   {d['rps']:12.1f}   {ratio:5.1f}x   "
              f"{b['queries']:8.0f} / {d['queries']:.0f}")
    worst = min(b["rps"] / d["rps"] for _, b, d in rows if d["rps"])
    counts = [b["queries"] for _, b, _ in rows]
    print(f"\ntarget >= 3x direct: worst ratio {worst:.1f}x -> "
          f"{'met' if worst >= 3 else 'NOT met'}")
    print(f"bridge's Prometheus queries per run across C={clients}: {counts} "
          f"(expected about {len(BUILTIN)} x (duration / cache_ttl + 1), whatever C)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", default="1,10,50", help="comma-separated C values")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        base = Path(tmp)
        exporter = servers.exporter(base / "exporter").start()
        target = exporter.url.split("://", 1)[1]
        prom = servers.prometheus(base / "prometheus", [target], interval="1s")
        bridge = servers.bridge(base / "bridge", prom.url, alertmanager_url="")
        try:
            prom.start()
            bridge.start()
            servers.wait_for(lambda: servers.prom_query(prom.url, "rate(node_cpu_seconds_total"
                                                                  "[5s])"),
                             timeout=60, message="Prometheus to scrape twice")
            asyncio.run(bench(clients, args.duration, prom.url, bridge.url))
        finally:
            bridge.stop()
            prom.stop()
            exporter.stop()
    print("\n(2 shared cores: the load generator, the bridge and Prometheus compete for CPU, "
          "and other work on the machine adds noise.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
