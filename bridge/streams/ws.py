"""`/api/ws/ws`: the live metric stream over WebSocket, and its subscription protocol.

A client that says nothing gets the implicit `default` subscription (every catalog metric, all
instances, `streams.interval`) at once and every interval. Its first explicit `subscribe` ends
the default (announced with `unsubscribed` for "default"). Client frames are JSON text (or
msgpack binary); bad ones get an `error` frame and the socket stays open. See the README
"Streams" section for the protocol.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from bridge.errors import BadRequest, BridgeError, NotFound
from bridge.http import check_origin, identify, require_read_access, start_stream
from bridge.keys import CONFIG_KEY
from bridge.metrics.catalog import CATALOG_KEY
from bridge.protocol import (
    CLOSE_TRY_AGAIN,
    DEFAULT_ID,
    ERROR,
    METRICS_WS_PATH,
    MSGPACK_PROTOCOL,
    SUBSCRIBE,
    UNSUBSCRIBE,
)
from bridge.streams.connection import Connection, close_websocket
from bridge.streams.frames import FORMAT_NAMES, WS_MSGPACK, control
from bridge.streams.hub import STREAMS_KEY, StreamHub
from bridge.streams.subscriptions import parse_id, parse_subscribe

log = logging.getLogger("bridge.ws")

routes = web.RouteTableDef()


def wire_format(request: web.Request) -> int:
    """`?format=json|msgpack` (the `promwire.msgpack` subprotocol also selects msgpack)."""
    name = request.query.get("format", "json")
    if name not in FORMAT_NAMES:
        raise BadRequest(f"format must be json or msgpack, got {name!r:.40}")
    return FORMAT_NAMES[name]


@routes.get(METRICS_WS_PATH)
async def metrics_socket(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    require_read_access(request)
    fmt = wire_format(request)
    principal = identify(request)  # before the upgrade: a malformed header is an HTTP 400
    hub = request.app[STREAMS_KEY]
    streams = request.app[CONFIG_KEY].streams
    ws = web.WebSocketResponse(protocols=(MSGPACK_PROTOCOL,), compress=False,
                               heartbeat=streams.heartbeat or None,
                               max_msg_size=streams.max_message_bytes)
    await start_stream(request, ws)
    if request.transport is None:  # the client left during the handshake
        return ws
    if ws.ws_protocol == MSGPACK_PROTOCOL:
        fmt = WS_MSGPACK
    conn = Connection(hub, request.transport, fmt, principal=principal, remote=request.remote or "")
    if not hub.register(conn):
        await close_websocket(request, ws, CLOSE_TRY_AGAIN, "too many stream connections")
        return ws
    try:
        try:
            hub.subscribe(conn, DEFAULT_ID, hub.default_key)
        except BridgeError as exc:
            hub.send(conn, control(ERROR, **exc.body()), DEFAULT_ID)
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                handle_frame(request.app, hub, conn, msg.data)
    finally:
        hub.unregister(conn)
        if conn.transport.get_write_buffer_size():
            # A peer that stopped reading (e.g. closed by aiohttp for a missing pong) would
            # keep the socket open forever waiting for the buffer to drain: cut it after a grace.
            asyncio.get_running_loop().call_later(streams.stuck_timeout, conn.transport.abort)
    return ws


def handle_frame(app: web.Application, hub: StreamHub, conn: Connection,
                 data: str | bytes) -> None:
    """Act on one client frame; any problem becomes an `error` frame, never a close."""
    sub_id = None
    try:
        msg = _decode(data)
        if isinstance(msg.get("id"), str):
            sub_id = msg["id"]
        kind = msg.get("type")
        if kind == SUBSCRIBE:
            _subscribe(app, hub, conn, msg)
        elif kind == UNSUBSCRIBE:
            _unsubscribe(hub, conn, msg)
        else:
            raise BadRequest(f"unknown frame type {kind!r:.40}; expected subscribe or "
                             "unsubscribe")
    except BridgeError as exc:
        hub.send(conn, control(ERROR, **exc.body()), sub_id)
    except Exception:  # a bug must not end the socket (nor show the client a traceback)
        log.exception("streams: client frame %r", data[:200])
        hub.send(conn, control(ERROR, error="internal", detail="internal server error"),
                 sub_id)


def _decode(data: str | bytes) -> dict[str, Any]:
    if isinstance(data, str):
        try:
            msg = json.loads(data)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            raise BadRequest(f"malformed JSON: {exc}") from None
    else:
        try:
            msg = msgpack.unpackb(data, raw=False)
        except Exception as exc:
            raise BadRequest(f"malformed msgpack: {exc}") from None
    if not isinstance(msg, dict):
        raise BadRequest('a frame must be an object with a "type", e.g. '
                         '{"type": "subscribe", "id": "s1", "metrics": ["cpu"]}')
    return msg


def _subscribe(app: web.Application, hub: StreamHub, conn: Connection,
               msg: dict[str, Any]) -> None:
    config = app[CONFIG_KEY]
    req = parse_subscribe(msg, catalog=app[CATALOG_KEY], config=config,
                          principal=conn.principal)
    ends_default = not conn.explicit and DEFAULT_ID in conn.subs
    if req.id in conn.subs and not (ends_default and req.id == DEFAULT_ID):
        raise BadRequest(f"subscription id {req.id!r} is already in use on this connection; "
                         "unsubscribe it first")
    if len(conn.subs) - ends_default >= config.streams.max_subscriptions:
        raise BadRequest(f"at most {config.streams.max_subscriptions} subscriptions per "
                         "connection (streams.max_subscriptions)")
    hub.check_capacity(req.key, conn.remote, conn)
    if not conn.explicit:
        conn.explicit = True
        if ends_default:
            hub.unsubscribe(conn, DEFAULT_ID)
    hub.subscribe(conn, req.id, req.key, req.delta, ack=req.ack())


def _unsubscribe(hub: StreamHub, conn: Connection, msg: dict[str, Any]) -> None:
    extra = sorted(set(msg) - {"type", "id"})
    if extra:
        raise BadRequest(f"unknown field(s) {', '.join(extra)}; an unsubscribe takes id")
    sub_id = parse_id(msg.get("id"))
    if not hub.unsubscribe(conn, sub_id):
        raise NotFound(f"no subscription {sub_id!r} on this connection",
                       subscriptions=sorted(conn.subs))


def setup(app: web.Application) -> None:
    """Needs `streams` set up first (FEATURES order)."""
    app.add_routes(routes)
