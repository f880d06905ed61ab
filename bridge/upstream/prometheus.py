"""The one Prometheus HTTP API v1 client: shared session, typed errors, split-and-stitch ranges.

Every request goes through `PrometheusClient._post`/`_get`, which turns every way Prometheus can
fail into a `bridge.errors.UpstreamError` subclass (so callers and `error_middleware` have one
mapping), counts it in the bridge's own metrics, and records whether Prometheus is reachable in
`PrometheusClient.status` (what health checks and stream `status` frames report).

Range queries never hit Prometheus' points-per-series limit: a range needing more points than
`prometheus.max_points` is split into consecutive chunks on the same step grid and stitched back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bridge.config import PrometheusConfig
from bridge.errors import (
    UpstreamBadData,
    UpstreamError,
    UpstreamExecution,
    UpstreamInvalid,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bridge.keys import CONFIG_KEY, METRICS_KEY
from bridge.selfmetrics import BridgeMetrics
from bridge.upstream import session_ctx
from bridge.upstream.promresult import QueryResult, Series, parse_data, split_range, stitch

__all__ = ["PROMETHEUS_KEY", "PrometheusClient", "QueryResult", "Series", "UpstreamStatus",
           "parse_data", "split_range", "stitch"]

log = logging.getLogger("bridge.prometheus")

# Prometheus `errorType` -> our exception. Anything else (internal, not_found, ...) is a 502.
ERROR_TYPES: dict[str, type[UpstreamError]] = {
    "bad_data": UpstreamBadData,
    "execution": UpstreamExecution,
    "timeout": UpstreamTimeout,
    "canceled": UpstreamTimeout,
    "unavailable": UpstreamUnavailable,
}
# An errorType Prometheus never sends, by the HTTP status it came with: VictoriaMetrics puts the
# status itself there ("422" for a query it cannot parse or run, "400" for bad parameters), and
# those are the user's input, never a 502.
STATUS_ERRORS: dict[int, type[UpstreamError]] = {400: UpstreamBadData, 422: UpstreamExecution}
# Non-JSON answers with these statuses come from a proxy in front of a Prometheus that is down.
_DOWN_STATUSES = (502, 503, 504)
# How many chunks of a split range query run at once.
CHUNK_CONCURRENCY = 4
# The endpoints that run PromQL: what a metric stream's own polls do.
QUERY_ENDPOINTS = frozenset({"query", "query_range"})
# Largest configuration read from GET /api/v1/status/config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass
class UpstreamStatus:
    """Prometheus' reachability as last observed by any request.

    `up` is None until the first request. A Prometheus that answers, even with a query error,
    is up; only connection failures, timeouts and `unavailable` answers mark it down.
    """

    up: bool | None = None
    since: float = field(default_factory=time.time)
    last_success: float | None = None
    last_failure: float | None = None
    last_error: dict[str, Any] | None = None
    latency: float | None = None
    # The endpoint ("query", "query_range", "probe", "status_config") of the request that made
    # the latest up/down transition: a failed readiness probe is not a failed query.
    endpoint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"up": self.up, "since": self.since, "last_success": self.last_success,
                "last_failure": self.last_failure, "last_error": self.last_error,
                "latency": self.latency}


StatusListener = Callable[[UpstreamStatus], None]


def format_time(value: float) -> str:
    """Unix seconds as Prometheus accepts them (no exponent notation)."""
    return f"{value:.3f}"


class PrometheusClient:
    """Async Prometheus API client over one shared aiohttp session (opened by `open`).

    Raises only `UpstreamError` subclasses. `status` tells whether Prometheus is reachable;
    `add_listener` registers a callback invoked on every up/down transition.
    """

    def __init__(self, config: PrometheusConfig, metrics: BridgeMetrics | None = None) -> None:
        self.config = config
        self.base = config.url.rstrip("/")
        self.metrics = metrics
        self.status = UpstreamStatus()
        self._listeners: list[StatusListener] = []
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.config.timeout,
                                            sock_connect=self.config.connect_timeout)
            self._session = aiohttp.ClientSession(timeout=timeout,
                                                  connector=aiohttp.TCPConnector(limit=64))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session."""
        if self._session is None:
            raise UpstreamUnavailable("the Prometheus client is not open")
        return self._session

    def add_listener(self, listener: StatusListener) -> None:
        """Call `listener(status)` whenever Prometheus goes from up to down or back."""
        self._listeners.append(listener)

    # -- API ----------------------------------------------------------------------------------

    async def query(self, promql: str, time: float | None = None) -> QueryResult:
        """Instant query at `time` (unix seconds; None = Prometheus' now)."""
        form = {"query": promql}
        if time is not None:
            form["time"] = format_time(time)
        return await self._api("query", form)

    async def query_range(self, promql: str, start: float, end: float, step: float
                          ) -> QueryResult:
        """Range query; split into chunks and stitched when it exceeds `max_points` per series."""
        if step <= 0 or end < start:
            raise UpstreamBadData("range query needs step > 0 and end >= start")
        chunks = split_range(start, end, step, self.config.max_points)
        if len(chunks) == 1:
            return await self._range_chunk(promql, start, end, step)
        gate = asyncio.Semaphore(CHUNK_CONCURRENCY)

        async def run(chunk: tuple[float, float]) -> QueryResult:
            async with gate:
                return await self._range_chunk(promql, chunk[0], chunk[1], step)

        results = await asyncio.gather(*(run(c) for c in chunks))
        data = stitch(r.data for r in results)
        _, series = parse_data(data)
        return QueryResult("matrix", data, series,
                           _unique(w for r in results for w in r.warnings),
                           _unique(i for r in results for i in r.infos))

    async def config_yaml(self) -> str:
        """The configuration Prometheus runs with (GET /api/v1/status/config), as YAML text,
        every scrape_config with its own scrape_interval filled in."""
        async with self._request("status_config", "GET", "/api/v1/status/config") as resp:
            chunks, size = [], 0
            async for chunk in resp.content.iter_chunked(65536):
                size += len(chunk)
                if size > MAX_CONFIG_BYTES:
                    raise UpstreamInvalid(f"Prometheus' configuration is over "
                                          f"{MAX_CONFIG_BYTES} bytes")
                chunks.append(chunk)
            data = self._success(resp.status, b"".join(chunks)).get("data")
        text = data.get("yaml") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise UpstreamInvalid("Prometheus' status/config answer has no data.yaml")
        return text

    async def probe(self, limit: float | None = None) -> float:
        """GET /-/ready; returns the latency in seconds or raises an UpstreamError.

        `limit` (seconds, total) overrides the query timeout: a readiness probe must answer
        fast even when Prometheus accepts connections and never replies.
        """
        started = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if limit is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=limit)
        async with self._request("probe", "GET", "/-/ready", **kwargs) as resp:
            body = await resp.text()
            if resp.status != 200:
                detail = f"Prometheus not ready: {resp.status} {body.strip()}"
                raise UpstreamUnavailable(detail[:300])
        return time.perf_counter() - started

    # -- internals ----------------------------------------------------------------------------

    async def _range_chunk(self, promql: str, start: float, end: float, step: float
                           ) -> QueryResult:
        return await self._api("query_range", {"query": promql, "start": format_time(start),
                                               "end": format_time(end), "step": repr(float(step))})

    async def _api(self, endpoint: str, form: dict[str, str]) -> QueryResult:
        # Ask Prometheus to give up slightly before we do, so its own timeout error comes back.
        form = {**form, "timeout": f"{max(self.config.timeout - 0.5, 0.5):g}"}
        async with self._request(endpoint, "POST", f"/api/v1/{endpoint}", data=form) as resp:
            return self._envelope(resp.status, await resp.read())

    def _envelope(self, status: int, raw: bytes) -> QueryResult:
        body = self._success(status, raw)
        kind, series = parse_data(body.get("data"))
        return QueryResult(kind, body["data"], series, _strings(body.get("warnings")),
                           _strings(body.get("infos")))

    def _success(self, status: int, raw: bytes) -> dict[str, Any]:
        """The body of a `success` API answer; anything else raises its UpstreamError."""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            snippet = raw[:200].decode(errors="replace").strip()
            if status in _DOWN_STATUSES:
                raise UpstreamUnavailable(f"Prometheus answered {status}: {snippet}")
            raise UpstreamInvalid(f"Prometheus answered {status} with a non-API body: {snippet}")
        if body["status"] == "error":
            kind = str(body.get("errorType", ""))
            exc = ERROR_TYPES.get(kind) or STATUS_ERRORS.get(status, UpstreamInvalid)
            detail = str(body.get("error") or kind or f"status {status}")
            raise exc(detail if exc is not UpstreamInvalid else f"Prometheus {kind}: {detail}")
        return body

    def _request(self, endpoint: str, method: str, path: str, **kwargs: Any
                 ) -> _Request:
        return _Request(self, endpoint, method, path, kwargs)

    def _record(self, endpoint: str, error: UpstreamError | None, latency: float) -> None:
        outcome = "success" if error is None else error.error
        if self.metrics is not None:
            self.metrics.upstream_queries.labels("prometheus", endpoint, outcome).inc()
            self.metrics.upstream_latency.labels("prometheus", endpoint).observe(latency)
        now = time.time()
        st = self.status
        reachable = not isinstance(error, UpstreamUnavailable | UpstreamTimeout)
        if reachable:
            st.last_success, st.latency = now, latency
        else:
            st.last_failure = now
            st.last_error = error.body() if error is not None else None
        if st.up is not reachable:
            was = st.up
            st.up, st.since, st.endpoint = reachable, now, endpoint
            if was is not None:
                log.warning("Prometheus at %s is %s", self.base, "up" if reachable else
                            f"down: {error.detail if error else ''}")
            for listener in list(self._listeners):
                try:
                    listener(st)
                except Exception:  # a listener's bug must not break queries
                    log.exception("Prometheus status listener failed")


