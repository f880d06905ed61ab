"""The fan-out behind the WebSocket and SSE metric streams, and the pollers it shares.

One `Poller` (bridge.streams.poller) per distinct `PollerKey` asks Prometheus once per tick
whatever the number of subscribers and offers the same encoded frame to every subscriber. Pollers
start with their first subscriber and stop with their last.

Delivery never awaits (see bridge.streams.connection): the fan-out loop writes to sockets that
keep up and queues, latest value wins, for those that do not, so one stuck consumer never delays
a tick for the others. `StreamHub` owns the connections, the pollers, the backlog flusher, the
application heartbeat and Prometheus' up/down `status` frames.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from bridge.config import StreamsConfig
from bridge.errors import (
    TooManyRequests,
    Unavailable,
)
from bridge.keys import CONFIG_KEY, METRICS_KEY
from bridge.metrics.catalog import CATALOG_KEY
from bridge.metrics.snapshot import evaluate
from bridge.protocol import CLOSE_GOING_AWAY, HEARTBEAT, METRICS, STATUS, UNSUBSCRIBED
from bridge.selfmetrics import BridgeMetrics
from bridge.streams.connection import CLOSE_STUCK, Connection
from bridge.streams.frames import NO_ID, Frame, control
from bridge.streams.poller import Poller, Subscription
from bridge.streams.subscriptions import PollerKey
from bridge.upstream.prometheus import PROMETHEUS_KEY, QUERY_ENDPOINTS, UpstreamStatus

log = logging.getLogger("bridge.streams")

FLUSH_PERIOD = 0.05  # seconds between attempts to flush backlogged connections


Fetch = Callable[[PollerKey], Awaitable[dict[str, Any]]]


class StreamHub:
    """Connections, pollers, backlog flushing, heartbeats and Prometheus status for streams."""

    def __init__(self, config: StreamsConfig, metrics: BridgeMetrics, fetch: Fetch,
                 default_key: PollerKey) -> None:
        self.config, self.metrics, self.fetch = config, metrics, fetch
        self.default_key = default_key
        self.connections: dict[Connection, None] = {}
        self.pollers: dict[PollerKey, Poller] = {}
        self.backlog: set[Connection] = set()
        self.prometheus_up: bool | None = None
        self.status: Frame | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._flush_loop(), name="streams flusher"))
        if self.config.heartbeat > 0:
            self._tasks.append(asyncio.create_task(self._heartbeat_loop(),
                                                   name="streams heartbeat"))

    async def stop(self) -> None:
        tasks = self._tasks + [p.task for p in self.pollers.values() if p.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    # --- connections -------------------------------------------------------------------------

    def register(self, conn: Connection) -> bool:
        """Admit a connection unless `streams.max_connections` are already open."""
        if len(self.connections) >= self.config.max_connections:
            return False
        self.connections[conn] = None
        self.metrics.ws_clients.labels(conn.stream).inc()
        return True

    def unregister(self, conn: Connection) -> None:
        """Forget a connection and its subscriptions (idempotent)."""
        conn.closed = True
        self.backlog.discard(conn)
        if self.connections.pop(conn, 0) is None:
            self.metrics.ws_clients.labels(conn.stream).dec()
        for sub in list(conn.subs.values()):
            self._detach(sub)

    def send(self, conn: Connection, frame: Frame, sub_id: Any = NO_ID) -> None:
        """One control frame to one connection (never dropped); `sub_id` None = `"id": null`."""
        if conn.send_control(frame, sub_id):
            self.count_sent(frame.type, 1)

    def broadcast(self, frame: Frame) -> None:
        sent = 0
        for conn in list(self.connections):
            sent += conn.send_control(frame)
            if frame.type == STATUS:
                conn.status = frame
        self.count_sent(frame.type, sent)

    def tell_status(self, conn: Connection) -> None:
        """Send the stored `down` status to a connection that has not had it yet.

        Called after a subscription's ack (and, for the WebSocket default stream, right after
        the default subscription), never at registration: a client's first frame is its
        `subscribed`, then data or status. Sent once per connection and outage; `up` is not
        news to a client that just arrived.
        """
        status = self.status
        if self.prometheus_up is False and status is not None and conn.status is not status:
            conn.status = status
            self.send(conn, status)

    def count_sent(self, type_: str, n: int) -> None:
        if n:
            self.metrics.frames_sent.labels(type_).inc(n)

    def count_dropped(self, n: int) -> None:
        self.metrics.frames_dropped.inc(n)

    def backlogged(self, conn: Connection) -> None:
        self.backlog.add(conn)

    # --- subscriptions -----------------------------------------------------------------------

    def check_capacity(self, key: PollerKey, remote: str = "",
                       conn: Connection | None = None) -> None:
        """Refuse a subscription that would need a new poller beyond the budgets.

        Joining an existing poller costs Prometheus nothing and is always allowed. A new one
        must fit `streams.max_pollers` in all (503), and the pollers charged to one connection,
        or to one client address, must stay within `streams.max_pollers_per_connection` and
        `streams.max_pollers_per_address` (429), so that one reader cannot take them all. A
        poller is charged to whoever started it, even once others share it: otherwise two
        addresses could start pollers for each other and share them free of both budgets.
        """
        if key in self.pollers:
            return
        if len(self.pollers) >= self.config.max_pollers:
            raise Unavailable(f"this bridge already runs {len(self.pollers)} distinct "
                              "subscriptions (streams.max_pollers); reuse an existing one")
        if conn is not None and self._held_by(conn) >= self.config.max_pollers_per_connection:
            raise TooManyRequests(
                f"this connection already holds {self.config.max_pollers_per_connection} "
                "subscriptions no other client shares (streams.max_pollers_per_connection); "
                "reuse one or unsubscribe first")
        if self._held_by_address(remote) >= self.config.max_pollers_per_address:
            raise TooManyRequests(
                f"clients from this address already hold {self.config.max_pollers_per_address} "
                "subscriptions no other address shares (streams.max_pollers_per_address); "
                "close some first")

    def _held_by(self, conn: Connection) -> int:
        """Pollers charged to `conn`."""
        return sum(p.owner is conn for p in self.pollers.values())

    def _held_by_address(self, remote: str) -> int:
        """Pollers charged to connections from `remote`."""
        return sum(p.owner is not None and p.owner.remote == remote
                   for p in self.pollers.values())

    def subscribe(self, conn: Connection, sub_id: str, key: PollerKey, delta: bool = False,
                  ack: Frame | None = None) -> Subscription:
        """Attach `conn` to the poller for `key` (starting it if new), send `ack`, then the
        `down` status if Prometheus is down and `conn` was not told yet, then the poller's last
        frame at once if it has one."""
        self.check_capacity(key, conn.remote, conn)
        poller = self.pollers.get(key)
        if poller is None:
            poller = self.pollers[key] = Poller(self, key)
            poller.start()
            self.metrics.pollers.inc()
        sub = Subscription(conn, sub_id, poller, delta)
        conn.subs[sub_id] = sub
        poller.subs[sub] = None
        poller.delta_subs += delta
        if poller.owner is None:
            poller.owner = conn
        if ack is not None:
            self.send(conn, ack, sub_id)
        self.tell_status(conn)
        if poller.last is not None:
            self.count_sent(METRICS, conn.offer(sub, poller.last, None))
        return sub

    def unsubscribe(self, conn: Connection, sub_id: str) -> bool:
        """End one subscription, announced with an `unsubscribed` frame; False if unknown."""
        sub = conn.subs.get(sub_id)
        if sub is None:
            return False
        self._detach(sub)
        self.send(conn, control(UNSUBSCRIBED), sub_id)
        return True

    def _detach(self, sub: Subscription) -> None:
        conn, poller = sub.conn, sub.poller
        conn.subs.pop(sub.id, None)
        conn.discard(sub)
        if poller.subs.pop(sub, 0) is None:
            poller.delta_subs -= sub.delta
            if poller.owner is conn and not any(s.conn is conn for s in poller.subs):
                poller.owner = next(iter(poller.subs)).conn if poller.subs else None
        if not poller.subs and self.pollers.get(poller.key) is poller:
            del self.pollers[poller.key]
            poller.stop()
            self.metrics.pollers.dec()

    # --- Prometheus status, heartbeat, backlog -----------------------------------------------

    def prometheus_changed(self, up: bool, detail: str = "") -> None:
        """Broadcast a `status` frame on each down/up transition (not for the first 'up')."""
        if up is self.prometheus_up:
            return
        previous, self.prometheus_up = self.prometheus_up, up
        self.status = control(STATUS, prometheus="up" if up else "down",
                              detail=detail or ("Prometheus answers again" if up else ""),
                              timestamp=time.time())
        if previous is None and up:
            return
        log.info("streams: Prometheus %s %s", "up" if up else "down", detail)
        self.broadcast(self.status)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat)
            self.broadcast(control(HEARTBEAT, timestamp=time.time()))

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(FLUSH_PERIOD)
            if self.backlog:
                self.flush_backlog(loop.time())

    def flush_backlog(self, now: float) -> None:
        """Write queued frames to connections that drained; close those stuck too long."""
        for conn in list(self.backlog):
            if conn.flush():
                self.backlog.discard(conn)
            elif conn.stuck_since is not None and now - conn.stuck_since > \
                    self.config.stuck_timeout:
                self.metrics.slow_closed.inc()
                log.info("streams: closing a %s consumer stuck for %.0fs", conn.stream,
                         now - conn.stuck_since)
                conn.close(CLOSE_STUCK, "consumer too slow")
                self.unregister(conn)

    def close_all(self) -> None:
        """Say goodbye (WebSocket close 1001) to every client: the bridge is shutting down."""
        for conn in list(self.connections):
            conn.close(CLOSE_GOING_AWAY, "bridge shutting down")
            self.unregister(conn)


STREAMS_KEY = web.AppKey("streams", StreamHub)


def default_key(config: StreamsConfig, names: list[str]) -> PollerKey:
    """The implicit subscription every new connection gets: all catalog metrics, all instances,
    `streams.interval`."""
    return PollerKey(metrics=tuple(names), interval=config.interval)


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = app[STREAMS_KEY]
    await hub.start()
    try:
        yield
    finally:
        await hub.stop()


def setup(app: web.Application) -> None:
    """Needs `prometheus` and `catalog` set up first (FEATURES order)."""
    config = app[CONFIG_KEY]
    prom, catalog = app[PROMETHEUS_KEY], app[CATALOG_KEY]

    async def fetch(key: PollerKey) -> dict[str, Any]:
        if key.query is not None:
            at = time.time()
            result = await prom.query(key.query, at)
            return {"timestamp": at, "stale": False, "age": 0.0, "query": key.query,
                    "resultType": result.result_type, "result": result.data.get("result"),
                    "warnings": result.warnings}
        return await evaluate(prom, catalog, key.metrics, key.instances)

    hub = StreamHub(config.streams, app[METRICS_KEY], fetch,
                    default_key(config.streams, catalog.names))
    prom.add_listener(lambda st: _on_prometheus(hub, st))
    app[STREAMS_KEY] = hub
    app.cleanup_ctx.append(_hub_ctx)
    app.on_shutdown.append(_close_clients)


def _on_prometheus(hub: StreamHub, st: UpstreamStatus) -> None:
    """Pass Prometheus' up/down transitions seen by other requests on to the streams.

    Any answer means up. Down only counts when a query failed: the bridge's own `/health`
    probe of `/-/ready` fails while Prometheus starts (`make run` starts the bridge first), and
    a stream must not say `down` to clients whose queries have not even been tried.
    """
    if st.up:
        hub.prometheus_changed(True)
    elif st.endpoint in QUERY_ENDPOINTS:
        hub.prometheus_changed(False, str((st.last_error or {}).get("detail", "")))


async def _close_clients(app: web.Application) -> None:
    """Open streams would hold a graceful shutdown until its timeout: close them first."""
    app[STREAMS_KEY].close_all()
