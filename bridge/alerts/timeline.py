"""GET /api/alerts/{fingerprint}/timeline: every event of one alert, in seq order.

An alert is (cluster, fingerprint). Without `?cluster=`, the fingerprint must name one alert:
when events of it exist in several clusters the answer is 400 naming them. Unknown (no event
of it kept, and not firing now) is 404. A page holds at most `limit` events (default and most
`alerts.history_limit`); `next` is the `since` of the following page, null after the last.
Backfilled events (`"source":"prometheus"`, `bridge.alerts.backfill`) are in the timeline: they
were stored after they happened, so their seq comes after events that happened later; sort by
`timestamp` to draw them in time.
"""

from __future__ import annotations

from aiohttp import web

from bridge.alerts import historydoc
from bridge.alerts.backend import STORE_KEY
from bridge.alerts.hub import HUB_KEY
from bridge.alerts.routes import HISTORY_GATE_KEY
from bridge.alerts.selection import parse_cluster
from bridge.errors import BadRequest, NotFound
from bridge.http import require_read_access
from bridge.jsonenc import dumps
from bridge.keys import CONFIG_KEY
from bridge.openapi import document
from bridge.params import parse_uint
from bridge.upstream.alertmanager import CLUSTERS_KEY

routes = web.RouteTableDef()
PATHS = ("/api/alerts/{fingerprint}/timeline",)

MAX_FINGERPRINT = 128


def _fingerprint(request: web.Request) -> str:
    fingerprint = request.match_info["fingerprint"]
    if len(fingerprint) > MAX_FINGERPRINT:
        raise BadRequest(f"fingerprint: longer than {MAX_FINGERPRINT} characters")
    return fingerprint


def _uint(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    return default if text is None else parse_uint(text, name, low, high)


@routes.get("/api/alerts/{fingerprint}/timeline")
async def alert_timeline(request: web.Request) -> web.Response:
    """`{"cluster", "fingerprint", "events", "next"}`, events as the log stores them."""
    require_read_access(request)
    fingerprint = _fingerprint(request)
    cluster = parse_cluster(request.query.get("cluster"), request.app[CLUSTERS_KEY].names)
    max_limit = request.app[CONFIG_KEY].alerts.history_limit
    since = _uint(request, "since", 0, 0, 2**63 - 1)
    limit = _uint(request, "limit", max_limit, 1, max_limit)
    async with request.app[HISTORY_GATE_KEY].enter():
        found = await request.app[STORE_KEY].timeline(fingerprint, cluster, since, limit)
    known = set(found.clusters)
    known.update(c for c, fp in request.app[HUB_KEY].firing if fp == fingerprint)
    if cluster is None:
        if len(known) > 1:
            raise BadRequest(f"fingerprint {fingerprint!r:.40} is an alert in several clusters "
                             f"({', '.join(sorted(known))}): add ?cluster=NAME",
                             parameter="cluster")
        cluster = next(iter(known), None)
    if cluster is None or cluster not in known:
        raise NotFound(f"no alert {fingerprint!r:.40}" + (f" in cluster {cluster!r}"
                                                          if cluster else ""))
    head = dumps({"cluster": cluster, "fingerprint": fingerprint, "next": found.next})
    body = head[:-1] + ',"events":[' + ",".join(found.frames) + "]}"
    return web.Response(text=body, content_type="application/json")


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    document(app, {path: ops for path, ops in historydoc.paths(app[CONFIG_KEY].alerts).items()
                   if path in PATHS}, historydoc.SCHEMAS)
