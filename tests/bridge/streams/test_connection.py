"""The per-connection send queue: immediate writes, latest-wins metric frames, control frames
never dropped, full frames for delta subscribers after a gap, stuck consumers closed.

The transport here is a recording stand-in whose buffered byte count the test sets, to put the
connection in each state; the same code against real sockets is in test_ws.py (stuck reader).
"""

from __future__ import annotations

import json
import struct

from bridge.config import StreamsConfig
from bridge.selfmetrics import BridgeMetrics
from bridge.streams.connection import WRITE_LIMIT, Connection
from bridge.streams.frames import WS_JSON, Frame, control
from bridge.streams.hub import StreamHub
from bridge.streams.poller import Poller, Subscription
from bridge.streams.subscriptions import PollerKey
from tests.bridge.streams.helpers import FakeFetch
from tests.bridge.streams.test_frames import unframe


class RecordingTransport:
    def __init__(self) -> None:
        self.buffered = 0
        self.writes: list[bytes] = []
        self.closing = False
        self.aborted = False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.aborted = self.closing = True

    def frames(self) -> list[dict]:
        """Every JSON frame written, in order (a flush writes several in one call)."""
        out = []
        for data in self.writes:
            while data:
                n, head = data[1] & 0x7F, 2
                if n == 126:
                    n, head = struct.unpack("!H", data[2:4])[0], 4
                opcode, payload = unframe(data[:head + n])
                out.append(json.loads(payload) if opcode == 0x1 else
                           {"close": struct.unpack("!H", payload[:2])[0]})
                data = data[head + n:]
        return out


def setup_conn(send_queue: int = 4) -> tuple[StreamHub, Connection, RecordingTransport]:
    hub = StreamHub(StreamsConfig(send_queue=send_queue, stuck_timeout=5.0), BridgeMetrics(),
                    FakeFetch(), PollerKey())
    transport = RecordingTransport()
    conn = Connection(hub, transport, WS_JSON)
    hub.register(conn)
    return hub, conn, transport


def sub(conn: Connection, sub_id: str, delta: bool = False) -> Subscription:
    poller = Poller(conn.hub, PollerKey(metrics=(sub_id,)))
    s = Subscription(conn, sub_id, poller, delta)
    conn.subs[sub_id] = s
    return s


def metrics(tick: int) -> Frame:
    return Frame("metrics", {"tick": tick})


async def test_writes_at_once_while_the_socket_keeps_up() -> None:
    hub, conn, transport = setup_conn()
    s1 = sub(conn, "s1")
    assert conn.offer(s1, metrics(1), None) == 1
    assert conn.send_control(control("heartbeat", timestamp=1.0)) == 1
    assert [f["type"] for f in transport.frames()] == ["metrics", "heartbeat"]
    assert not hub.backlog


async def test_latest_metric_frame_wins_and_control_frames_are_kept_in_order() -> None:
    hub, conn, transport = setup_conn()
    s1, s2 = sub(conn, "s1"), sub(conn, "s2")
    transport.buffered = WRITE_LIMIT + 1
    for tick in (1, 2, 3):
        assert conn.offer(s1, metrics(tick), None) == 0
    conn.offer(s2, metrics(1), None)
    conn.send_control(control("status", prometheus="down"))
    conn.send_control(control("status", prometheus="up"))
    assert transport.writes == [] and conn in hub.backlog
    assert hub.metrics.frames_dropped._value.get() == 2
    transport.buffered = 0
    hub.flush_backlog(0.0)
    assert len(transport.writes) == 1  # one write for the whole backlog
    assert [(f["type"], f.get("prometheus"), f.get("id"), f.get("tick"))
            for f in transport.frames()] == [
        ("status", "down", None, None), ("status", "up", None, None),
        ("metrics", None, "s1", 3), ("metrics", None, "s2", 1)]
    assert not hub.backlog and conn.stuck_since is None


async def test_queue_is_bounded_by_send_queue() -> None:
    hub, conn, transport = setup_conn(send_queue=2)
    subs = [sub(conn, f"s{i}") for i in range(4)]
    transport.buffered = WRITE_LIMIT + 1
    for s in subs:
        conn.offer(s, metrics(1), None)
    assert conn.pending is not None and [s.id for s in conn.pending] == ["s2", "s3"]
    assert hub.metrics.frames_dropped._value.get() == 2
    assert subs[0].needs_full and subs[1].needs_full


async def test_delta_subscriber_gets_a_full_frame_after_missing_one() -> None:
    hub, conn, transport = setup_conn()
    s1 = sub(conn, "s1", delta=True)
    conn.offer(s1, metrics(1), Frame("metrics", {"tick": 1, "delta": True}))
    conn.offer(s1, metrics(2), Frame("metrics", {"tick": 2, "delta": True}))
    transport.buffered = WRITE_LIMIT + 1
    conn.offer(s1, metrics(3), Frame("metrics", {"tick": 3, "delta": True}))
    conn.offer(s1, metrics(4), Frame("metrics", {"tick": 4, "delta": True}))
    transport.buffered = 0
    hub.flush_backlog(0.0)
    got = [(f["tick"], f.get("delta", False)) for f in transport.frames()]
    # First frame full; tick 3's delta was replaced, so tick 4 comes in full.
    assert got == [(1, False), (2, True), (4, False)]


async def test_stuck_consumer_is_closed_with_1008() -> None:
    hub, conn, transport = setup_conn()
    s1 = sub(conn, "s1")
    transport.buffered = WRITE_LIMIT + 1
    conn.offer(s1, metrics(1), None)
    assert conn.stuck_since is not None
    hub.flush_backlog(conn.stuck_since + 1.0)
    assert not transport.closing  # not yet stuck for stuck_timeout
    hub.flush_backlog(conn.stuck_since + 6.0)
    assert transport.closing and transport.frames()[-1] == {"close": 1008}
    assert conn.closed and conn not in hub.connections and not hub.backlog
    assert hub.metrics.slow_closed._value.get() == 1
    transport.writes.clear()
    assert conn.offer(s1, metrics(2), None) == 0 and transport.writes == []


async def test_control_frames_pile_up_means_stuck() -> None:
    hub, conn, transport = setup_conn()
    transport.buffered = WRITE_LIMIT + 1
    for _ in range(1001):
        conn.send_control(control("heartbeat", timestamp=0.0))
    hub.flush_backlog(0.0)
    assert transport.closing and hub.metrics.slow_closed._value.get() == 1
