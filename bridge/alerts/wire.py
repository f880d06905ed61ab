"""Alert stream frames: JSON text made once, wire bytes built once per format and shared.

Every alert frame — an event of the log, a snapshot, a resync, a heartbeat, an error — is one
JSON text. `Encoded` turns it into a complete WebSocket text frame and an SSE event on first
use, and the same bytes object goes to every subscriber. Events are stored in the log as this
very text, so a replay is byte-identical to the live frame.

Why not `bridge.streams.frames.Frame` (the metrics streams'): that one serialises a body dict per
(format, subscription id) and speaks msgpack too; alert frames are already text (read back from
the log, or spliced around pre-encoded alert JSON), never carry a subscription id, are JSON
only, and need an SSE `id:` (`EPOCH:SEQ`) so that EventSource resumes. What both share, the
WebSocket framing, is `bridge.streams.frames.ws_frame`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bridge.alerts.model import format_time
from bridge.protocol import ERROR, SILENCE
from bridge.streams.frames import ws_frame

WS_TEXT = 0x1


class Encoded:
    """Wire bytes of a frame with `type`, `text` and `id` (the SSE id, None when the frame is
    not a resume point), each built once on first use."""

    type: str
    text: str
    id: str | None

    @cached_property
    def data(self) -> bytes:
        return self.text.encode()

    @cached_property
    def ws(self) -> bytes:
        """The complete WebSocket text frame, the same bytes for every subscriber."""
        return ws_frame(WS_TEXT, self.data)

    @cached_property
    def sse(self) -> bytes:
        head = b"id: %s\n" % self.id.encode() if self.id else b""
        return head + b"event: %s\ndata: %s\n\n" % (self.type.encode(), self.data)


@dataclass(eq=False)
class Frame(Encoded):
    """A non-event frame (snapshot, resync, heartbeat, error) or a replayed event."""

    type: str
    text: str
    seq: int = 0
    id: str | None = None


# Every alert frame begins so, then the seq, then `alert_frame_tail`: a backend that learns the
# seq only inside its INSERT (PostgreSQL) splices the same text there.
ALERT_FRAME_HEAD = '{"type":"alert","seq":'
# How every stored silence event's text begins (the log tells the two kinds apart by it).
SILENCE_FRAME_HEAD = f'{{"type":"{SILENCE}"'


def alert_frame(seq: int, epoch: str, kind: str, status: str, ts_ms: int, alert_json: str) -> str:
    """The README's Alert event, key order as documented, built around pre-encoded alert JSON."""
    return f"{ALERT_FRAME_HEAD}{seq}{alert_frame_tail(epoch, kind, status, ts_ms, alert_json)}"


def alert_frame_tail(epoch: str, kind: str, status: str, ts_ms: int, alert_json: str) -> str:
    """What follows the seq in an alert frame."""
    return (f',"epoch":{json.dumps(epoch)},"event":"{kind}","status":"{status}",'
            f'"timestamp":"{format_time(ts_ms)}","alert":{alert_json}}}')


def error_frame(body: dict[str, Any]) -> Frame:
    return Frame(ERROR, json.dumps({"type": ERROR, **body}, separators=(",", ":")))
