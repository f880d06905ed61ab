"""Per-connection bounded send queues: write now when the socket keeps up, else latest wins.

A WebSocket `Connection` writes already-framed bytes (bridge.frames) straight to its transport,
synchronously, while the transport holds at most `WRITE_LIMIT` unsent bytes: the fan-out loop
never awaits a client. Past that, frames wait in the connection's queue:

- metric frames: at most one per subscription (a newer one replaces the older, counted in
  `frames_dropped`), and at most `streams.send_queue` in all (the oldest is dropped);
- control frames (acks, errors, status, heartbeat): never dropped; a connection that lets more
  than `MAX_CONTROL` of them pile up is treated as stuck.

The hub's flusher retries backlogged connections every few milliseconds and closes one that made
no progress for `streams.stuck_timeout` seconds (WebSocket close 1008). A delta subscriber that
missed a frame gets the next one in full, so its state is never inconsistent.

`SseConnection` queues everything and lets its own request handler task write (an SSE response
is chunked by aiohttp), with the same drop and stuck rules.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bridge.frames import NO_ID, Frame, ws_close_frame

if TYPE_CHECKING:
    from bridge.streams import Poller, StreamHub

WRITE_LIMIT = 64 * 1024  # unsent bytes a transport may hold before frames wait in the queue
MAX_CONTROL = 1000       # unsent control frames before a connection counts as stuck
CLOSE_STUCK = 1008       # policy violation: the consumer does not read
CLOSE_GOING_AWAY = 1001  # the bridge is shutting down


class Subscription:
    """One subscription of one connection to one poller."""

    __slots__ = ("conn", "delta", "id", "needs_full", "poller")

    def __init__(self, conn: Connection, sub_id: str, poller: Poller, delta: bool) -> None:
        self.conn, self.id, self.poller, self.delta = conn, sub_id, poller, delta
        self.needs_full = True  # the first frame, and the one after a drop, is a full snapshot


class Connection:
    """A WebSocket stream client: its subscriptions and its bounded send queue."""

    __slots__ = ("authed", "closed", "control", "explicit", "fmt", "hub", "pending", "remote",
                 "stream", "stuck_since", "subs", "transport")

    def __init__(self, hub: StreamHub, transport: Any, fmt: int, *, stream: str = "metrics",
                 authed: bool = False, remote: str = "") -> None:
        self.hub, self.transport, self.fmt = hub, transport, fmt
        self.stream, self.authed = stream, authed
        self.remote = remote  # the client's address: the unit of the per-address poller budget
        self.subs: dict[str, Subscription] = {}
        self.pending: dict[Subscription, bytes] | None = None  # None while empty: small conns
        self.control: list[tuple[str, bytes]] | None = None
        self.stuck_since: float | None = None
        self.closed = False
        self.explicit = False  # set by the first explicit subscribe (which ends the default)

    def _ready(self) -> bool:
        return (self.pending is None and self.control is None
                and self.transport.get_write_buffer_size() <= WRITE_LIMIT)

    def offer(self, sub: Subscription, full: Frame, delta: Frame | None) -> int:
        """Deliver a metric frame: 1 if written now, 0 if queued (or the connection is gone)."""
        if self.closed or self.transport.is_closing():
            self._gone()
            return 0
        frame = delta if delta is not None and sub.delta and not sub.needs_full else full
        sub.needs_full = False
        data = frame.wire(self.fmt, sub.id)
        if self._ready():
            self.transport.write(data)
            return 1
        self._queue(sub, data, full)
        return 0

    def _queue(self, sub: Subscription, data: bytes, full: Frame) -> None:
        pending = self.pending
        if pending is None:
            pending = self.pending = {}
        dropped = 0
        if pending.pop(sub, None) is not None:
            dropped = 1
            if sub.delta:  # the client never got the delta this one builds on
                data = full.wire(self.fmt, sub.id)
        pending[sub] = data
        if len(pending) > self.hub.config.send_queue:
            oldest = next(iter(pending))
            del pending[oldest]
            oldest.needs_full = True
            dropped += 1
        if dropped:
            self.hub.metrics.frames_dropped.inc(dropped)
        self._backlogged()

    def send_control(self, frame: Frame, sub_id: Any = NO_ID) -> int:
        """Deliver a control frame, never dropped: 1 if written now, 0 if queued."""
        if self.closed or self.transport.is_closing():
            self._gone()
            return 0
        data = frame.wire(self.fmt, sub_id)
        if self._ready():
            self.transport.write(data)
            return 1
        if self.control is None:
            self.control = []
        self.control.append((frame.type, data))
        self._backlogged()
        if len(self.control) > MAX_CONTROL:
            self.stuck_since = -float("inf")  # the flusher closes it (not re-entrantly here)
        return 0

    def discard(self, sub: Subscription) -> None:
        """Forget a queued frame of a subscription that just ended."""
        if self.pending is not None:
            self.pending.pop(sub, None)
            if not self.pending and not self.control:
                self.pending = None

    def _gone(self) -> None:
        """The peer went away: the WebSocket handler notices by itself (its read ends)."""

    def _backlogged(self) -> None:
        if self.stuck_since is None:
            self.stuck_since = asyncio.get_running_loop().time()
        self.hub.backlog.add(self)

    def _take(self) -> list[bytes]:
        """Everything queued, control frames first (acks precede their subscription's data)."""
        parts: list[bytes] = []
        if self.control:
            for type_, data in self.control:
                parts.append(data)
                self.hub.count_sent(type_, 1)
        if self.pending:
            parts.extend(self.pending.values())
            self.hub.count_sent("metrics", len(self.pending))
        self.control = self.pending = None
        self.stuck_since = None
        return parts

    def flush(self) -> bool:
        """Write the queue if the transport drained; True when nothing is left queued."""
        if self.closed or self.transport.is_closing():
            return True
        if self.transport.get_write_buffer_size() > WRITE_LIMIT:
            return False
        parts = self._take()
        if parts:
            self.transport.write(b"".join(parts))
        return True

    def close(self, code: int, reason: str) -> None:
        """Send a close frame after what is already buffered and close; abort the socket if
        even that does not drain within `streams.stuck_timeout` (a stuck peer never reads)."""
        self.closed = True
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(ws_close_frame(code, reason))
        transport.close()
        asyncio.get_running_loop().call_later(max(self.hub.config.stuck_timeout, 1.0),
                                              transport.abort)


class SseConnection(Connection):
    """An SSE client: frames are queued and written by the request's own handler task."""

    __slots__ = ("wake",)

    def __init__(self, hub: StreamHub, transport: Any, fmt: int, *, stream: str = "metrics_sse",
                 authed: bool = False, remote: str = "") -> None:
        super().__init__(hub, transport, fmt, stream=stream, authed=authed, remote=remote)
        self.wake = asyncio.Event()

    def _ready(self) -> bool:
        return False

    def _gone(self) -> None:
        self.wake.set()  # nothing reads an SSE socket: wake the handler so that it ends

    def _backlogged(self) -> None:
        super()._backlogged()
        self.wake.set()

    def flush(self) -> bool:
        return self.closed or (self.pending is None and self.control is None)

    def take(self) -> bytes:
        """What the handler should write next (empty when nothing is queued)."""
        return b"".join(self._take())

    def close(self, code: int, reason: str) -> None:
        """A stuck SSE client is cut off; otherwise the handler ends the response cleanly."""
        self.closed = True
        if code == CLOSE_STUCK:
            self.transport.abort()
        self.wake.set()
