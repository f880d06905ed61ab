"""MetricsWebSocketClient: live metric frames from a bridge that survive everything but `close()`.

It follows `/api/ws/ws`; when the connection drops it reconnects with exponential backoff and
full jitter and re-sends its subscriptions; a silent connection (no frame, no pong) is declared
dead after `heartbeat_timeout`. When the WebSocket keeps failing or is refused (403/404: a proxy
or an Origin check in the way) it polls `GET /api/metrics/current` instead and probes the
WebSocket every `probe_interval` to go back. When nothing answers, the last values stay available
and are marked stale. Every point seen is kept in a bounded per-series buffer.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from bridge.client.buffer import PointBuffer
from bridge.client.common import (
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    IDLE,
    LIVE_STATES,
    POLLING,
    RECONNECTING,
    Frame,
)
from bridge.client.polling import PollError, fetch_current
from bridge.client.reconnect import NETWORK_ERRORS, StreamClient, WebSocketRefused, describe
from bridge.client.snapshots import default_frame, merge_delta, subscription_frame
from bridge.client.updates import Control, MetricsUpdate, to_control, to_update
from bridge.protocol import (
    DEFAULT_ID,
    ERROR,
    METRICS,
    METRICS_WS_PATH,
    STATUS,
    SUBSCRIBE,
    SUBSCRIBED,
    UNSUBSCRIBE,
    UNSUBSCRIBED,
)

log = logging.getLogger("bridge.client.metrics")


class MetricsWebSocketClient(StreamClient):
    """Live `metrics` frames from a promwire bridge (README: "Python client").

    `url` is one base URL or a list (or pass `urls=[...]`): the client rotates through them on
    reconnect (see StreamClient). Options beyond the URLs: `token`, `origin`, `headers`,
    `use_msgpack`; reconnection `backoff_base`/`backoff_cap` (seconds, full jitter);
    `heartbeat_timeout` (seconds of silence that mean a dead link) and `ping_interval`
    (WebSocket pings); `fallback_after` (consecutive
    WebSocket failures before polling), `probe_interval` (seconds between WebSocket probes while
    polling), `poll_interval`; `buffer_size` (points kept per series); `queue_size` (frames
    waiting for a slow `async for`).

    What the callback and `async for` get: by default a `MetricsUpdate` per `metrics` frame
    (flat samples, deltas merged, `value("cpu", instance)`) and no control frames; `typed=False`
    gives every frame as the bridge's raw dict instead. `control` says whether the other frames
    (acks, `status`, `error`, `heartbeat`) are delivered too: by default no for typed updates
    (with `control=True` they come as `Control` objects), yes for raw frames.
    """

    task_name = "promwire-metrics-client"
    ws_path = METRICS_WS_PATH

    def __init__(self, url: str | Sequence[str] | None = None, *,
                 urls: Sequence[str] | None = None, fallback_after: int = 3,
                 probe_interval: float = 30.0, poll_interval: float = 5.0,
                 buffer_size: int = 100, typed: bool = True, control: bool | None = None,
                 **options: Any) -> None:
        super().__init__(**options)
        self.typed = typed
        self.control = not typed if control is None else control
        self._use_bridges(url, urls)
        self.fallback_after = max(1, fallback_after)
        self.probe_interval, self.poll_interval = probe_interval, poll_interval
        self.buffer = PointBuffer(buffer_size)
        self.transport: str | None = None  # "ws" or "poll" while live
        self.prometheus: str | None = None  # from `status` frames: "up" / "down"
        self._snapshots: dict[str, Frame] = {}
        self._subscriptions: dict[str, dict[str, Any]] = {}
        self._acked: set[str] = set()
        self._ids = itertools.count(1)
        self._mode = "ws"
        self._ws_failures = 0
        self._next_probe = 0.0

    # -- public API ------------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        """True while no fresh values can come: no live transport, or the bridge said its
        Prometheus is down (it then sends no `metrics` frames until it is back)."""
        return self.state not in LIVE_STATES or self.prometheus == "down"

    @property
    def subscriptions(self) -> dict[str, dict[str, Any]]:
        """The subscriptions re-sent after every reconnect, by id."""
        return copy.deepcopy(self._subscriptions)

    def snapshot(self, sub_id: str = DEFAULT_ID) -> Frame | None:
        """The last `metrics` frame of a stream; `stale` is forced true (and `age` recomputed)
        while `client.stale`."""
        frame = self._snapshots.get(sub_id)
        if frame is None:
            return None
        frame = copy.deepcopy(frame)
        if self.stale:
            frame["stale"] = True
            timestamp = frame.get("timestamp")
            if isinstance(timestamp, int | float):
                frame["age"] = max(0.0, time.time() - timestamp)
        return frame

    def latest(self, sub_id: str = DEFAULT_ID) -> MetricsUpdate | None:
        """The last values of a stream as a typed `MetricsUpdate` (stale while `client.stale`),
        whatever `typed` is; None before the first frame."""
        frame = self._snapshots.get(sub_id)
        if frame is None:
            return None
        return to_update(self.snapshot(sub_id) or frame, stale=self.stale,
                         transport=self.transport)

    async def subscribe(self, metrics: Sequence[str] = (), *, instances: Sequence[str] = (),
                        interval: float | None = None, delta: bool = False,
                        query: str | None = None, sub_id: str | None = None) -> str:
        """Add a subscription (sent now if connected, and again after every reconnect).

        Returns its id; the bridge answers `subscribed` or an `error` frame with the same id
        (a subscription the bridge rejects is forgotten, so it is not re-sent forever).
        """
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        sub_id = sub_id or f"s{next(self._ids)}"
        message: dict[str, Any] = {"type": SUBSCRIBE, "id": sub_id}
        if metrics:  # none = every catalog metric
            message["metrics"] = metrics
        if instances:
            message["instances"] = [instances] if isinstance(instances, str) else list(instances)
        if interval is not None:
            message["interval"] = interval
        if delta:
            message["delta"] = True
        if query is not None:
            message["query"] = query
        self._subscriptions[sub_id] = message
        self._acked.discard(sub_id)
        await self._send_json(json.dumps(message))
        return sub_id

    async def unsubscribe(self, sub_id: str) -> None:
        self._subscriptions.pop(sub_id, None)
        self._acked.discard(sub_id)
        self._snapshots.pop(sub_id, None)
        await self._send_json(json.dumps({"type": UNSUBSCRIBE, "id": sub_id}))

    # -- the loop --------------------------------------------------------------------------

    def _reset(self) -> None:
        self._mode, self._ws_failures = "ws", 0

    async def _round(self) -> None:
        if self._mode == "ws":
            await self._ws_round()
        else:
            await self._poll_round()

    async def _ws_round(self) -> None:
        """One WebSocket attempt: connect, read until it ends, then decide what comes next."""
        if self.state == IDLE:
            await self._set_state(CONNECTING, self.ws_url)
        elif self.state != RECONNECTING:
            await self._set_state(RECONNECTING, self.ws_url)
        try:
            ws = await self._connect(self.ws_url, "ws")
        except WebSocketRefused as exc:
            self._to_polling(str(exc))
            return
        except NETWORK_ERRORS as exc:
            await self._ws_failed(describe(exc))
            return
        reason, frames = await self._read(ws)
        if self._closing:
            return
        if frames == 0:
            # Accepted, then closed before any frame (e.g. 1013 "too many connections").
            await self._ws_failed(reason)
        else:
            await self._backoff_wait(RECONNECTING, reason)

    async def _ws_failed(self, reason: str) -> None:
        self._ws_failures += 1
        if self._ws_failures >= self.fallback_after:
            self._to_polling(reason)
        else:
            await self._backoff_wait(RECONNECTING, reason)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> tuple[str, int]:
        """Re-send the subscriptions, then deliver frames until the socket ends."""
        self._mode, self.transport = "ws", "ws"
        self._acked.clear()
        self.prometheus = None  # unknown until a `status` frame says otherwise
        await self._set_state(CONNECTED, self.ws_url)
        try:
            for message in list(self._subscriptions.values()):
                await ws.send_str(json.dumps(message))
        except (*NETWORK_ERRORS, RuntimeError) as exc:
            await ws.close()
            return describe(exc), 0
        try:
            reason, frames = await self._pump(ws, self._deliver)
        finally:
            self.transport = None
        if frames:
            self._ws_failures = 0
        return reason, frames

    # -- REST polling ----------------------------------------------------------------------

    def _to_polling(self, reason: str) -> None:
        log.info("WebSocket unavailable (%s): polling %s", reason, self.http_base)
        self._mode = "poll"
        self._next_probe = time.monotonic() + self.probe_interval

    async def _poll_round(self) -> None:
        """Probe the WebSocket when due, otherwise poll the current Snapshot once."""
        if time.monotonic() >= self._next_probe and await self._probe():
            return
        assert self._session is not None
        started = time.monotonic()
        try:
            snapshot = await fetch_current(self._session, self.http_base, self.headers,
                                           self.connect_timeout)
        except PollError as exc:
            self._record("poll", started, str(exc))
            if not exc.reachable:
                self._next_probe = 0.0  # nothing answers: try the WebSocket first next time
            await self._backoff_wait(DISCONNECTED, str(exc))
            return
        self._record("poll", started)
        self._succeeded()
        self.transport = "poll"
        await self._set_state(POLLING, self.http_base)
        try:
            for frame in self._polled_frames(snapshot):
                self.frames_received += 1
                await self._deliver(frame)
            await self._sleeper.sleep(min(self._poll_period(),
                                          self._next_probe - time.monotonic()))
        finally:
            self.transport = None

    async def _probe(self) -> bool:
        """Try the WebSocket once while polling; True when it worked (and has since ended)."""
        self._next_probe = time.monotonic() + self.probe_interval
        try:
            ws = await self._connect(self.ws_url, "probe")
        except (WebSocketRefused, *NETWORK_ERRORS):
            return False
        log.info("WebSocket is back: leaving polling")
        self._ws_failures = 0
        reason, _ = await self._read(ws)
        if not self._closing:
            await self._backoff_wait(RECONNECTING, reason)
        return True

    def _polled_frames(self, snapshot: dict[str, Any]) -> list[Frame]:
        frames = [default_frame(snapshot)] if not self._subscriptions else []
        for sub_id, subscription in self._subscriptions.items():
            frame = subscription_frame(snapshot, sub_id, subscription)
            if frame is not None:
                frames.append(frame)
        return frames

    def _poll_period(self) -> float:
        intervals = [float(s["interval"]) for s in self._subscriptions.values()
                     if isinstance(s.get("interval"), int | float)]
        return min([self.poll_interval, *intervals])

    # -- frames ----------------------------------------------------------------------------

    async def _deliver(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == METRICS:
            sub_id = str(frame.get("id") or DEFAULT_ID)
            full = merge_delta(self._snapshots.get(sub_id), frame) if frame.get("delta") else frame
            self._snapshots[sub_id] = full
            self.buffer.add_snapshot(frame)
        elif kind == STATUS:
            self.prometheus = frame.get("prometheus", self.prometheus)
        elif kind == SUBSCRIBED:
            self._acked.add(str(frame.get("id")))
        elif kind == UNSUBSCRIBED:
            # Also sent when the bridge ends a subscription itself (a raw query Prometheus
            # rejects): forget it so a reconnect does not send it again.
            self._subscriptions.pop(str(frame.get("id")), None)
        elif kind == ERROR:
            sub_id = frame.get("id")
            if sub_id in self._subscriptions and sub_id not in self._acked:
                log.warning("bridge rejected subscription %s: %s", sub_id, frame.get("detail"))
                self._subscriptions.pop(sub_id)
        item = self._outgoing(frame)
        if item is not None:
            await self._emit(item)

    def _outgoing(self, frame: Frame) -> Frame | MetricsUpdate | Control | None:
        """What consumers get for a frame just handled: the raw frame, its typed view, or
        nothing (a control frame nobody asked for)."""
        if frame.get("type") != METRICS:
            if not self.control:
                return None
            return to_control(frame) if self.typed else frame
        if not self.typed:
            return frame
        full = self._snapshots.get(str(frame.get("id") or DEFAULT_ID), frame)
        return to_update(full, stale=self.prometheus == "down", transport=self.transport)
