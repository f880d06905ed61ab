"""`GET /api/sse/metrics`: the metric stream as server-sent events, for networks that block
WebSocket.

One subscription per request, from query parameters (`metrics=cpu,memory`, `instances=...`,
`interval=2`, `delta=true`, `query=...` when raw queries are on); none = the default stream.
Each frame is an event named by its type (`metrics`, `subscribed`, `status`, `error`,
`heartbeat`) whose `data` is the same JSON document a WebSocket text frame carries. The frames
come from the same shared pollers, already encoded; bad parameters are a 400 before streaming.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from bridge.errors import BadRequest, Unavailable
from bridge.http import check_origin, identify, require_read_access, start_stream
from bridge.keys import CONFIG_KEY
from bridge.metrics.catalog import CATALOG_KEY
from bridge.params import parse_list, parse_number
from bridge.protocol import DEFAULT_ID, METRICS_SSE_PATH, SUBSCRIBE
from bridge.streams.connection import SseConnection
from bridge.streams.frames import SSE
from bridge.streams.hub import STREAMS_KEY
from bridge.streams.subscriptions import parse_subscribe

routes = web.RouteTableDef()
PARAMS = frozenset({"metrics", "instances", "interval", "delta", "query", "token"})


def subscribe_fields(query: Any) -> dict[str, Any]:
    """Query parameters as the fields of a WebSocket `subscribe` frame."""
    unknown = sorted(set(query) - PARAMS)
    if unknown:
        raise BadRequest(f"unknown parameter(s) {', '.join(unknown)}; this stream takes "
                         f"{', '.join(sorted(PARAMS))}")
    fields: dict[str, Any] = {"type": SUBSCRIBE, "id": DEFAULT_ID}
    for name in ("metrics", "instances"):
        if name in query:  # present but empty: the subscribe check says a list cannot be
            fields[name] = parse_list(query, name) or []
    if "interval" in query:
        fields["interval"] = parse_number(query["interval"], "interval")
    if "delta" in query:
        value = query["delta"].lower()
        if value not in ("true", "false", "1", "0"):
            raise BadRequest(f"delta must be true or false, got {query['delta']!r:.40}")
        fields["delta"] = value in ("true", "1")
    if "query" in query:
        fields["query"] = query["query"]
    return fields


@routes.get(METRICS_SSE_PATH)
async def metrics_events(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    require_read_access(request)
    config = request.app[CONFIG_KEY]
    hub = request.app[STREAMS_KEY]
    principal = identify(request)
    req = parse_subscribe(subscribe_fields(request.query), catalog=request.app[CATALOG_KEY],
                          config=config, principal=principal)
    remote = request.remote or ""
    hub.check_capacity(req.key, remote)
    if request.transport is None:  # the client already left: nobody to answer
        return web.Response()
    conn = SseConnection(hub, request.transport, SSE, principal=principal, remote=remote)
    if not hub.register(conn):
        raise Unavailable("too many stream connections (streams.max_connections); retry later")
    resp = EventSourceResponse(ping_interval=config.streams.heartbeat or 15.0, send_timeout=None)
    try:
        hub.subscribe(conn, req.id, req.key, req.delta, ack=req.ack())
        await start_stream(request, resp)
        await conn.write_to(resp)
    except ConnectionResetError:
        pass
    finally:
        hub.unregister(conn)
    return resp


def setup(app: web.Application) -> None:
    """Needs `streams` set up first (FEATURES order)."""
    app.add_routes(routes)
