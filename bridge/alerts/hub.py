"""Live fan-out of committed alert events, and the live view of what is firing.

`publish` runs on the loop right after a commit, in seq order. Each event's frame was encoded
once (in the writer thread); the hub only evaluates each distinct filter once per event and
appends the same object to the matching subscribers' bounded queues, so a slow subscriber costs
the webhook nothing. A subscriber whose queue is full is closed, never skipped: it reconnects
with `since`/`epoch` and the log replays what it missed. Backfilled events (source
"prometheus") are history only: they advance `last_seq` but change neither the view nor any
stream (`bridge.alerts.episodes`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bridge.alerts.episodes import SOURCE as BACKFILLED
from bridge.alerts.matchers import Matcher
from bridge.alerts.model import format_time, now_ms
from bridge.alerts.selection import Selection, selection_of
from bridge.alerts.silences import SilenceEvent
from bridge.alerts.store import Event, Opened
from bridge.alerts.wire import Frame
from bridge.errors import Unavailable
from bridge.jsonenc import dumps
from bridge.protocol import HEARTBEAT, SNAPSHOT, STATUS
from bridge.selfmetrics import BridgeMetrics

log = logging.getLogger("bridge.alerts.hub")

# Deliveries (event x subscriber) per loop iteration when fanning out a big batch.
FANOUT_SLICE = 5000

Item = Event | SilenceEvent | Frame
# Alerts as answered (REST, snapshots) from alerts as stored: adds what is known at answer
# time (the `ack` of each, from the silences the bridge knows).
Decorate = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


class SubscriptionClosed(Exception):
    """The hub closed this subscription; `reason` says why (overflow, shutdown, epoch_changed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Subscription:
    """A bounded queue of frames for one subscriber, filled by the hub, drained by its sender.

    Fast path: once live, while nothing is queued or being sent, `direct(item)` may write the
    item's shared wire bytes straight to the socket (no task switch per subscriber); it returns
    False when the socket is backed up, and the item is queued instead, keeping the order.
    """

    def __init__(self, selection: Selection, limit: int) -> None:
        self.selection = selection
        self.key = selection.key
        self.limit = limit
        self.closed: str | None = None
        self.live = False  # heartbeats and the fast path only once the opening frames are out
        self.direct: Callable[[Item], bool] | None = None
        self.sending = False  # the sender holds items taken from the queue
        self._queue: deque[Item] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._on_close: list[Callable[[str], None]] = []

    def push(self, item: Item) -> None:
        if self.closed is not None:
            return
        if (self.live and self.direct is not None and not self._queue and not self.sending
                and self.direct(item)):
            return
        if len(self._queue) >= self.limit:
            log.info("closing an alert subscriber that fell %d frames behind", self.limit)
            self.close("overflow")
            return
        self._queue.append(item)
        self._wake()

    @property
    def idle(self) -> bool:
        return not self._queue

    def on_close(self, callback: Callable[[str], None]) -> None:
        self._on_close.append(callback)

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            self._queue.clear()
            self._wake()
            for callback in self._on_close:
                callback(reason)

    async def get(self) -> list[Item]:
        """Everything queued (at least one item); SubscriptionClosed once closed."""
        self.sending = False  # the caller is done with the previous batch
        while not self._queue:
            if self.closed is not None:
                raise SubscriptionClosed(self.closed)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.closed is not None:
            raise SubscriptionClosed(self.closed)
        items = list(self._queue)
        self._queue.clear()
        self.sending = True
        return items

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


@dataclass
class _Group:
    """Subscribers sharing one selection: it is evaluated once per event for all of them."""

    selection: Selection
    subs: set[Subscription] = field(default_factory=set)


class AlertHub:
    """Current firing alerts, the last seq, and the live subscribers."""

    def __init__(self, metrics: BridgeMetrics, *, heartbeat: float, queue_limit: int,
                 max_subscribers: int) -> None:
        self.metrics = metrics
        self.heartbeat = heartbeat
        self.queue_limit = queue_limit
        self.max_subscribers = max_subscribers
        self.epoch = ""
        self.last_seq = 0
        # Firing alerts by (cluster, fingerprint).
        self.firing: dict[tuple[str, str], dict[str, Any]] = {}
        self._groups: dict[str, _Group] = {}
        self._count = 0
        self._snapshots: dict[str, str] = {}
        self._backlog: deque[Event | SilenceEvent] = deque()
        self.decorate: Decorate | None = None
        self._draining = False
        # The `status` frame saying the store is unreachable, while it is (None: reachable).
        self.store_down: Frame | None = None

    def load(self, opened: Opened) -> None:
        self.epoch, self.last_seq = opened.epoch, opened.last_seq
        self.firing = {(a["cluster"], a["fingerprint"]): a for a in opened.firing}
        self._snapshots.clear()

    # --- events ----------------------------------------------------------------------------

    def publish(self, events: list[Event | SilenceEvent]) -> None:
        """Apply committed events to the live view and queue them for subscribers, in order.

        A big batch (a reconciliation after downtime, many subscribers) is fanned out in
        slices of about FANOUT_SLICE deliveries, yielding to the loop in between; each event is
        applied to the live view together with its fan-out, so a subscriber that joins between
        slices sees a snapshot and then exactly the events after it.
        """
        self._backlog.extend(events)
        if not self._draining:
            self._drain()

    def _drain(self) -> None:
        budget = FANOUT_SLICE
        while self._backlog and budget > 0:
            event = self._backlog.popleft()
            self.last_seq = event.seq
            self.epoch = event.epoch
            if isinstance(event, SilenceEvent):  # no labels: by cluster only
                budget -= 1 + self._push_silence(event)
                continue
            self.metrics.alert_events.labels(event.source).inc()
            budget -= 1
            if event.source == BACKFILLED:  # history, not a change: not in the view or streams
                continue
            if event.alert["status"] == "firing":
                self.firing[event.key] = event.alert
            else:
                self.firing.pop(event.key, None)
            for group in list(self._groups.values()):
                if group.selection.wants(event.kind, event.alert):
                    budget -= len(group.subs)
                    for sub in list(group.subs):
                        sub.push(event)
        self._snapshots.clear()
        self._draining = bool(self._backlog)
        if self._draining:
            asyncio.get_running_loop().call_soon(self._drain)

    def _push_silence(self, event: SilenceEvent) -> int:
        """To every subscriber of the silence's cluster (or of all clusters)."""
        count = 0
        for group in list(self._groups.values()):
            if not group.selection.wants_silence(event.silence):
                continue
            count += len(group.subs)
            for sub in list(group.subs):
                sub.push(event)
        return count

    def reset(self, epoch: str) -> None:
        """The log was reset: every subscriber must resync, so close them all."""
        self.epoch = epoch
        self.firing.clear()
        self._backlog.clear()  # events of the discarded log
        self._snapshots.clear()
        self.close_all("epoch_changed")

    def store_status(self, reason: str | None) -> None:
        """The store became unreachable (`reason`) or reachable again (None): each live
        subscriber gets a `status` frame and stays connected (events resume, in order, when
        the store is back); one that opens meanwhile gets the down frame after its opening."""
        if (reason is None) == (self.store_down is None):
            return
        text = dumps({"type": STATUS, "store": "down" if reason else "up",
                      "detail": reason or "the alert store answers again",
                      "timestamp": format_time(now_ms())})
        frame = Frame(STATUS, text)
        self.store_down = frame if reason else None
        log.log(logging.WARNING if reason else logging.INFO, "alert store %s: %s",
                "down" if reason else "up", reason or "reachable")
        for group in list(self._groups.values()):
            for sub in list(group.subs):
                if sub.live:
                    sub.push(frame)

    # --- subscribers -----------------------------------------------------------------------

    @property
    def subscribers(self) -> int:
        return self._count

    def check_capacity(self) -> None:
        if self._count >= self.max_subscribers:
            raise Unavailable(f"too many alert subscribers (limit {self.max_subscribers})")

    def subscribe(self, selection: Selection | tuple[Matcher, ...]) -> Subscription:
        self.check_capacity()
        sub = Subscription(selection_of(selection), self.queue_limit)
        group = self._groups.get(sub.key)
        if group is None:
            group = self._groups[sub.key] = _Group(sub.selection)
        group.subs.add(sub)
        self._count += 1
        self.metrics.alert_subscribers.set(self._count)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        group = self._groups.get(sub.key)
        if group is None or sub not in group.subs:
            return
        group.subs.discard(sub)
        if not group.subs:
            del self._groups[sub.key]
        self._count -= 1
        self.metrics.alert_subscribers.set(self._count)

    def close_all(self, reason: str) -> None:
        for group in list(self._groups.values()):
            for sub in list(group.subs):
                sub.close(reason)

    # --- frames ----------------------------------------------------------------------------

    def current(self, selection: Selection | tuple[Matcher, ...]) -> list[dict[str, Any]]:
        """The firing alerts `selection` lists, oldest first (with their acks, when the silences
        feature decorates them)."""
        chosen = selection_of(selection)
        alerts = [a for a in self.firing.values() if chosen.lists(a)]
        alerts.sort(key=lambda a: (a["startsAt"], a["cluster"], a["fingerprint"]))
        return self.decorate(alerts) if self.decorate is not None else alerts

    def snapshot(self, selection: Selection | tuple[Matcher, ...]) -> Frame:
        """The snapshot frame at this instant; cached per selection until the next event."""
        chosen = selection_of(selection)
        key = chosen.key
        text = self._snapshots.get(key)
        if text is None:
            text = dumps({"type": SNAPSHOT, "epoch": self.epoch, "seq": self.last_seq,
                          "alerts": self.current(chosen)})
            self._snapshots[key] = text
        return Frame(SNAPSHOT, text, self.last_seq, f"{self.epoch}:{self.last_seq}")

    def heartbeat_frame(self) -> Frame:
        text = dumps({"type": HEARTBEAT, "timestamp": format_time(now_ms()),
                      "seq": self.last_seq})
        return Frame(HEARTBEAT, text, self.last_seq, f"{self.epoch}:{self.last_seq}")

    async def run_heartbeats(self) -> None:
        """Every `heartbeat` seconds one shared frame to each idle live subscriber. Its seq is a
        valid resume point: every earlier event this subscriber's filter wants is ahead of it."""
        while True:
            await asyncio.sleep(self.heartbeat)
            frame = self.heartbeat_frame()
            for group in list(self._groups.values()):
                for sub in group.subs:
                    if sub.live and sub.idle:
                        sub.push(frame)


HUB_KEY = web.AppKey("alert_hub", AlertHub)