class _Request:
    """`async with` around one HTTP exchange: maps transport failures to UpstreamErrors and
    records the outcome (metrics + reachability) exactly once."""

    def __init__(self, client: PrometheusClient, endpoint: str, method: str, path: str,
                 kwargs: dict[str, Any]) -> None:
        self.client, self.endpoint = client, endpoint
        self.method, self.url, self.kwargs = method, client.base + path, kwargs
        self.resp: aiohttp.ClientResponse | None = None
        self.started = 0.0

    async def __aenter__(self) -> aiohttp.ClientResponse:
        self.started = time.perf_counter()
        try:
            self.resp = await self.client.session.request(self.method, self.url, **self.kwargs)
        except BaseException as exc:
            error = self._failure(exc)
            if error is exc:
                raise
            raise error from exc
        return self.resp

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        assert self.resp is not None
        self.resp.release()
        if exc is None:
            self.client._record(self.endpoint, None, time.perf_counter() - self.started)
            return
        error = self._failure(exc)
        if error is not exc:
            raise error from exc

    def _failure(self, exc: BaseException) -> BaseException:
        """The UpstreamError to raise for `exc` (recorded), or `exc` itself when it is not
        Prometheus' doing (cancellation, programming errors)."""
        error = _translate(exc, self.client.base)
        if error is None:
            return exc
        self.client._record(self.endpoint, error, time.perf_counter() - self.started)
        return error


def _translate(exc: BaseException, base: str) -> UpstreamError | None:
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"Prometheus at {base} did not answer in time")
    if isinstance(exc, aiohttp.ClientConnectionError | OSError):
        return UpstreamUnavailable(f"Prometheus at {base} is unreachable: {exc}"[:300])
    if isinstance(exc, aiohttp.ClientError):
        return UpstreamInvalid(f"Prometheus at {base}: {exc}"[:300])
    return None


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


PROMETHEUS_KEY = web.AppKey("prometheus", PrometheusClient)


def setup(app: web.Application) -> None:
    """Create the client now (so every feature can find it under PROMETHEUS_KEY) and open its
    session in cleanup_ctx."""
    app[PROMETHEUS_KEY] = PrometheusClient(app[CONFIG_KEY].prometheus, app[METRICS_KEY])
    app.cleanup_ctx.append(session_ctx(PROMETHEUS_KEY))
