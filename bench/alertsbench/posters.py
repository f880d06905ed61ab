"""Webhook posters cheap enough that 32 of them in one process measure the bridge, not
themselves: each keeps one HTTP/1.1 connection alive (as Alertmanager does) and posts the next
notification once the previous one's answer has fully arrived. An answer other than 200 ends
the run, as a lost notification would make the figure a lie."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from alertsbench.procs import TOKEN

WEBHOOK = "/api/alerts/webhook"


def request(host: str, body: bytes) -> bytes:
    """One webhook POST, with the bench's token."""
    return (f"POST {WEBHOOK} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


class Poster(asyncio.Protocol):
    """One connection posting `next_body()` until it returns None; `done` counts the 200s."""

    def __init__(self, host: str, next_body: Callable[[], bytes | None]) -> None:
        self.host, self.next_body = host, next_body
        self.done = 0
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._send()

    def _send(self) -> None:
        body = self.next_body()
        if body is None:
            self._finish(None)
        else:
            assert self.transport is not None
            self.transport.write(request(self.host, body))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buf[:end]).lower()
            length = _content_length(head)
            if len(self.buf) < end + 4 + length:
                return
            answer = bytes(self.buf[end + 4:end + 4 + length])
            del self.buf[:end + 4 + length]
            if not head.startswith(b"http/1.1 200"):
                self._finish(SystemExit(f"webhook answered {head[:12]!r}: {answer[:200]!r}"))
                return
            self.done += 1
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(ConnectionError(f"webhook connection lost: {exc}"))

    def _finish(self, error: BaseException | None) -> None:
        if self.finished.done():
            return
        if error is None:
            self.finished.set_result(None)
        else:
            self.finished.set_exception(error)
        if self.transport is not None:
            self.transport.close()


def _content_length(head: bytes) -> int:
    start = head.find(b"content-length:")
    if start < 0:
        raise SystemExit(f"an answer without Content-Length: {head[:200]!r}")
    return int(head[start + 15:].split(b"\r\n", 1)[0].strip())


async def post_all(url: str, clients: int, next_body: Callable[[], bytes | None]) -> int:
    """`clients` posters on `url` until `next_body()` returns None: the 200s they received."""
    host = url.removeprefix("http://")
    name, port = host.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    posters = []
    for _ in range(clients):
        _, poster = await loop.create_connection(lambda: Poster(host, next_body), name,
                                                 int(port))
        posters.append(poster)
    await asyncio.gather(*(p.finished for p in posters))
    return sum(p.done for p in posters)
