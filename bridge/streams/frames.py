"""Stream frames, encoded once and shared by every subscriber.

A `Frame` holds one frame's content (its `type` and body). Its wire bytes — a complete WebSocket
text frame (JSON), a complete WebSocket binary frame (msgpack), or an SSE event — are built
lazily, once per (format, subscription id), and the same `bytes` object is handed to every
subscriber that shares that format and id. The body is serialised only once per format; a
different subscription id costs one small splice, not a re-encoding. Server-to-client WebSocket
frames are never masked and we never compress, so a frame's bytes do not depend on the socket.

`delta_body` turns two consecutive snapshots into a delta body (only changed samples).
"""

from __future__ import annotations

import json
import struct
from typing import Any

import msgpack

from bridge.jsonenc import dumps, finite
from bridge.protocol import SampleKey, sample_key

# Wire formats.
WS_JSON, WS_MSGPACK, SSE = 0, 1, 2
FORMAT_NAMES = {"json": WS_JSON, "msgpack": WS_MSGPACK}

NO_ID: Any = object()  # frames without an "id" key (status, heartbeat)

_OP_TEXT, _OP_BINARY, _OP_CLOSE = 0x1, 0x2, 0x8
_packer = msgpack.Packer()


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """A complete unmasked, uncompressed, final WebSocket frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def ws_close_frame(code: int, reason: str) -> bytes:
    """A WebSocket close frame, written straight to a transport that may never drain."""
    return ws_frame(_OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120])


class Frame:
    """One frame's content; `wire(fmt, sub_id)` gives its bytes, built at most once each."""

    __slots__ = ("_json", "_packed", "_wire", "body", "type")

    def __init__(self, type_: str, body: dict[str, Any]) -> None:
        self.type = type_
        self.body = body
        self._json: str | None = None
        self._packed: bytes | None = None
        self._wire: dict[tuple[int, Any], bytes] = {}

    def wire(self, fmt: int, sub_id: Any = NO_ID) -> bytes:
        key = (fmt, sub_id)
        data = self._wire.get(key)
        if data is None:
            data = self._wire[key] = self._encode(fmt, sub_id)
        return data

    def text(self, sub_id: Any = NO_ID) -> str:
        """The frame as one JSON document (what WebSocket text frames and SSE `data:` carry)."""
        if self._json is None:
            self._json = dumps(self.body)
        head = '{"type":' + json.dumps(self.type)
        if sub_id is not NO_ID:
            head += ',"id":' + json.dumps(sub_id)
        return head + ("," + self._json[1:] if self.body else "}")

    def packed(self, sub_id: Any = NO_ID) -> bytes:
        if self._packed is None:
            self._packed = b"".join(_packer.pack(k) + _packer.pack(v)
                                    for k, v in finite(self.body).items())
        extra = 1 if sub_id is NO_ID else 2
        head = _packer.pack_map_header(len(self.body) + extra)
        head += _packer.pack("type") + _packer.pack(self.type)
        if sub_id is not NO_ID:
            head += _packer.pack("id") + _packer.pack(sub_id)
        return head + self._packed

    def _encode(self, fmt: int, sub_id: Any) -> bytes:
        if fmt == WS_JSON:
            return ws_frame(_OP_TEXT, self.text(sub_id).encode())
        if fmt == WS_MSGPACK:
            return ws_frame(_OP_BINARY, self.packed(sub_id))
        return f"event: {self.type}\ndata: {self.text(sub_id)}\n\n".encode()


def control(type_: str, **body: Any) -> Frame:
    """A control frame (ack, error, status, heartbeat); its id, if any, is given to `wire`."""
    return Frame(type_, body)


# --- deltas -------------------------------------------------------------------------------

SampleIndex = dict[SampleKey, Any]


def sample_index(snapshot: dict[str, Any]) -> SampleIndex:
    """Every sample of a snapshot keyed by (metric, instance, labels) -> value."""
    index: SampleIndex = {}
    for name, metric in (snapshot.get("metrics") or {}).items():
        for s in metric.get("samples") or ():
            index[sample_key(name, s)] = finite(s.get("value"))
    return index


def delta_body(previous: SampleIndex, snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot with only the samples whose value changed since `previous`.

    Series that disappeared are listed per metric under `removed` as {"instance", "labels"};
    metrics with nothing changed are left out. Everything else (timestamp, errors...) is kept.
    """
    metrics: dict[str, Any] = {}
    seen: set[SampleKey] = set()
    for name, metric in (snapshot.get("metrics") or {}).items():
        changed = []
        for s in metric.get("samples") or ():
            key = sample_key(name, s)
            seen.add(key)
            if key not in previous or previous[key] != finite(s.get("value")):
                changed.append(s)
        if changed:
            metrics[name] = {**{k: v for k, v in metric.items() if k != "samples"},
                             "samples": changed}
    for key in previous.keys() - seen:
        name, instance, labels = key
        entry = metrics.setdefault(name, {"samples": []})
        entry.setdefault("removed", []).append({"instance": instance, "labels": dict(labels)})
    body = {k: v for k, v in snapshot.items() if k != "metrics"}
    body["metrics"] = metrics
    body["delta"] = True
    return body
