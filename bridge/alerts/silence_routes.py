"""The silences feature: GET/POST /api/silences, DELETE /api/silences/{cluster}/{id},
POST /api/alerts/{fingerprint}/ack, and `setup(app)` wiring the view, the watcher, the ack
keeper and the ack extender to the alert log.

Reads come from the view every replica keeps (`bridge.alerts.silenceview`); writes go to
Alertmanager (`bridge.alerts.silencewrite`) and are logged as `silence` events with the token's
name as their author. Writes need a token with the `silence` scope (refused in read-only mode).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bridge import openapi
from bridge.alerts import ackextend, silence_apidoc, silencewrite
from bridge.alerts.ackextend import ACK_EXTENDER_KEY, AckExtender
from bridge.alerts.acks import ACK_KEEPER_KEY, AckKeeper, find_alert, parse_ack
from bridge.alerts.backend import STORE_KEY
from bridge.alerts.hub import HUB_KEY
from bridge.alerts.silencerequest import ack_request, parse_request
from bridge.alerts.silences import BRIDGE_ACTOR, STATES
from bridge.alerts.silenceview import SILENCE_VIEW_KEY, SilenceView
from bridge.alerts.silencewatch import SILENCE_WATCHER_KEY, SilenceWatcher
from bridge.alerts.webhook import read_json
from bridge.errors import BadRequest, StorageUnavailable, Unavailable
from bridge.health import add_health_check
from bridge.http import json_response, require_read_access, require_scope
from bridge.keys import CONFIG_KEY
from bridge.protocol import SILENCES_PATH
from bridge.tokens import SILENCE
from bridge.upstream.alertmanager import CLUSTERS_KEY, Cluster

log = logging.getLogger("bridge.alerts.silences")
routes = web.RouteTableDef()

MAX_BODY = 64 * 1024
# Seconds between attempts to load the view while the store cannot be read.
LOAD_RETRY = 2.0


def actor(request: web.Request) -> str:
    """Who makes a change: the name of the request's token (401 without one, 403 without the
    `silence` scope or in read-only mode)."""
    return require_scope(request, SILENCE).name


def _cluster(request: web.Request, name: str | None) -> Cluster:
    """The named cluster (400 when unknown); unnamed, the only one (400 when there are more)."""
    clusters = request.app[CLUSTERS_KEY]
    if name is not None:
        return clusters.get(name)
    configured = [c for c in clusters if c.configured]
    if len(configured) != 1:
        known = ", ".join(c.name for c in configured) or "none configured"
        raise BadRequest(f"cluster: required (known: {known})")
    return configured[0]


def _view(request: web.Request) -> SilenceView:
    view = request.app[SILENCE_VIEW_KEY]
    if not view.loaded:
        raise Unavailable("silences are not loaded yet: the alert store cannot be read")
    return view


@routes.get(SILENCES_PATH)
async def list_silences(request: web.Request) -> web.Response:
    """Known silences with the firing alerts each matches; `cluster=`, `state=` filter."""
    require_read_access(request)
    cluster = request.query.get("cluster")
    if cluster is not None:
        request.app[CLUSTERS_KEY].get(cluster)
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise BadRequest(f"state: expected one of {', '.join(STATES)}, got {state!r:.40}",
                         parameter="state")
    alerts = list(request.app[HUB_KEY].firing.values())
    return json_response({"silences": _view(request).listing(alerts, cluster, state)})


@routes.post(SILENCES_PATH)
async def post_silence(request: web.Request) -> web.Response:
    """Create a silence, or update the one `id` names."""
    by = actor(request)
    data = await read_json(request, MAX_BODY)
    default = _cluster(request, None).name if isinstance(data, dict) and \
        "cluster" not in data else None
    req = parse_request(data, default)
    cluster = _cluster(request, req.cluster)
    if req.id is not None:
        silencewrite.check_id(req.id)
    silence = await silencewrite.save(cluster, request.app[STORE_KEY], req, by)
    return json_response({"silence": silence})


@routes.delete(SILENCES_PATH + "/{cluster}/{id}")
async def delete_silence(request: web.Request) -> web.Response:
    """Expire a silence; the silence, expired."""
    by = actor(request)
    cluster = _cluster(request, request.match_info["cluster"])
    sid = silencewrite.check_id(request.match_info["id"])
    silence = await silencewrite.expire(cluster, request.app[STORE_KEY], sid, by)
    return json_response({"silence": silence})


@routes.post("/api/alerts/{fingerprint}/ack")
async def ack_alert(request: web.Request) -> web.Response:
    """Acknowledge a firing alert: a silence of exactly its labels, "ACK! " + the comment,
    for `duration` (default 1h, at most 24h); an active ack of it is extended instead."""
    by = actor(request)
    comment, duration = parse_ack(await read_json(request, MAX_BODY))
    name = request.query.get("cluster")
    if name is not None:
        request.app[CLUSTERS_KEY].get(name)
    alert = find_alert(request.app[HUB_KEY].firing, request.match_info["fingerprint"], name)
    cluster = _cluster(request, alert.get("cluster") or name)
    acks = _view(request).active_acks(alert["fingerprint"], cluster.name)
    req = ack_request(cluster.name, alert, comment, duration, acks[0]["id"] if acks else None)
    silence = await silencewrite.save(cluster, request.app[STORE_KEY], req, by)
    return json_response({"silence": silence})


# --- wiring --------------------------------------------------------------------------------

def _writes(app: web.Application) -> bool:
    """Whether the bridge itself may write to Alertmanager (expire and extend acks): never
    with `auth.read_only`, which makes it a viewer, as karma's read-only mode does."""
    return not app[CONFIG_KEY].auth.read_only


