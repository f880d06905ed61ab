"""Plumbing shared by the async clients: endpoint URLs, frame decoding, callbacks, inboxes.

The only server module the client imports is `bridge.protocol` (the wire contract: paths,
subprotocol, ids, close codes), and never `aiohttp.web`: the client is for consumers who install
promwire only to talk to a bridge.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bridge.protocol import ALERTS_WS_PATH, CURRENT_PATH, METRICS_WS_PATH

log = logging.getLogger("bridge.client")

DEFAULT_URL = "http://127.0.0.1:8000"

# Paths a user may paste instead of the base URL; stripped to find the bridge's base.
_KNOWN_SUFFIXES = (ALERTS_WS_PATH, METRICS_WS_PATH, CURRENT_PATH)

Frame = dict[str, Any]
Callback = Callable[[Any], Any]  # gets a Frame, or a typed view (bridge.client.updates)
StateCallback = Callable[[str, str], Any]

# Connection states, as `client.state` and the state callback report them.
IDLE = "idle"
CONNECTING = "connecting"
CONNECTED = "connected"      # live on the WebSocket
POLLING = "polling"          # WebSocket refused or failing: REST polling works
RECONNECTING = "reconnecting"  # lost the WebSocket, trying again; values are stale meanwhile
DISCONNECTED = "disconnected"  # nothing answers: last values kept, marked stale
CLOSED = "closed"
LIVE_STATES = (CONNECTED, POLLING)


def endpoints(url: str, ws_path: str) -> tuple[str, str]:
    """(WebSocket URL for `ws_path`, HTTP base URL) from a base, http(s) or ws(s) URL.

    `http://host:8000`, `ws://host:8000/api/ws/ws` and `http://host:8000/prefix/` all work: a
    known endpoint path is stripped to find the base, which keeps any path prefix (a bridge behind
    a reverse proxy).
    """
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss"):
        raise ValueError(f"expected an http(s) or ws(s) URL, got {url!r}")
    if not parts.netloc:
        raise ValueError(f"no host in {url!r}")
    secure = scheme in ("https", "wss")
    path = parts.path.rstrip("/")
    for suffix in _KNOWN_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    http_base = urlunsplit(("https" if secure else "http", parts.netloc, path, "", ""))
    ws_url = urlunsplit(("wss" if secure else "ws", parts.netloc, path + ws_path, parts.query, ""))
    return ws_url, http_base


def auth_headers(token: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = dict(extra or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def decode_text(data: str) -> Frame | None:
    """A JSON text frame as a dict, or None (logged) when it is not a JSON object."""
    try:
        frame = json.loads(data)
    except ValueError:
        log.warning("ignoring a frame that is not JSON: %.80r", data)
        return None
    return frame if isinstance(frame, dict) else None


def decode_binary(data: bytes) -> Frame | None:
    """A msgpack binary frame as a dict, or None (logged) when it cannot be decoded."""
    import msgpack  # only clients that ask for msgpack need it

    try:
        frame = msgpack.unpackb(data, raw=False)
    except Exception:  # msgpack raises several unrelated types for garbage
        log.warning("ignoring a binary frame that is not msgpack (%d bytes)", len(data))
        return None
    return frame if isinstance(frame, dict) else None


async def call(callback: Callable[..., Any] | None, *args: Any) -> None:
    """Call a sync or async callback; its exceptions are logged, never break the connection."""
    if callback is None:
        return
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("callback %r failed", callback)


class Inbox:
    """Frames waiting for one `async for` consumer, at most `maxlen`.

    Lossy (metrics: the latest value wins) drops the oldest frame when full. Lossless (alert
    events, which must each arrive once) makes the producer wait for room instead: the client
    stops reading, and the bridge's own flow control takes over (its overflow close is followed
    by a resume from the last delivered seq).
    """

    def __init__(self, maxlen: int, lossless: bool = False) -> None:
        self.maxlen, self.lossless = max(1, maxlen), lossless
        self._frames: deque[Any] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._closed = False
        self.dropped = 0

    async def put(self, frame: Any) -> None:
        while len(self._frames) >= self.maxlen and not self._closed:
            if not self.lossless:
                self._frames.popleft()
                self.dropped += 1
                break
            self._room.clear()
            await self._room.wait()
        self._frames.append(frame)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()
        self._room.set()

    async def get(self) -> Any:
        """The next frame, or None once closed and drained."""
        while not self._frames:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        self._room.set()
        return self._frames.popleft()


class Sleeper:
    """Waits that `close()` cuts short, so a client stops at once even mid-backoff."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    def wake(self) -> None:
        self._wake.set()
