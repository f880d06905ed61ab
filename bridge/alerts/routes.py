"""The alerts feature: REST reads, and `setup(app)` wiring store, hub, reconciler and streams.

GET /api/alerts is served from the hub's live view (no database read); GET /api/alerts/history
pages through the event log, whose stored frames are spliced into the answer as they are.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bridge.alerts import history, live, webhook
from bridge.alerts.backend import STORE_KEY, AlertLog, make_store
from bridge.alerts.hub import HUB_KEY, AlertHub
from bridge.alerts.query import parse_query
from bridge.alerts.reconcile import RECONCILER_KEY, Reconcilers
from bridge.alerts.selection import Selection, parse_selection
from bridge.errors import StorageUnavailable
from bridge.health import add_health_check, add_ready_check
from bridge.http import json_response, require_read_access
from bridge.jsonenc import dumps
from bridge.keys import CONFIG_KEY, METRICS_KEY
from bridge.params import parse_uint
from bridge.protocol import ALERTS_PATH
from bridge.upstream.alertmanager import CLUSTERS_KEY

log = logging.getLogger("bridge.alerts")
routes = web.RouteTableDef()

HISTORY_DEFAULT = 100
HISTORY_GATE_KEY = web.AppKey("alert_history_gate", history.Gate)
# Seconds between attempts to open a shared store that could not be reached at start.
REOPEN_INTERVAL = 2.0


def _selection(request: web.Request) -> Selection:
    """`filter=`, `state=` and `cluster=` of this request."""
    return parse_selection(request.query, request.app[CONFIG_KEY].alerts.max_matchers,
                           request.app[CLUSTERS_KEY].names)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    return parse_uint(text, name, low, high)


@routes.get(ALERTS_PATH)
async def current_alerts(request: web.Request) -> web.Response:
    """Firing alerts (Alert shape), filtered by `filter=` matchers, `state=` (default active)
    and `cluster=`, with the log position."""
    require_read_access(request)
    selection = _selection(request)
    hub = request.app[HUB_KEY]
    return json_response({"epoch": hub.epoch, "seq": hub.last_seq,
                          "alerts": hub.current(selection)})


@routes.get("/api/alerts/history")
async def alert_history(request: web.Request) -> web.Response:
    """Alert events after `since` (default: the oldest kept), at most `limit`, oldest first,
    filtered (`bridge.alerts.query`). `next` is the `since` of the following page, null at the
    end of the log."""
    require_read_access(request)
    query = parse_query(request.query, request.app[CONFIG_KEY].alerts.max_matchers,
                        request.app[CLUSTERS_KEY].names)
    store, hub = request.app[STORE_KEY], request.app[HUB_KEY]
    max_limit = request.app[CONFIG_KEY].alerts.history_limit
    since = _int_param(request, "since", 0, 0, 2**63 - 1)
    limit = _int_param(request, "limit", min(HISTORY_DEFAULT, max_limit), 1, max_limit)
    epoch, last = hub.epoch, hub.last_seq
    async with request.app[HISTORY_GATE_KEY].enter():
        # The oldest kept before the page: a prune in between only makes `first_seq` older
        # than the page's first event, never newer (read after, a page could hold events its
        # own `first_seq` said were gone; PostgreSQL's leader prunes beside every read).
        first, _ = await store.bounds()
        found = await store.history(since, last, limit, query)
    more = found.cut < last and found.scanned
    head = dumps({"epoch": epoch, "first_seq": first, "last_seq": last,
                  "next": found.cut if more else None})
    body = head[:-1] + ',"events":[' + ",".join(found.frames) + "]}"
    return web.Response(text=body, content_type="application/json")


async def _alerts_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the store, load the live view, start reconciliation, heartbeats and pruning."""
    config = app[CONFIG_KEY]
    store, hub, reconciler = app[STORE_KEY], app[HUB_KEY], app[RECONCILER_KEY]
    store.on_commit(hub.publish)
    store.on_reset(hub.reset)
    store.on_status(hub.store_status)
    leading: set[asyncio.Task[None]] = set()

    def lead(leader: bool) -> None:
        """Reconcile on the leader replica only (pruning checks `store.leader` itself)."""
        if leader:
            log.info("this replica (%s) now leads: reconciliation runs here", store.replica)
        task = asyncio.create_task(reconciler.start() if leader else reconciler.stop())
        leading.add(task)
        task.add_done_callback(leading.discard)

    store.on_leader(lead)
    # A truncated webhook on any replica: the leader's reconciler runs now.
    store.on_reconcile_asked(lambda: reconciler.trigger() if store.leader else None)
    tasks = [asyncio.create_task(hub.run_heartbeats(), name="alerts-heartbeat"),
             asyncio.create_task(_prune_forever(store, config.alerts.prune_interval),
                                 name="alerts-prune")]
    opened = await _open(store, hub, reconciler)
    if opened is not None:
        tasks.append(opened)
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *leading, return_exceptions=True)
        await reconciler.stop()
        hub.close_all("shutdown")
        await store.close()


