"""Snapshots: every catalog metric's current samples, in the README "Snapshot" shape.

`evaluate` runs the catalog's queries concurrently at one evaluation time. `SnapshotCache` is the
REST current-snapshot cache: a TTL, single-flight (a burst of requests shares one round of
queries), and a stale fallback (the last good snapshot, `stale: true`, while Prometheus is
unreachable, up to `metrics.max_stale` seconds old).

Who needs Prometheus' up/down state reads `PrometheusClient.status` or registers
`PrometheusClient.add_listener`; `SnapshotCache.last_error` holds why the last refresh failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

from aiohttp import web

from bridge.errors import BridgeError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from bridge.jsonenc import dumps
from bridge.keys import CONFIG_KEY, METRICS_KEY
from bridge.metrics.catalog import CATALOG_KEY, Catalog
from bridge.metrics.entry import CatalogEntry
from bridge.selfmetrics import BridgeMetrics
from bridge.upstream.prometheus import PROMETHEUS_KEY, PrometheusClient, QueryResult, Series

# Failures that mean "Prometheus cannot be reached", as opposed to "this query is wrong".
UNREACHABLE = (UpstreamUnavailable, UpstreamTimeout)
# Encoded instance-filtered snapshots kept per refresh (distinct `?instance=` filters).
MAX_ENCODED = 64
# Labels never repeated in a sample's `labels`: `instance` has its own field, the rest is noise.
HIDDEN_LABELS = frozenset({"instance", "__name__"})


def per_series(result: QueryResult, instances: Iterable[str] | None,
               fields: Callable[[Series], dict[str, Any]]) -> list[dict[str, Any]]:
    """One `{"instance", "labels", **fields(series)}` per series with points (only those of
    `instances` when given), sorted by instance then labels: the identity part of a README
    Sample, shared by current values and history."""
    wanted = set(instances) if instances else None
    out = []
    for series in result.series:
        instance = series.labels.get("instance", "")
        if series.points and (wanted is None or instance in wanted):
            labels = {k: v for k, v in sorted(series.labels.items()) if k not in HIDDEN_LABELS}
            out.append({"instance": instance, "labels": labels, **fields(series)})
    out.sort(key=lambda s: (s["instance"], sorted(s["labels"].items())))
    return out


def samples(result: QueryResult, instances: Iterable[str] | None = None
            ) -> list[dict[str, Any]]:
    """A result's README Samples (latest value and its timestamp), optionally of `instances`."""
    return per_series(result, instances,
                      lambda s: {"value": s.points[-1][1], "timestamp": s.points[-1][0]})


async def evaluate(prom: PrometheusClient, catalog: Catalog,
                   names: Sequence[str] | None = None,
                   instances: Sequence[str] | None = None) -> dict[str, Any]:
    """Evaluate catalog metrics (all, or `names`) concurrently at one time into a Snapshot.

    Unknown names raise NotFound. A metric whose query fails goes into `errors`; when no query
    succeeded because Prometheus could not be reached, UpstreamUnavailable/UpstreamTimeout is
    raised instead. `instances` keeps only those instances' samples.
    """
    entries: list[CatalogEntry] = [catalog.get(n) for n in names] if names else list(catalog)
    at = time.time()
    results = await asyncio.gather(*(prom.query(e.query, at) for e in entries),
                                   return_exceptions=True)
    snapshot: dict[str, Any] = {"timestamp": at, "stale": False, "age": 0.0,
                                "metrics": {}, "errors": {}, "warnings": []}
    unreachable: list[UpstreamError] = []
    for entry, result in zip(entries, results, strict=True):
        if isinstance(result, UNREACHABLE):
            unreachable.append(result)
        if isinstance(result, BridgeError):
            snapshot["errors"][entry.name] = result.body()
        elif isinstance(result, BaseException):
            raise result
        else:
            snapshot["metrics"][entry.name] = {"title": entry.title, "unit": entry.unit,
                                               "samples": samples(result, instances)}
            snapshot["warnings"].extend(f"{entry.name}: {w}" for w in result.warnings)
    if unreachable and not snapshot["metrics"]:
        raise unreachable[0]
    return snapshot


def filter_instances(snapshot: dict[str, Any], instances: Iterable[str]) -> dict[str, Any]:
    """A copy of `snapshot` keeping only `instances`' samples."""
    wanted = set(instances)
    metrics = {name: {**m, "samples": [s for s in m["samples"] if s["instance"] in wanted]}
               for name, m in snapshot["metrics"].items()}
    return {**snapshot, "metrics": metrics}


