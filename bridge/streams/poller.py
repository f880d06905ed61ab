"""One shared metric poller: the tick that asks Prometheus once for every subscriber.

A `Poller` evaluates one `PollerKey` (query set, instances, interval) per tick, wraps the answer in
one `Frame` (encoded at most once per wire format and subscription id) and offers the same bytes
to each `Subscription`. It lives apart from `StreamHub` (bridge.streams.hub), which owns the
connections, starts a poller with its first subscriber and stops it with its last.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bridge.errors import BridgeError, UpstreamBadData, UpstreamTimeout, UpstreamUnavailable
from bridge.protocol import ERROR, METRICS
from bridge.streams.connection import Connection
from bridge.streams.frames import Frame, SampleIndex, control, delta_body, sample_index
from bridge.streams.subscriptions import PollerKey

log = logging.getLogger("bridge.streams")


class Host(Protocol):
    """What a poller needs of the hub that owns it (bridge.streams.hub.StreamHub): a Protocol, so
    this module does not import the hub that imports it."""

    fetch: Callable[[PollerKey], Awaitable[dict[str, Any]]]

    def prometheus_changed(self, up: bool, detail: str = "") -> None: ...
    def count_sent(self, type_: str, n: int) -> None: ...
    def unsubscribe(self, conn: Connection, sub_id: str) -> bool: ...


class Subscription:
    """One subscription of one connection to one poller (a `connection.Subscriber`)."""

    __slots__ = ("conn", "delta", "id", "needs_full", "poller")

    def __init__(self, conn: Connection, sub_id: str, poller: Poller, delta: bool) -> None:
        self.conn, self.id, self.poller, self.delta = conn, sub_id, poller, delta
        self.needs_full = True  # the first frame, and the one after a drop, is a full snapshot


class Poller:
    """Evaluates one key every interval and fans the frame out to its subscribers."""

    def __init__(self, hub: Host, key: PollerKey) -> None:
        self.hub, self.key = hub, key
        self.subs: dict[Subscription, None] = {}
        self.delta_subs = 0
        # The connection this poller is charged to (its budgets): the one that started it, then,
        # when that one leaves, its oldest remaining subscriber.
        self.owner: Connection | None = None
        self.last: Frame | None = None          # last good frame, for subscribers joining late
        self.previous: SampleIndex | None = None  # last good samples, for delta frames
        self.ticks = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"poller {self.key}")

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.key.interval
        next_tick = loop.time()
        while True:
            await self.tick()
            next_tick += interval
            now = loop.time()
            if next_tick < now:  # a round took longer than the interval: skip missed ticks
                next_tick = now + interval - (now - next_tick) % interval
            await asyncio.sleep(next_tick - now)

    async def tick(self) -> None:
        """One round: fetch, then publish, or tell subscribers what went wrong."""
        self.ticks += 1
        try:
            body = await self.hub.fetch(self.key)
        except (UpstreamUnavailable, UpstreamTimeout) as exc:
            self.last, self.previous = None, None
            self.hub.prometheus_changed(False, exc.detail)
            return
        except BridgeError as exc:
            self._error(exc)
            return
        except Exception:
            log.exception("poller %s failed", self.key)
            return
        self.hub.prometheus_changed(True)
        try:
            self.publish(body)
        except Exception:  # a bug here must not stop the poller for every subscriber
            log.exception("poller %s could not publish", self.key)

    def publish(self, body: dict[str, Any]) -> None:
        """Encode once, offer the same frame to every subscriber; never awaits."""
        full = Frame(METRICS, body)
        delta = None
        if self.delta_subs:
            if self.previous is not None:
                delta = Frame(METRICS, delta_body(self.previous, body))
            self.previous = sample_index(body)
        else:
            self.previous = None
        self.last = full
        sent = 0
        started = time.perf_counter()
        for sub in list(self.subs):
            sent += sub.conn.offer(sub, full, delta)
        self.hub.count_sent(METRICS, sent)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("poller %s: %d of %d frames written in %.1f ms, %.1f ms after the tick",
                      self.key.metrics or self.key.query, sent, len(self.subs),
                      (time.perf_counter() - started) * 1000,
                      (time.time() - body.get("timestamp", 0.0)) * 1000)

    def _error(self, exc: BridgeError) -> None:
        """A query error (bad PromQL, evaluation failure): an error frame per subscription.

        A raw query Prometheus rejects as `bad_data` will never work: its subscriptions end.
        """
        frame = control(ERROR, **exc.body())
        for sub in list(self.subs):
            sub.conn.send_control(frame, sub.id)
            if isinstance(exc, UpstreamBadData):
                self.hub.unsubscribe(sub.conn, sub.id)
