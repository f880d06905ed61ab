"""POST /api/alerts/webhook (Alertmanager) and POST /api/ws/broadcast/alert (manual alerts).

The webhook needs a token with the `webhook` scope (accepted in read-only mode too), a manual
alert one with `admin` (refused in read-only mode). A webhook's alerts belong to the cluster that
sent it: the receiver URL's `?cluster=NAME`, else the cluster one of whose peers (or
`external_urls`) is the payload's `externalURL`; an unknown origin is a 400 naming it (with the
`alertmanager.url` shorthand, or no Alertmanager configured, every webhook is `default`'s). A
manual alert is `default`'s unless its body names a `cluster`.

The answer is 200 only after the events are committed (SQLite WAL with the configured
`synchronous`); anything that prevents storing is 503, which Alertmanager retries — never a
4xx, which it would drop for good. Bad input is 400 naming the field, 401 without a known token,
403 without the scope, 413 over `alerts.max_body_bytes`, 408 for a body not complete within
`http.body_timeout`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bridge.alerts.backend import STORE_KEY
from bridge.alerts.hub import HUB_KEY
from bridge.alerts.model import WebhookPayload, parse_manual, parse_webhook
from bridge.alerts.selection import parse_cluster
from bridge.alerts.store import Event
from bridge.config import DEFAULT_CLUSTER
from bridge.errors import (
    BadRequest,
    BridgeError,
    PayloadTooLarge,
    RequestTimeout,
    StorageUnavailable,
    Unauthorized,
)
from bridge.http import json_response, one_line, require_scope
from bridge.keys import CONFIG_KEY, METRICS_KEY
from bridge.tokens import ADMIN, WEBHOOK
from bridge.upstream.alertmanager import CLUSTERS_KEY

routes = web.RouteTableDef()

_REASONS = {Unauthorized: "unauthorized", PayloadTooLarge: "too_large",
            BadRequest: "bad_request", StorageUnavailable: "storage_unavailable"}


async def read_json(request: web.Request, limit: int) -> Any:
    """The body as JSON, refusing more than `limit` bytes without reading them all, and a body
    that takes longer than `http.body_timeout` (a stalled upload, or chunked framing broken
    mid-body, which aiohttp's parser reports to no one) with a 408."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body larger than {limit} bytes")
    try:
        if request.content.is_eof():  # all of it came with the headers: nothing to wait for
            body: bytes | bytearray = request.content.read_nowait()
            if len(body) > limit:
                raise PayloadTooLarge(f"request body larger than {limit} bytes")
        else:
            body = await _read_body(request, limit)
    except web.RequestPayloadError as exc:  # bad chunked framing, undecodable gzip/deflate
        raise BadRequest(f"request body: {_payload_detail(exc)}") from None
    if not body:
        raise BadRequest("empty body: expected a JSON object")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise BadRequest(f"malformed JSON: {exc}") from None


async def _read_body(request: web.Request, limit: int) -> bytearray:
    """The body as it arrives, within `limit` bytes and `http.body_timeout`."""
    deadline = request.app[CONFIG_KEY].http.body_timeout
    body = bytearray()
    try:
        async with asyncio.timeout(deadline):
            async for chunk in request.content.iter_any():
                body += chunk
                if len(body) > limit:
                    raise PayloadTooLarge(f"request body larger than {limit} bytes")
    except TimeoutError:
        raise RequestTimeout(f"request body not complete within {deadline:g} s "
                             "(http.body_timeout)") from None
    return body


def _payload_detail(exc: web.RequestPayloadError) -> str:
    """`400, message: Can not decode content-encoding: gzip` without aiohttp's prefix."""
    return re.sub(r"^\d{3}, message: ", "", one_line(str(exc)))


@routes.post("/api/alerts/webhook")
async def webhook(request: web.Request) -> web.Response:
    """Alertmanager's webhook_config target (payload version "4")."""
    metrics = request.app[METRICS_KEY]
    try:
        require_scope(request, WEBHOOK)
        data = await read_json(request, request.app[CONFIG_KEY].alerts.max_body_bytes)
        payload = parse_webhook(data, _sender(request))
        events = await request.app[STORE_KEY].record(payload.notices)
    except BridgeError as exc:
        reason = next((r for cls, r in _REASONS.items() if isinstance(exc, cls)), exc.error)
        metrics.webhooks_rejected.labels(reason).inc()
        raise
    metrics.webhooks.inc()
    if payload.truncated or _unmuted(request, payload):
        # Alertmanager left alerts out (max_alerts), or notified an alert the bridge holds as
        # muted (its silence ended: a webhook does not say so): the leader replica (this one,
        # or another told through the store) asks for the full lists now.
        await request.app[STORE_KEY].ask_reconcile()
    return json_response({"status": "ok", "alerts": len(payload.notices),
                          "events": len(events), "seq": _reply_seq(request, events)})


def _sender(request: web.Request) -> Callable[[str], str]:
    """The cluster that sent a webhook, by its `externalURL` (see the module docstring)."""
    clusters = request.app[CLUSTERS_KEY]
    param = request.query.get("cluster")
    if not len(clusters) and param is None:
        return lambda _external_url: DEFAULT_CLUSTER
    return lambda external_url: clusters.of_webhook(param, external_url).name


def _unmuted(request: web.Request, payload: WebhookPayload) -> bool:
    """Whether it notifies a firing alert the live view has as suppressed."""
    firing = request.app[HUB_KEY].firing
    return any(n.status == "firing" and firing.get(n.key, {}).get("state") == "suppressed"
               for n in payload.notices)


def _reply_seq(request: web.Request, events: list[Event]) -> int:
    """The seq of the last event this request stored: the hub fans a big batch out over several
    loop iterations, so its `last_seq` may still lag the events just committed. Without events
    of its own, the live position (every earlier event is behind it)."""
    return events[-1].seq if events else request.app[HUB_KEY].last_seq


@routes.post("/api/ws/broadcast/alert")
async def broadcast_alert(request: web.Request) -> web.Response:
    """A manual alert (labels with alertname, annotations, status): stored and streamed like any
    other event, with source "manual" and Alertmanager's fingerprint of its labels."""
    require_scope(request, ADMIN)
    data = await read_json(request, request.app[CONFIG_KEY].alerts.max_body_bytes)
    notice = parse_manual(data)
    parse_cluster(notice.cluster, request.app[CLUSTERS_KEY].names)
    events = await request.app[STORE_KEY].record([notice])
    return json_response({"status": "ok", "fingerprint": notice.fingerprint,
                          "cluster": notice.cluster,
                          "event": json.loads(events[0].text) if events else None,
                          "seq": _reply_seq(request, events)})
