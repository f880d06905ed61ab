"""The wire contract between the bridge and its clients, in one place with no dependencies.

Paths, the msgpack subprotocol, frame types, the implicit subscription id, WebSocket close codes,
the identity of a sample, and the reconnect backoff. The server's routes and the Python client
(`bridge.client`) both read them from here; the client imports nothing else of the server, so
it works for consumers who install promwire only to talk to a bridge. Changing a value here
changes the contract: the README documents every one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# --- paths -----------------------------------------------------------------------------------
METRICS_WS_PATH = "/api/ws/ws"
METRICS_SSE_PATH = "/api/sse/metrics"
ALERTS_WS_PATH = "/api/ws/ws/alerts"
ALERTS_SSE_PATH = "/api/sse/alerts"
CURRENT_PATH = "/api/metrics/current"
ALERTS_PATH = "/api/alerts"
SILENCES_PATH = "/api/silences"

# The WebSocket subprotocol that selects msgpack binary frames (also `?format=msgpack`).
MSGPACK_PROTOCOL = "promwire.msgpack"
# The implicit subscription of a metric stream connection (and of an SSE request).
DEFAULT_ID = "default"

# --- frame types -----------------------------------------------------------------------------
# Client -> bridge, on a metric stream.
SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
# Bridge -> client, metric streams.
METRICS = "metrics"
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"
STATUS = "status"
HEARTBEAT = "heartbeat"
ERROR = "error"
# Alert streams (also `heartbeat` and `error`).
ALERT = "alert"
SNAPSHOT = "snapshot"
RESYNC = "resync"
# A silence created, updated or expired: in the alert log and stream, a resume point like `alert`.
SILENCE = "silence"

# --- WebSocket close codes (RFC 6455 §7.4.1) -------------------------------------------------
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001    # the bridge is shutting down
CLOSE_POLICY = 1008        # bad input, or a consumer that does not read (stuck)
CLOSE_INTERNAL = 1011      # the bridge's fault
CLOSE_RESTART = 1012       # the alert log was reset: reconnect without a resume point
CLOSE_TRY_AGAIN = 1013     # too many connections, or too slow: reconnect later

# --- samples ---------------------------------------------------------------------------------
SampleKey = tuple[str, str, tuple[tuple[str, str], ...]]


def sample_key(metric: str, sample: Mapping[str, Any]) -> SampleKey:
    """A sample's identity within a metric: (metric, instance, sorted extra labels). Delta
    frames change and remove samples by this key."""
    return (metric, str(sample.get("instance", "")),
            tuple(sorted((sample.get("labels") or {}).items())))


# --- reconnecting ----------------------------------------------------------------------------
# 2**60 times any sane base is far above any cap; stops the exponent from overflowing.
_MAX_EXPONENT = 60


@dataclass
class Backoff:
    """Delays for consecutive failures: `next_delay()` after each failure, `reset()` on success.

    The ceiling doubles from `base` per failure up to `cap`; the delay is uniform in
    [floor * ceiling, ceiling]. floor 0 is full jitter, which spreads the reconnects of many
    clients after a bridge restart instead of having them all knock at once (see
    https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/); the reconciler
    uses 0.5, so that it never retries at once after a failure.
    """

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0
    floor: float = 0.0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap <= 0:
            raise ValueError("backoff base and cap must be > 0")
        if self.cap < self.base:
            raise ValueError("backoff cap must be >= base")
        if not 0.0 <= self.floor <= 1.0:
            raise ValueError("backoff floor must be from 0 to 1")

    def ceiling(self) -> float:
        """The upper bound of the next delay: base doubled per failure so far, up to cap."""
        return min(self.cap, self.base * 2 ** min(self.failures, _MAX_EXPONENT))

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        ceiling = self.ceiling()
        delay = ceiling * self.rng.uniform(self.floor, 1.0) if self.floor else \
            self.rng.uniform(0.0, ceiling)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0
