"""The bridge watching itself: per-route request counts and latency, served on `/metrics`."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge.http import Handler
from bridge.keys import METRICS_KEY

routes = web.RouteTableDef()


def route_label(request: web.Request) -> str:
    """The route's pattern (`/api/metrics/{name}`), not the raw path: bounded label values."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS_KEY]
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.answered(route_label(request), request.method, status,
                         time.perf_counter() - started)


@routes.get("/metrics")
async def self_metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
