"""`GET /health` (liveness plus what the bridge depends on) and `GET /ready` (can it serve?).

/health answers 200 while the process runs, with `status` "ok" or "degraded" and one entry per
check: Prometheus and Alertmanager reachability and latency, plus any check another feature adds
with `add_health_check` (e.g. the alert store's reconciliation). /ready answers 503 while
Prometheus is unreachable, or while a feature's `add_ready_check` says it cannot serve (the
alert store's shared database is unreachable), so a load balancer stops sending traffic the
bridge cannot serve.
Probe results are shared for a second, so polling these endpoints cannot flood the upstreams.
Upstream probes give up after PROBE_TIMEOUT, not the (much longer) query timeout: a Prometheus
that accepts connections and never answers must make /ready say 503 at once, not after 10 s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from bridge import __version__
from bridge.errors import Unavailable, UpstreamError, UpstreamUnavailable
from bridge.http import json_response
from bridge.upstream.alertmanager import CLUSTERS_KEY
from bridge.upstream.prometheus import PROMETHEUS_KEY

# A check returns a JSON-able dict with at least "ok": bool (True, False; None = not configured).
HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
HEALTH_CHECKS_KEY = web.AppKey("health_checks", dict[str, HealthCheck])
# A readiness check: why this feature cannot serve right now, or None. Cheap and synchronous
# (it reads state its feature keeps), so /ready never waits for it.
ReadyCheck = Callable[[], str | None]
READY_CHECKS_KEY = web.AppKey("ready_checks", dict[str, ReadyCheck])
# Seconds probe results are reused.
PROBE_TTL = 1.0
# Seconds an upstream probe may take (capped by the upstream's own timeout). Below 1 s so that
# /ready and /health, which wait at most for one probe, answer within a second.
PROBE_TIMEOUT = 0.9

routes = web.RouteTableDef()


def add_health_check(app: web.Application, name: str, check: HealthCheck) -> None:
    """Register `check` under `name` in /health (call from any feature's `setup`)."""
    if HEALTH_CHECKS_KEY not in app:
        app[HEALTH_CHECKS_KEY] = {}
    app[HEALTH_CHECKS_KEY][name] = check


def add_ready_check(app: web.Application, name: str, check: ReadyCheck) -> None:
    """Make /ready 503 while `check()` returns a reason (call from any feature's `setup`)."""
    app.setdefault(READY_CHECKS_KEY, {})[name] = check


class _Shared:
    """Run a check at most once per `ttl` and share it with concurrent callers."""

    def __init__(self, check: HealthCheck, ttl: float = PROBE_TTL) -> None:
        self.check, self.ttl = check, ttl
        self.result: dict[str, Any] | None = None
        self.at = -float("inf")
        self.task: asyncio.Task[dict[str, Any]] | None = None

    async def __call__(self) -> dict[str, Any]:
        if self.result is not None and time.monotonic() - self.at < self.ttl:
            return self.result
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        return await asyncio.shield(self.task)

    async def _run(self) -> dict[str, Any]:
        try:
            self.result = await _guarded(self.check)
            self.at = time.monotonic()
            return self.result
        finally:
            self.task = None


async def _guarded(check: HealthCheck) -> dict[str, Any]:
    """A check that raised is a failed check, never a failed /health."""
    try:
        return await check()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def prometheus_check(app: web.Application) -> HealthCheck:
    async def check() -> dict[str, Any]:
        prom = app[PROMETHEUS_KEY]
        try:
            latency = await prom.probe(min(PROBE_TIMEOUT, prom.config.timeout))
        except UpstreamError as exc:
            return {"ok": False, "latency": None, "error": exc.detail,
                    "last_success": prom.status.last_success}
        return {"ok": True, "latency": round(latency, 6), "error": None,
                "last_success": prom.status.last_success}
    return check


def alertmanager_check(app: web.Application) -> HealthCheck:
    """Every peer of every cluster probed; ok while each cluster has a healthy peer (the
    bridge reads and writes through one). The first cluster's figures stay at the top level,
    where they were before clusters."""
    async def check() -> dict[str, Any]:
        clusters = app[CLUSTERS_KEY]
        if not len(clusters):
            return {"ok": None, "latency": None, "error": "not configured", "clusters": {}}
        limit = min(PROBE_TIMEOUT, clusters.config.timeout)
        await asyncio.gather(*(cluster.probe(limit) for cluster in clusters))
        states = {cluster.name: cluster.status() for cluster in clusters}
        first = next(iter(states.values()))["peers"]
        healthy = [p for p in first if p["ok"]]
        down = [_down(name, st["peers"], len(states)) for name, st in states.items()
                if not st["ok"]]
        return {"ok": not down, "latency": healthy[0]["latency"] if healthy else None,
                "error": "; ".join(down) or None, "clusters": states}
    return check


def _down(name: str, peers: list[dict[str, Any]], clusters: int) -> str:
    """Why a cluster is down: its one peer's error as it was before clusters, or each's."""
    if clusters == 1 and len(peers) == 1:
        return str(peers[0]["error"])
    return f"{name}: " + "; ".join(f"{p['url']}: {p['error']}" for p in peers)


_STARTED_KEY = web.AppKey("health_started", float)
_PROBES_KEY = web.AppKey("health_probes", dict[str, _Shared])


def _probes(app: web.Application) -> dict[str, _Shared]:
    return app[_PROBES_KEY]


async def _probes_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the shared probes at start-up, after every feature registered its checks."""
    checks = {"prometheus": prometheus_check(app), "alertmanager": alertmanager_check(app),
              **app[HEALTH_CHECKS_KEY]}
    app[_PROBES_KEY] = {name: _Shared(check) for name, check in checks.items()}
    yield


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    probes = _probes(request.app)
    results = await asyncio.gather(*(probe() for probe in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    degraded = any(result.get("ok") is False for result in checks.values())
    return json_response({
        "status": "degraded" if degraded else "ok",
        "version": __version__,
        "uptime": round(time.monotonic() - request.app[_STARTED_KEY], 3),
        "checks": checks,
    })


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    result = await _probes(request.app)["prometheus"]()
    if not result["ok"]:
        raise UpstreamUnavailable(f"not ready: {result['error']}")
    for name, check in request.app.get(READY_CHECKS_KEY, {}).items():
        reason = check()
        if reason is not None:
            raise Unavailable(f"not ready: {name}: {reason}")
    return json_response({"ready": True, "prometheus": result})


def setup(app: web.Application) -> None:
    app[_STARTED_KEY] = time.monotonic()
    if HEALTH_CHECKS_KEY not in app:
        app[HEALTH_CHECKS_KEY] = {}
    app.cleanup_ctx.append(_probes_ctx)
    app.add_routes(routes)
