"""Frames are encoded once per (format, id) and decode to the same document in every format."""

from __future__ import annotations

import json
import struct

import msgpack

from bridge.streams.frames import (
    NO_ID,
    SSE,
    WS_JSON,
    WS_MSGPACK,
    Frame,
    delta_body,
    sample_index,
    ws_close_frame,
    ws_frame,
)


def unframe(data: bytes) -> tuple[int, bytes]:
    """Parse one unmasked WebSocket frame: (opcode, payload)."""
    assert data[0] & 0x80, "FIN bit set"
    n, head = data[1] & 0x7F, 2
    assert not data[1] & 0x80, "server frames are not masked"
    if n == 126:
        n, head = struct.unpack("!H", data[2:4])[0], 4
    elif n == 127:
        n, head = struct.unpack("!Q", data[2:10])[0], 10
    assert len(data) == head + n
    return data[0] & 0x0F, data[head:]


def test_ws_frame_lengths() -> None:
    for size in (0, 125, 126, 65535, 65536, 70000):
        opcode, payload = unframe(ws_frame(0x1, b"a" * size))
        assert (opcode, len(payload)) == (0x1, size)
    opcode, payload = unframe(ws_close_frame(1008, "consumer too slow"))
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1008


def test_json_msgpack_and_sse_carry_the_same_document() -> None:
    body = {"timestamp": 1.5, "metrics": {"cpu": {"samples": [{"value": float("nan")},
                                                              {"value": float("inf")}]}}}
    frame = Frame("metrics", body)
    expected = {"type": "metrics", "id": "s1", "timestamp": 1.5,
                "metrics": {"cpu": {"samples": [{"value": "NaN"}, {"value": "+Inf"}]}}}
    opcode, text = unframe(frame.wire(WS_JSON, "s1"))
    assert opcode == 0x1 and json.loads(text) == expected
    opcode, packed = unframe(frame.wire(WS_MSGPACK, "s1"))
    assert opcode == 0x2 and msgpack.unpackb(packed) == expected
    event = frame.wire(SSE, "s1").decode()
    assert event.startswith("event: metrics\ndata: ") and event.endswith("\n\n")
    assert json.loads(event.split("data: ", 1)[1]) == expected


def test_wire_bytes_are_built_once_and_shared() -> None:
    frame = Frame("metrics", {"timestamp": 1.0})
    assert frame.wire(WS_JSON, "default") is frame.wire(WS_JSON, "default")
    other = json.loads(unframe(frame.wire(WS_JSON, "s2"))[1])
    assert other == {"type": "metrics", "id": "s2", "timestamp": 1.0}


def test_ids_absent_or_null() -> None:
    frame = Frame("heartbeat", {"timestamp": 2.0})
    assert json.loads(unframe(frame.wire(WS_JSON, NO_ID))[1]) == {"type": "heartbeat",
                                                                   "timestamp": 2.0}
    error = Frame("error", {"error": "bad_request", "detail": "x"})
    assert json.loads(unframe(error.wire(WS_JSON, None))[1])["id"] is None
    empty = Frame("unsubscribed", {})
    assert msgpack.unpackb(unframe(empty.wire(WS_MSGPACK, "s1"))[1]) == {
        "type": "unsubscribed", "id": "s1"}


def _snap(cpu: float, disks: dict[str, float]) -> dict:
    return {"timestamp": 1.0, "stale": False, "age": 0.0, "errors": {}, "warnings": [],
            "metrics": {
                "cpu": {"title": "CPU", "unit": "percent",
                        "samples": [{"instance": "a", "labels": {}, "value": cpu}]},
                "disk": {"title": "Disk", "unit": "percent",
                         "samples": [{"instance": "a", "labels": {"mountpoint": m}, "value": v}
                                     for m, v in disks.items()]}}}


def test_delta_keeps_only_changes_and_lists_removed_series() -> None:
    before = _snap(10.0, {"/": 50.0, "/home": 20.0})
    after = _snap(11.0, {"/": 50.0, "/data": 5.0})
    delta = delta_body(sample_index(before), after)
    assert delta["delta"] is True and delta["timestamp"] == 1.0
    assert delta["metrics"]["cpu"]["samples"] == [{"instance": "a", "labels": {},
                                                   "value": 11.0}]
    disk = delta["metrics"]["disk"]
    assert disk["samples"] == [{"instance": "a", "labels": {"mountpoint": "/data"},
                                "value": 5.0}]
    assert disk["removed"] == [{"instance": "a", "labels": {"mountpoint": "/home"}}]
    same = delta_body(sample_index(after), after)
    assert same["metrics"] == {}


def test_delta_treats_nan_as_equal_to_nan() -> None:
    before = _snap(float("nan"), {})
    assert delta_body(sample_index(before), _snap(float("nan"), {}))["metrics"] == {}
