"""REST routes over Prometheus: the catalog, current values, history, instances, raw PromQL.

Handlers validate input (400 naming the parameter), ask `PrometheusClient`/`SnapshotCache`, and
answer JSON; every failure is a `BridgeError` that `error_middleware` maps. The shapes are the
README's (Sample, Snapshot) plus History and Instances documented in the README's REST section.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from bridge.config import MetricsConfig
from bridge.errors import NotFound
from bridge.http import json_response, require_read_access, require_scope
from bridge.jsonenc import dumps
from bridge.keys import CONFIG_KEY
from bridge.metrics.catalog import CATALOG_KEY
from bridge.metrics.instances import InstanceLister
from bridge.metrics.snapshot import SNAPSHOT_KEY, per_series
from bridge.params import TimeRange, check_promql, parse_instances, parse_range, parse_time
from bridge.protocol import CURRENT_PATH
from bridge.tokens import ADMIN
from bridge.upstream.prometheus import PROMETHEUS_KEY, QueryResult

routes = web.RouteTableDef()
INSTANCES_KEY = web.AppKey("instances", InstanceLister)


def _metrics_config(request: web.Request) -> MetricsConfig:
    return request.app[CONFIG_KEY].metrics


@routes.get("/api/metrics")
async def list_metrics(request: web.Request) -> web.Response:
    """The catalog: name, title, unit, description and PromQL of every metric."""
    require_read_access(request)
    return json_response({"metrics": request.app[CATALOG_KEY].describe()})


@routes.get(CURRENT_PATH)
async def current(request: web.Request) -> web.Response:
    """Every catalog metric's current samples (a Snapshot), from the shared cache."""
    require_read_access(request)
    body = await request.app[SNAPSHOT_KEY].get_bytes(parse_instances(request.query))
    return web.Response(body=body, content_type="application/json", charset="utf-8")


@routes.get("/api/metrics/{name}")
async def history(request: web.Request) -> web.Response:
    """One catalog metric over time, per instance, at the asked step."""
    require_read_access(request)
    entry = request.app[CATALOG_KEY].get(request.match_info["name"])
    rng = _range(request)
    instances = parse_instances(request.query)
    result = await request.app[PROMETHEUS_KEY].query_range(entry.query, rng.start, rng.end,
                                                           rng.step)
    return json_response({
        "metric": entry.name, "title": entry.title, "unit": entry.unit,
        "start": rng.start, "end": rng.end, "step": rng.step,
        "series": history_series(result, instances),
        "warnings": result.warnings,
    })


def _range(request: web.Request) -> TimeRange:
    config = _metrics_config(request)
    return parse_range(request.query, time.time(), config.default_range,
                       config.max_history_points)


def history_series(result: QueryResult, instances: list[str] | None) -> list[dict[str, Any]]:
    """Range-query series as `{"instance", "labels", "points": [[ts, value], ...]}`, sorted."""
    return per_series(result, instances, lambda s: {"points": [list(p) for p in s.points]})


@routes.get("/api/instances")
async def list_instances(request: web.Request) -> web.Response:
    """The hosts Prometheus scrapes with the exporter: up, down or stale (see instances)."""
    require_read_access(request)
    return json_response(await request.app[INSTANCES_KEY].answer())


def _require_raw(request: web.Request) -> str:
    """Raw PromQL is off unless `metrics.raw_queries`; then it needs the `admin` scope (any
    query, of any series, at any cost). Returns the query."""
    if not _metrics_config(request).raw_queries:
        raise NotFound("raw PromQL queries are disabled (set metrics.raw_queries: true)")
    require_scope(request, ADMIN)
    return check_promql(request.query.get("query", ""))


def _raw_answer(result: QueryResult) -> web.Response:
    """Prometheus' own envelope, so tools written for its API read it unchanged."""
    body: dict[str, Any] = {"status": "success", "data": result.data}
    if result.warnings:
        body["warnings"] = result.warnings
    if result.infos:
        body["infos"] = result.infos
    return web.Response(text=dumps(body), content_type="application/json")


@routes.get("/api/query")
async def raw_query(request: web.Request) -> web.Response:
    """Raw instant query pass-through (`query`, optional `time`)."""
    query = _require_raw(request)
    at = parse_time(request.query["time"], "time") if request.query.get("time") else None
    return _raw_answer(await request.app[PROMETHEUS_KEY].query(query, at))


@routes.get("/api/query_range")
async def raw_query_range(request: web.Request) -> web.Response:
    """Raw range query pass-through (`query`, `start`, `end`, `step` or `range`)."""
    query = _require_raw(request)
    rng = _range(request)
    result = await request.app[PROMETHEUS_KEY].query_range(query, rng.start, rng.end, rng.step)
    return _raw_answer(result)


def setup(app: web.Application) -> None:
    """Needs prometheus, catalog and snapshot set up first (FEATURES order)."""
    app[INSTANCES_KEY] = InstanceLister(app[PROMETHEUS_KEY], app[CONFIG_KEY].metrics.exporter_jobs)
    app.add_routes(routes)