async def _open(store: AlertLog, hub: AlertHub, reconciler: Reconcilers
                ) -> asyncio.Task[None] | None:
    """Open the store and load the live view. A shared database that cannot be reached yet
    is retried in the background (the task returned); a local file that cannot be opened is
    left unavailable. Either way the rest of the bridge serves and webhooks get 503."""
    try:
        hub.load(await store.open())
    except StorageUnavailable as exc:
        log.error("cannot reach the alert store %s: %s; retrying", store.where, exc.detail)
        store.error = exc.detail
        return asyncio.create_task(_reopen(store, hub, reconciler), name="alerts-reopen")
    except (sqlite3.Error, OSError) as exc:
        log.error("cannot open the alert store %s: %s; alerts are unavailable", store.where, exc)
        store.error = str(exc)
        return None
    if store.leader:
        await reconciler.start()
    return None


async def _reopen(store: AlertLog, hub: AlertHub, reconciler: Reconcilers) -> None:
    """Retry opening every few seconds until it works; then subscribers that came meanwhile
    (on an empty view) resync, and the store is used as if it had opened at start."""
    while True:
        await asyncio.sleep(REOPEN_INTERVAL)
        try:
            opened = await store.open()
        except StorageUnavailable as exc:
            store.error = exc.detail
            continue
        store.error = None
        hub.close_all("epoch_changed")
        hub.load(opened)
        log.info("alert store %s reachable: alerts available", store.where)
        if store.leader:
            await reconciler.start()
        return


async def _prune_forever(store: AlertLog, interval: float) -> None:
    """Retention in the background, on the leader replica; a failed prune is retried at the
    next interval."""
    while True:
        if store.error is None and store.leader:
            try:
                deleted = await store.prune()
            except Exception as exc:
                log.warning("pruning alert events failed: %s", exc)
            else:
                if deleted:
                    log.info("pruned %d alert events past retention", deleted)
        await asyncio.sleep(interval)


async def _close_streams(app: web.Application) -> None:
    """On shutdown, end alert streams (1001) so clients reconnect and resume elsewhere."""
    app[HUB_KEY].close_all("shutdown")


def _health_check(app: web.Application) -> Any:
    async def check() -> dict[str, Any]:
        store, hub, reconciler = app[STORE_KEY], app[HUB_KEY], app[RECONCILER_KEY]
        reconcile = reconciler.status()
        error = store.error or store.unavailable() or store.write_error
        ok = error is None and reconcile["ok"] is not False
        return {"ok": ok, "store": {"ok": error is None, "error": error,
                                    "epoch": hub.epoch, "seq": hub.last_seq, **store.status()},
                "replica": store.replica, "leader": store.leader,
                "reconcile": reconcile, "subscribers": hub.subscribers,
                "firing": len(hub.firing)}
    return check


def setup(app: web.Application) -> None:
    config = app[CONFIG_KEY]
    store = make_store(config)
    app[STORE_KEY] = store
    app[HISTORY_GATE_KEY] = history.Gate(config.alerts.history_concurrency)
    app[HUB_KEY] = AlertHub(app[METRICS_KEY], heartbeat=config.alerts.heartbeat,
                            queue_limit=config.alerts.send_queue,
                            max_subscribers=config.alerts.max_subscribers)
    app[RECONCILER_KEY] = Reconcilers(app[CLUSTERS_KEY], store, config.alertmanager,
                                      resend_interval=config.alerts.resend_interval)
    app.add_routes(routes)
    app.add_routes(webhook.routes)
    app.add_routes(live.routes)
    app.cleanup_ctx.append(_alerts_ctx)
    app.on_shutdown.append(_close_streams)
    add_health_check(app, "alerts", _health_check(app))
    add_ready_check(app, "alerts", store.unavailable)