class SnapshotCache:
    """The current snapshot for REST: TTL, single-flight refresh, stale fallback.

    Every lookup within `ttl` of the last refresh (or of the last failure, so a down Prometheus
    is not hammered) is answered from memory; otherwise one refresh runs and every concurrent
    caller awaits it. The JSON of a snapshot is encoded once per refresh and instance filter
    (the last `MAX_ENCODED` filters are kept); an answer only adds its `stale` and `age`.
    """

    def __init__(self, prom: PrometheusClient, catalog: Catalog, ttl: float,
                 max_stale: float, metrics: BridgeMetrics | None = None) -> None:
        self.prom, self.catalog = prom, catalog
        self.ttl, self.max_stale, self.metrics = ttl, max_stale, metrics
        self.snapshot: dict[str, Any] | None = None
        self.last_error: UpstreamError | None = None
        self._checked = -float("inf")  # monotonic time of the last refresh attempt's end
        # The encoded snapshot around its per-answer `stale` and `age`, built once per refresh.
        self._head = b""  # {"timestamp":T,"stale":
        self._tails: dict[tuple[str, ...], bytes] = {}  # instances (() = all) -> ,"metrics":...}
        self._inflight: asyncio.Task[None] | None = None

    async def get(self) -> dict[str, Any]:
        """The current snapshot dict (`stale`/`age` set); raises when there is none to serve."""
        await self._fresh()
        assert self.snapshot is not None
        stale, age = self._staleness()
        return {**self.snapshot, "stale": stale, "age": age}

    async def get_bytes(self, instances: Iterable[str] | None = None) -> bytes:
        """The same as `get` (only `instances`' samples when given), as UTF-8 JSON: the hot
        path of GET /api/metrics/current, which reuses one encoding per refresh and filter."""
        await self._fresh()
        stale, age = self._staleness()
        return b"".join((self._head, b"true" if stale else b"false", b',"age":',
                         repr(age).encode(), self._tail(instances)))

    def _tail(self, instances: Iterable[str] | None) -> bytes:
        """Everything after `age`, encoded at most once per snapshot and instance filter."""
        key = tuple(sorted(set(instances))) if instances else ()
        tail = self._tails.get(key)
        if tail is None:
            assert self.snapshot is not None
            snapshot = filter_instances(self.snapshot, key) if key else self.snapshot
            rest = dumps({k: v for k, v in snapshot.items()
                          if k not in ("timestamp", "stale", "age")})
            if len(self._tails) >= MAX_ENCODED:
                self._tails.pop(next(iter(self._tails)))
            tail = self._tails[key] = ("," + rest[1:]).encode()
        return tail

    def _staleness(self) -> tuple[bool, float]:
        assert self.snapshot is not None
        age = round(max(0.0, time.time() - self.snapshot["timestamp"]), 3)
        return self.last_error is not None, age

    async def _fresh(self) -> None:
        if time.monotonic() - self._checked < self.ttl:
            self._count("hit" if self.last_error is None else "stale")
        else:
            if self._inflight is None:
                self._count("miss")
                self._inflight = asyncio.create_task(self._refresh())
            else:
                self._count("shared")
            await asyncio.shield(self._inflight)
        self._check_servable()

    def _check_servable(self) -> None:
        if self.last_error is None:
            return
        if self.snapshot is None:
            raise self.last_error
        age = time.time() - self.snapshot["timestamp"]
        if age > self.max_stale:
            raise type(self.last_error)(
                f"{self.last_error.detail}; the last good snapshot is {age:.0f}s old "
                f"(more than metrics.max_stale = {self.max_stale:g}s)")

    async def _refresh(self) -> None:
        try:
            snapshot = await evaluate(self.prom, self.catalog)
        except UpstreamError as exc:
            self.last_error = exc
        else:
            self.snapshot, self.last_error = snapshot, None
            self._head = f'{{"timestamp":{snapshot["timestamp"]!r},"stale":'.encode()
            self._tails = {}
        finally:
            self._checked = time.monotonic()
            self._inflight = None

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.cache.labels(result).inc()

    async def close(self) -> None:
        task = self._inflight
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass


SNAPSHOT_KEY = web.AppKey("snapshot_cache", SnapshotCache)


async def _cache_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[SNAPSHOT_KEY].close()


def setup(app: web.Application) -> None:
    """Needs `prometheus` and `catalog` set up first (FEATURES order)."""
    config = app[CONFIG_KEY].metrics
    app[SNAPSHOT_KEY] = SnapshotCache(app[PROMETHEUS_KEY], app[CATALOG_KEY], config.cache_ttl,
                                      config.max_stale, app[METRICS_KEY])
    app.cleanup_ctx.append(_cache_ctx)