async def _load(app: web.Application) -> None:
    """Load the view from the log, retrying while the store cannot be read; then sweep."""
    view, store = app[SILENCE_VIEW_KEY], app[STORE_KEY]
    while True:
        try:
            view.load(await store.known_silences())
            if _writes(app):
                app[ACK_KEEPER_KEY].sweep(app[HUB_KEY].firing, app[CLUSTERS_KEY].names)
            return
        except StorageUnavailable as exc:
            log.debug("silences not loaded yet: %s", exc.detail)
        await asyncio.sleep(LOAD_RETRY)


async def _silences_ctx(app: web.Application) -> AsyncIterator[None]:
    store, view = app[STORE_KEY], app[SILENCE_VIEW_KEY]
    watcher, keeper = app[SILENCE_WATCHER_KEY], app[ACK_KEEPER_KEY]
    store.on_commit(view.on_commit)
    if _writes(app):
        store.on_commit(keeper.on_commit)
    store.on_reset(view.reset)
    app[HUB_KEY].decorate = view.decorate

    stopping: set[asyncio.Task[None]] = set()

    def lead(leader: bool) -> None:
        """Watch on the leader replica only (the ack keeper checks `store.leader` itself)."""
        if leader:
            watcher.start()
            return
        task = asyncio.get_running_loop().create_task(watcher.stop())
        stopping.add(task)
        task.add_done_callback(stopping.discard)

    store.on_leader(lead)
    loading = asyncio.create_task(_load(app), name="silences-load")
    keeper.start()
    if store.leader:
        watcher.start()
    try:
        yield
    finally:
        loading.cancel()
        await asyncio.gather(loading, return_exceptions=True)
        await asyncio.gather(*stopping, return_exceptions=True)
        await watcher.stop()
        await app[ACK_EXTENDER_KEY].stop()
        await keeper.stop()


def _health(app: web.Application) -> Any:
    async def check() -> dict[str, Any]:
        status = app[SILENCE_WATCHER_KEY].status()
        return {**status, "loaded": app[SILENCE_VIEW_KEY].loaded,
                "known": len(app[SILENCE_VIEW_KEY]),
                "acks_kept": "yes" if _writes(app) else "no (auth.read_only)",
                "acks_expired": app[ACK_KEEPER_KEY].expired,
                "acks_extended": app[ACK_EXTENDER_KEY].extended}
    return check


def setup(app: web.Application) -> None:
    """After `bridge.alerts.routes.setup` (it creates the store and the hub)."""
    store, clusters = app[STORE_KEY], app[CLUSTERS_KEY]
    view = app[SILENCE_VIEW_KEY] = SilenceView()

    async def expire(cluster: str, sid: str) -> Any:
        return await silencewrite.expire(clusters.get(cluster), store, sid, BRIDGE_ACTOR)

    keeper = app[ACK_KEEPER_KEY] = AckKeeper(view, store, expire)
    rule = app[CONFIG_KEY].alerts

    def wanted(silence: Any) -> bool:
        """Extend an ack whose alert fires and whose expiry is not pending."""
        return (ackextend.fires(silence, app[HUB_KEY].firing)
                and (silence["cluster"], silence["id"]) not in keeper.pending)

    async def extend(cluster: str, sid: str) -> Any:
        return await ackextend.extend_ack(clusters.get(cluster), store, sid, rule, wanted,
                                          clock=extender.clock)

    extender = app[ACK_EXTENDER_KEY] = AckExtender(view, store, rule, extend)

    def swept(cluster: str) -> None:
        """After a watcher pass: expire the stale acks first, then extend the firing ones."""
        if _writes(app):
            keeper.sweep(app[HUB_KEY].firing, [cluster])
            extender.sweep(app[HUB_KEY].firing, cluster)

    app[SILENCE_WATCHER_KEY] = SilenceWatcher(clusters, store, app[CONFIG_KEY].alertmanager,
                                              swept)
    app.add_routes(routes)
    app.cleanup_ctx.append(_silences_ctx)
    add_health_check(app, "silences", _health(app))
    openapi.document(app, *silence_apidoc.for_clusters(clusters.names))
