"""Raw bytes to a real server and back: for requests no HTTP client will send (undecodable
header bytes, conflicting framing, garbage after a WebSocket upgrade), and for checking exactly
what came back on the wire (a second status line after a 101 would be invisible to a client
library)."""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

WS_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
WS_HEADERS = (b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              b"Sec-WebSocket-Key: " + WS_KEY + b"\r\n")
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING = 0x1, 0x2, 0x8, 0x9


@dataclass
class Reply:
    """One answer as it came off the socket: status line, headers, body, and whatever
    followed (WebSocket frames after a 101)."""

    raw: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    frames: list[tuple[int, bytes]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def close_code(self) -> int | None:
        """The code of the server's close frame, None when it sent none."""
        for op, payload in self.frames:
            if op == OP_CLOSE:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        return None

    def text_frames(self) -> list[Any]:
        return [json.loads(p) for op, p in self.frames if op == OP_TEXT]


def http_request(method: str, target: str, headers: bytes = b"", body: bytes = b"") -> bytes:
    """A request in bytes. `headers` are raw lines (each ending CRLF), sent as they are."""
    length = b"Content-Length: %d\r\n" % len(body) if body else b""
    return (method.encode() + b" " + target.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + headers + length + b"\r\n" + body)


def upgrade(target: str, headers: bytes = b"", ws_headers: bytes = WS_HEADERS) -> bytes:
    """A WebSocket upgrade request for `target` with extra raw header lines."""
    return http_request("GET", target, headers + ws_headers)


def ws_frame(opcode: int, payload: bytes, *, mask: bool = True, fin: bool = True) -> bytes:
    """A client frame: masked (as RFC 6455 requires of clients) unless `mask=False`."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def exchange(port: int, data: bytes, *, after_upgrade: bytes = b"", timeout: float = 5.0,
             until_close: bool = True) -> Reply:
    """Send `data`, read the answer; after a 101 send `after_upgrade` and read frames until the
    server's close frame (or its EOF, or `timeout`). `until_close=False` stops at the first
    text frame after a 101."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        raw = b""
        reply = Reply(raw)
        sent_after = False
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            raw += chunk
            reply = parse(raw)
            if reply.status and reply.status != 101 and _complete(reply):
                break
            if reply.status == 101:
                if after_upgrade and not sent_after:
                    sent_after = True
                    try:
                        sock.sendall(after_upgrade)
                    except OSError:
                        pass
                if reply.close_code is not None:
                    break
                if not until_close and any(op == OP_TEXT for op, _ in reply.frames):
                    break
        return parse(raw)


def _complete(reply: Reply) -> bool:
    length = reply.headers.get("content-length")
    return length is not None and len(reply.body) >= int(length)


def parse(raw: bytes) -> Reply:
    """Split `raw` into status, headers, body (by Content-Length) or, after a 101, frames."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return Reply(raw)
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if status == 101:
        return Reply(raw, status, headers, b"", _frames(rest))
    length = headers.get("content-length")
    body = rest[:int(length)] if length is not None and length.isdigit() else rest
    return Reply(raw, status, headers, body)


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """Server frames (unmasked) in `data`; a trailing partial frame is left out."""
    frames, i = [], 0
    while i + 2 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            if i + 2 > len(data):
                break
            n, i = struct.unpack("!H", data[i:i + 2])[0], i + 2
        elif n == 127:
            if i + 8 > len(data):
                break
            n, i = struct.unpack("!Q", data[i:i + 8])[0], i + 8
        if i + n > len(data):
            break
        frames.append((op, data[i:i + n]))
        i += n
    return frames
