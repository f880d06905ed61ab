"""Alert stream subscribers cheap enough that 1,000 of them in one process measure the bridge,
not themselves: a minimal RFC 6455 client (handshake, unmasked server text frames) that notes
every event's seq and, when its replica goes away, resumes on another with `since` and `epoch`
as the Python client and the page do."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from typing import Any, cast

WS_PATH = "/api/ws/ws/alerts"
OnText = Callable[["Subscriber", str, float], None]


class Subscriber(asyncio.Protocol):
    """One WebSocket subscription; `seqs` every event seq received, in arrival order."""

    def __init__(self, urls: list[str], home: int, on_text: OnText,
                 since: tuple[int, str] | None = None) -> None:
        self.urls, self.replica, self.on_text = urls, home, on_text
        self.since = since  # (seq, epoch) to resume from; None: start from a snapshot
        self.seqs: list[int] = []
        self.resyncs = 0
        self.reconnects = 0
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closing = False

    async def connect(self) -> None:
        host, port = self.urls[self.replica].removeprefix("http://").split(":")
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.buf.clear()
        self.upgraded = False
        await loop.create_connection(lambda: self, host, int(port))
        await asyncio.wait_for(self.ready, 30)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        key = base64.b64encode(os.urandom(16)).decode()
        host = self.urls[self.replica].removeprefix("http://")
        query = f"?since={self.since[0]}&epoch={self.since[1]}" if self.since else ""
        transport.write((f"GET {WS_PATH}{query} HTTP/1.1\r\nHost: {host}\r\n"
                         f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                         ).encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"lost before ready: {exc}"))
        if not self.closing:
            asyncio.get_running_loop().create_task(self._resume())

    async def _resume(self) -> None:
        """Another replica (the next in the list), from the last seq received."""
        self.reconnects += 1
        for attempt in range(50):
            self.replica = (self.replica + 1) % len(self.urls)
            try:
                await self.connect()
                return
            except (OSError, ConnectionError, TimeoutError):
                await asyncio.sleep(0.1 * (attempt + 1))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 101"):
                raise SystemExit(f"upgrade refused: {bytes(self.buf[:80])!r}")
            del self.buf[:end + 4]
            self.upgraded = True
            if self.since is not None and not self.ready.done():
                self.ready.set_result(None)  # a resume has no opening frame of its own
        while len(self.buf) >= 2:
            n, off = self.buf[1] & 0x7F, 2
            if n == 126:
                if len(self.buf) < 4:
                    return
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    return
                n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
            if len(self.buf) < off + n:
                return
            opcode = self.buf[0] & 0x0F
            payload = bytes(self.buf[off:off + n])
            del self.buf[:off + n]
            if opcode == 0x1:
                self._text(payload.decode(), now)

    def _text(self, text: str, now: float) -> None:
        if text.startswith('{"type":"alert"'):
            seq_end = text.index(",", 22)
            seq = int(text[22:seq_end])
            epoch = text[seq_end + 10:text.index('"', seq_end + 10)]
            self.seqs.append(seq)
            self.since = (seq, epoch)
            self.on_text(self, text, now)
        elif text.startswith('{"type":"snapshot"'):
            if not self.ready.done():
                self.ready.set_result(None)
        elif text.startswith('{"type":"resync"'):
            self.resyncs += 1


async def subscribe(urls: list[str], count: int, on_text: OnText,
                    since: tuple[int, str] | None = None) -> list[Subscriber]:
    """`count` subscribers spread round-robin over the replicas, each one ready."""
    subs = [Subscriber(urls, i % len(urls), on_text, since) for i in range(count)]
    for sub in subs:
        await sub.connect()
    return subs


def sent_at(text: str) -> tuple[float, int] | None:
    """(the poster's timestamp, the index of the replica it posted to) from the annotations the
    bench's notifications carry."""
    start = text.find('"sent":"')
    if start < 0:
        return None
    value = text[start + 8:text.index('"', start + 8)]
    if not value:
        return None
    at, _, via = value.partition("@")
    return float(at), int(via or 0)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def closing(subs: list[Subscriber]) -> Any:
    """A callback closing every subscriber (for an ExitStack)."""
    def close() -> None:
        for sub in subs:
            sub.close()
    return close
