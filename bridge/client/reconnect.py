"""StreamClient: what both WebSocket clients share — a reconnect loop with backoff, attempt
records, connection state, liveness, callbacks and `async for` / `async with` support.

Subclasses implement `_round()` (one connection attempt and its aftermath) and use `_connect()`,
`_pump()`, `_backoff_wait()` and `_emit()`.

A client may be given several bridges (replicas behind no load balancer, or several load
balancers): each reconnect moves on to the next one, and the backoff delay is slept once per full
rotation that failed, so a dead replica costs a subscriber one short hop, not a backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from bridge.client.backoff import AttemptLog, Backoff
from bridge.client.common import (
    CLOSED,
    DEFAULT_URL,
    IDLE,
    Callback,
    Frame,
    Inbox,
    Sleeper,
    StateCallback,
    auth_headers,
    call,
    decode_binary,
    decode_text,
    endpoints,
)
from bridge.client.polling import describe
from bridge.protocol import MSGPACK_PROTOCOL

log = logging.getLogger("bridge.client")

NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)
MAX_BRIDGES = 64  # base URLs one client rotates through


def bridge_urls(url: str | Sequence[str] | None, urls: Sequence[str] | None) -> list[str]:
    """The base URLs a client was given, in rotation order: `url` (one URL or a list) or
    `urls`, not both; neither means DEFAULT_URL."""
    if url is not None and urls is not None:
        raise ValueError("give url or urls, not both")
    given = url if url is not None else urls
    if given is None:
        return [DEFAULT_URL]
    found = [given] if isinstance(given, str) else list(given)
    if not found or not all(isinstance(u, str) for u in found):
        raise ValueError("expected one bridge URL or a non-empty list of them")
    if len(found) > MAX_BRIDGES:
        raise ValueError(f"at most {MAX_BRIDGES} bridge URLs, got {len(found)}")
    return found


class WebSocketRefused(Exception):
    """The bridge answered the upgrade with an HTTP error (400/401/403/404...): retrying the same
    request will not help. `status` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class StreamClient:
    """Base of MetricsWebSocketClient and AlertsClient (not used directly)."""

    task_name = "promwire-client"
    lossless = False  # whether `async for` may drop frames for a slow loop body

    def __init__(self, *, token: str | None = None, origin: str | None = None,
                 headers: dict[str, str] | None = None, use_msgpack: bool = False,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 heartbeat_timeout: float = 45.0, ping_interval: float | None = 15.0,
                 connect_timeout: float = 10.0, close_timeout: float = 2.0,
                 queue_size: int = 1000,
                 rng: random.Random | None = None) -> None:
        if heartbeat_timeout <= 0 or connect_timeout <= 0:
            raise ValueError("heartbeat_timeout and connect_timeout must be > 0")
        self.token, self.origin = token, origin
        self.headers = auth_headers(token, headers)
        self.use_msgpack = use_msgpack
        self.backoff = Backoff(backoff_base, backoff_cap, rng or random.Random())
        self.heartbeat_timeout, self.ping_interval = heartbeat_timeout, ping_interval
        self.connect_timeout, self.queue_size = connect_timeout, queue_size
        self.close_timeout = close_timeout
        self.attempts = AttemptLog()
        self.state = IDLE
        self.state_detail = ""
        self.frames_received = 0
        self._callback: Callback | None = None
        self._on_state: StateCallback | None = None
        self._inboxes: set[Inbox] = set()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sleeper = Sleeper()
        self._closing = False
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._waited = (0.0, 0.0)
        self._endpoints: list[tuple[str, str]] = [endpoints(DEFAULT_URL, self.ws_path)]
        self._current = 0
        self._hops = 0  # failed attempts in the current rotation

    # -- bridges ---------------------------------------------------------------------------

    ws_path = "/"  # the stream's WebSocket path (set by the subclass)

    def _use_bridges(self, url: str | Sequence[str] | None, urls: Sequence[str] | None) -> None:
        """Resolve every base URL given (raises ValueError for a bad one)."""
        self._endpoints = [endpoints(u, self.ws_path) for u in bridge_urls(url, urls)]
        self._current = 0

    @property
    def bridges(self) -> tuple[str, ...]:
        """The bridges' HTTP base URLs, in rotation order."""
        return tuple(http for _, http in self._endpoints)

    @property
    def http_base(self) -> str:
        """The HTTP base URL of the bridge in use (or tried next)."""
        return self._endpoints[self._current][1]

    @property
    def ws_url(self) -> str:
        """The stream's WebSocket URL on the bridge in use, as given (with any query)."""
        return self._endpoints[self._current][0]

    # -- public API ------------------------------------------------------------------------

    def set_callback(self, callback: Callback | None) -> None:
        """`callback(item)`, sync or async, for every item the client delivers, in order (raw
        frames, or typed updates: see the subclass)."""
        self._callback = callback

    def set_state_callback(self, callback: StateCallback | None) -> None:
        """`callback(state, detail)`, sync or async, on every connection state change."""
        self._on_state = callback

    async def run(self) -> None:
        """Connect and deliver frames until `close()`, reconnecting by itself."""
        if self._running:
            raise RuntimeError("this client is already running")
        self._running, self._closing = True, False
        self._sleeper = Sleeper()
        self.state = IDLE
        self._reset()
        try:
            async with aiohttp.ClientSession() as session:
                self._session = session
                while not self._closing:
                    await self._round()
        finally:
            self._session = None
            self._running = False
            await self._set_state(CLOSED, "closed")
            for inbox in self._inboxes:
                inbox.close()

    def start(self) -> asyncio.Task[None]:
        """Run in a background task (what `async with client:` does)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=self.task_name)
        return self._task

    async def close(self) -> None:
        """Stop: close the socket, cut any wait short, and wait for `run()` to return."""
        self._closing = True
        self._sleeper.wake()
        for inbox in self._inboxes:
            inbox.close()  # frames already in it are still handed out
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None and self._task is not asyncio.current_task():
            await asyncio.gather(self._task, return_exceptions=True)

    async def __aenter__(self) -> StreamClient:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        """Frames as they are delivered. Starts the client when it is not running, and then
        stops it when the iteration ends. If the loop body is slower than the stream, a lossy
        client drops the oldest frames and a lossless one stops reading until there is room."""
        inbox = Inbox(self.queue_size, self.lossless)
        self._inboxes.add(inbox)
        owner = not self._running and (self._task is None or self._task.done())
        task = self.start() if owner else self._task
        try:
            while (frame := await inbox.get()) is not None:
                yield frame
            if owner and task is not None and task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        finally:
            self._inboxes.discard(inbox)
            inbox.close()  # a producer waiting for room in it must not wait forever
            if owner:
                await self.close()

    # -- for subclasses --------------------------------------------------------------------

    def _reset(self) -> None:
        """Called when `run()` starts."""

    async def _round(self) -> None:
        raise NotImplementedError

    async def _connect(self, url: str, transport: str = "ws") -> aiohttp.ClientWebSocketResponse:
        """Open the socket and record the attempt, with the wait that preceded it."""
        assert self._session is not None
        started = time.monotonic()
        try:
            ws = await asyncio.wait_for(self._session.ws_connect(
                url, headers=self.headers, origin=self.origin,
                protocols=(MSGPACK_PROTOCOL,) if self.use_msgpack else (),
                heartbeat=self.ping_interval, max_msg_size=0,
                # A peer that never answers our close must not hold `close()` for long.
                timeout=aiohttp.ClientWSTimeout(ws_close=self.close_timeout)),
                self.connect_timeout)
        except aiohttp.WSServerHandshakeError as exc:
            error = f"WebSocket upgrade refused: {exc.status} {exc.message}"
            self._record(transport, started, error)
            if 400 <= exc.status < 500:
                raise WebSocketRefused(error, exc.status) from None
            raise
        except NETWORK_ERRORS as exc:
            self._record(transport, started, describe(exc))
            raise
        self._record(transport, started)
        return ws

    def _record(self, transport: str, started: float, error: str | None = None) -> None:
        """Log one attempt (failed when `error` is given) with the backoff wait before it."""
        waited, ceiling = self._waited
        self._waited = (0.0, 0.0)
        self.attempts.add(transport, error is None, started, error or "", waited, ceiling,
                          self.http_base)

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse,
                    handle: Callable[[Frame], Awaitable[None]]) -> tuple[str, int]:
        """Hand each decoded frame to `handle` until the socket ends or stays silent for
        `heartbeat_timeout` (the bridge sends heartbeats, so silence means a dead link).
        Returns (why it ended, frames handled). Resets the backoff on the first frame."""
        self._ws = ws
        count = 0
        try:
            while not self._closing:
                try:
                    msg = await ws.receive(timeout=self.heartbeat_timeout)
                except TimeoutError:
                    return f"no frame for {self.heartbeat_timeout:g}s: link presumed dead", count
                if msg.type == aiohttp.WSMsgType.TEXT:
                    frame = decode_text(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    frame = decode_binary(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    return f"WebSocket error: {ws.exception()}", count
                else:  # CLOSE, CLOSING, CLOSED
                    return f"closed by the bridge (code {ws.close_code})", count
                if frame is None:
                    continue
                if count == 0:
                    self._succeeded()  # a socket that delivers is a success
                count += 1
                self.frames_received += 1
                await handle(frame)
            return "closed", count
        except NETWORK_ERRORS as exc:
            return describe(exc), count
        finally:
            self._ws = None
            await ws.close()

    async def _send_json(self, text: str) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            try:
                await ws.send_str(text)
            except (*NETWORK_ERRORS, RuntimeError):
                pass  # the reader notices the drop; subclasses re-send what matters

    def _succeeded(self) -> None:
        """The bridge in use delivers: the backoff and the rotation start over."""
        self.backoff.reset()
        self._hops = 0

    async def _backoff_wait(self, state: str, reason: str) -> None:
        """Move on to the next bridge, enter `state` and wait (cut short by `close()`).

        The backoff delay is slept once every bridge has failed in this rotation; a hop to a
        bridge not yet tried waits only up to `backoff.base`, with full jitter, so the
        subscribers of a dead replica do not all land on the next one at the same instant.
        """
        self._hops += 1
        if self._hops >= len(self._endpoints):
            self._hops = 0
            ceiling = self.backoff.ceiling()
            delay = self.backoff.next_delay()
        else:
            ceiling = self.backoff.base
            delay = self.backoff.rng.uniform(0.0, ceiling)
        self._current = (self._current + 1) % len(self._endpoints)
        self._waited = (delay, ceiling)
        log.debug("%s: %s; next attempt (%s) in %.2fs", state, reason, self.http_base, delay)
        await self._set_state(state, reason)
        await self._sleeper.sleep(delay)

    async def _emit(self, frame: Any) -> None:
        """Deliver one item (a frame or its typed view) to every `async for` and to the
        callback, in order."""
        for inbox in list(self._inboxes):
            await inbox.put(frame)
        await call(self._callback, frame)

    async def _set_state(self, state: str, detail: str) -> None:
        if state == self.state and detail == self.state_detail:
            return
        self.state, self.state_detail = state, detail
        await call(self._on_state, state, detail)
