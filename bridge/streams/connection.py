"""The one place that writes stream frames to sockets, with one backpressure rule.

Every stream, metric or alert, WebSocket or SSE, writes through this module. Frames are
pre-encoded bytes shared by every subscriber (bridge.streams.frames, bridge.alerts.wire); a socket
is written at once, synchronously, while its transport holds at most `WRITE_LIMIT` unsent bytes
(`write_now`), so a fan-out loop never awaits a client. What happens past that limit is each
stream's own policy:

A metric stream `Connection` queues frames:

- metric frames: at most one per subscription (a newer one replaces the older, counted in
  `frames_dropped`), and at most `streams.send_queue` in all (the oldest is dropped);
- control frames (acks, errors, status, heartbeat): never dropped; a connection that lets more
  than `MAX_CONTROL` of them pile up is treated as stuck.

The hub's flusher retries backlogged connections every few milliseconds and closes one that made
no progress for `streams.stuck_timeout` seconds (WebSocket close 1008). A delta subscriber that
missed a frame gets the next one in full, so its state is never inconsistent.

`SseConnection` queues everything and lets its own request handler task write (an SSE response
is chunked by aiohttp), with the same drop and stuck rules.

An alert stream queues in its hub subscription instead (it must never drop: it closes an
overflowing subscriber, who resumes from the log) and writes through `WebSocketWriter` or
`SseWriter`: at once while the socket keeps up, otherwise awaited by its own sender task.

A connection knows its owner only through the small `Owner` protocol below (its limits and
counters), not the hub's class: the hub imports this module, never the reverse.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aiohttp import WSMsgType, web
from aiohttp_sse import EventSourceResponse

from bridge.config import StreamsConfig
from bridge.protocol import CLOSE_POLICY, METRICS
from bridge.streams.frames import NO_ID, Frame, ws_close_frame
from bridge.tokens import Principal

WRITE_LIMIT = 64 * 1024  # unsent bytes a transport may hold before frames wait in the queue
MAX_CONTROL = 1000       # unsent control frames before a connection counts as stuck
CLOSE_STUCK = CLOSE_POLICY  # the consumer does not read


def write_now(transport: Any, data: bytes) -> bool:
    """Write `data` at once if the socket keeps up (at most WRITE_LIMIT unsent bytes); False,
    writing nothing, when it is closing or backed up."""
    if transport is None or transport.is_closing() \
            or transport.get_write_buffer_size() > WRITE_LIMIT:
        return False
    transport.write(data)
    return True


class Subscriber(Protocol):
    """What a connection needs of a subscription: its id, whether it takes deltas, and whether
    its next frame must be a full one (the first, and the one after a drop)."""

    id: str
    delta: bool
    needs_full: bool


class Owner(Protocol):
    """What a connection needs of whoever fans frames out to it (the stream hub)."""

    config: StreamsConfig

    def backlogged(self, conn: Connection) -> None:
        """`conn` holds queued frames: flush it later."""

    def count_sent(self, type_: str, n: int) -> None:
        """`n` frames of `type_` went out."""

    def count_dropped(self, n: int) -> None:
        """`n` metric frames were replaced by newer ones."""


class Connection:
    """A WebSocket stream client: its subscriptions and its bounded send queue."""

    __slots__ = ("closed", "control", "explicit", "fmt", "hub", "pending", "principal",
                 "remote", "status", "stream", "stuck_since", "subs", "transport")

    def __init__(self, hub: Owner, transport: Any, fmt: int, *, stream: str = "metrics",
                 principal: Principal | None = None, remote: str = "") -> None:
        self.hub, self.transport, self.fmt = hub, transport, fmt
        # Whose token the connection carried at connect (raw subscriptions need `admin`).
        self.stream, self.principal = stream, principal
        self.remote = remote  # the client's address: the unit of the per-address poller budget
        self.subs: dict[str, Any] = {}  # id -> the owner's subscription (a Subscriber)
        self.pending: dict[Subscriber, bytes] | None = None  # None while empty: small conns
        self.control: list[tuple[str, bytes]] | None = None
        self.stuck_since: float | None = None
        self.closed = False
        self.explicit = False  # set by the first explicit subscribe (which ends the default)
        self.status: Any = None  # the last Prometheus `status` frame sent here (the owner's)

    def _write(self, data: bytes) -> bool:
        """Write at once unless frames are already queued (they go first) or the socket lags."""
        return self.pending is None and self.control is None and write_now(self.transport, data)

    def offer(self, sub: Subscriber, full: Frame, delta: Frame | None) -> int:
        """Deliver a metric frame: 1 if written now, 0 if queued (or the connection is gone)."""
        if self.closed or self.transport.is_closing():
            self._gone()
            return 0
        frame = delta if delta is not None and sub.delta and not sub.needs_full else full
        sub.needs_full = False
        data = frame.wire(self.fmt, sub.id)
        if self._write(data):
            return 1
        self._queue(sub, data, full)
        return 0

    def _queue(self, sub: Subscriber, data: bytes, full: Frame) -> None:
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
            self.hub.count_dropped(dropped)
        self._backlogged()

    def send_control(self, frame: Frame, sub_id: Any = NO_ID) -> int:
        """Deliver a control frame, never dropped: 1 if written now, 0 if queued."""
        if self.closed or self.transport.is_closing():
            self._gone()
            return 0
        data = frame.wire(self.fmt, sub_id)
        if self._write(data):
            return 1
        if self.control is None:
            self.control = []
        self.control.append((frame.type, data))
        self._backlogged()
        if len(self.control) > MAX_CONTROL:
            self.stuck_since = -float("inf")  # the flusher closes it (not re-entrantly here)
        return 0

    def discard(self, sub: Subscriber) -> None:
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
        self.hub.backlogged(self)

    def _take(self) -> list[bytes]:
        """Everything queued, control frames first (acks precede their subscription's data)."""
        parts: list[bytes] = []
        if self.control:
            for type_, data in self.control:
                parts.append(data)
                self.hub.count_sent(type_, 1)
        if self.pending:
            parts.extend(self.pending.values())
            self.hub.count_sent(METRICS, len(self.pending))
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

    def __init__(self, hub: Owner, transport: Any, fmt: int, *, stream: str = "metrics_sse",
                 principal: Principal | None = None, remote: str = "") -> None:
        super().__init__(hub, transport, fmt, stream=stream, principal=principal,
                         remote=remote)
        self.wake = asyncio.Event()

    def _write(self, data: bytes) -> bool:
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

    async def write_to(self, resp: EventSourceResponse) -> None:
        """The request handler's loop: write what is queued whenever something is, until the
        connection is closed or the peer went away."""
        while not self.closed and not self.transport.is_closing():
            await self.wake.wait()
            self.wake.clear()
            data = self.take()
            if data:
                await resp.write(data)


# --- alert streams ---------------------------------------------------------------------------

CLOSE_TIMEOUT = 5.0  # seconds a polite WebSocket close may take before the socket is cut


class Encoded(Protocol):
    """A frame whose complete WebSocket bytes are built once and shared (bridge.alerts.wire)."""

    @property
    def ws(self) -> bytes: ...


class WebSocketWriter:
    """An alert stream's WebSocket: shared frame bytes written at once while it keeps up
    (`offer`, no task switch per subscriber), otherwise sent by its sender task."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.request, self.ws = request, ws

    def offer(self, frame: Encoded) -> bool:
        """Write the frame's WebSocket bytes now; False (nothing written) if the socket lags."""
        return not self.ws.closed and write_now(self.request.transport, frame.ws)

    async def send_text(self, payload: bytes) -> None:
        """Send `payload` as one text frame, waiting for the socket."""
        await self.ws.send_frame(payload, WSMsgType.TEXT)

    async def close(self, code: int, message: str) -> None:
        await close_websocket(self.request, self.ws, code, message)


class SseWriter:
    """An alert stream's SSE response: each event awaited, for at most `timeout` seconds."""

    def __init__(self, resp: EventSourceResponse, timeout: float) -> None:
        self.resp, self.timeout = resp, timeout

    async def send(self, data: bytes) -> None:
        async with asyncio.timeout(self.timeout):
            await self.resp.write(data)


async def close_websocket(request: web.Request, ws: web.WebSocketResponse, code: int,
                          message: str) -> None:
    """Close politely, or abort the connection when the peer does not read any more."""
    try:
        await asyncio.wait_for(ws.close(code=code, message=message.encode()), CLOSE_TIMEOUT)
    except (TimeoutError, ConnectionError):
        if request.transport is not None:
            request.transport.abort()
