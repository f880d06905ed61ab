"""Python consumers of a promwire bridge.

- `MetricsWebSocketClient` — live metric frames over WebSocket, reconnecting with backoff,
  falling back to REST polling, with a bounded per-series history.
- `AlertsClient` — the lossless alert stream: every event exactly once, in order, across
  reconnects and bridge restarts.
  With `typed=True` it hands out `MetricsUpdate`s (flat samples, `update.value("cpu", host)`).
- `MetricsFetcher` — synchronous polling for scripts and notebooks (no threads, no asyncio).
- `ack()` — acknowledge an alert (synchronous; `ActionError` carries the API's error).

None of these import the bridge's server modules: installing promwire is enough to use them.
"""

from bridge.client.actions import ActionError, ack
from bridge.client.alerts import AlertsClient
from bridge.client.backoff import Attempt, Backoff
from bridge.client.buffer import Point, PointBuffer
from bridge.client.common import (
    CLOSED,
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    IDLE,
    POLLING,
    RECONNECTING,
)
from bridge.client.fetcher import FetchError, MetricsFetcher
from bridge.client.metrics import MetricsWebSocketClient
from bridge.client.updates import Control, MetricsUpdate, Sample

__all__ = [
    "CLOSED",
    "CONNECTED",
    "CONNECTING",
    "DISCONNECTED",
    "IDLE",
    "POLLING",
    "RECONNECTING",
    "ActionError",
    "AlertsClient",
    "Attempt",
    "Backoff",
    "Control",
    "FetchError",
    "MetricsFetcher",
    "MetricsUpdate",
    "MetricsWebSocketClient",
    "Point",
    "PointBuffer",
    "Sample",
    "ack",
]
