"""A record of the connection attempts the reconnect backoff paced.

The backoff itself (exponential, full jitter) is `bridge.protocol.Backoff`, shared with the
bridge's own reconnection to Alertmanager; it is re-exported here and from `bridge.client`.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from bridge.protocol import Backoff

__all__ = ["Attempt", "AttemptLog", "Backoff"]


@dataclass(frozen=True)
class Attempt:
    """One connection attempt as the client saw it (for logs, `promwire-watch` and tests).

    `at` is `time.monotonic()` when the attempt started; `delay` and `ceiling` describe the wait
    that preceded it (0 for the first); `bridge` is the base URL it went to.
    """

    at: float
    transport: str  # "ws", "poll" or "probe" (a WebSocket try while polling)
    ok: bool
    error: str = ""
    delay: float = 0.0
    ceiling: float = 0.0
    bridge: str = ""  # the base URL of the bridge tried


class AttemptLog:
    """The last `maxlen` attempts, oldest first."""

    def __init__(self, maxlen: int = 1000) -> None:
        self._items: deque[Attempt] = deque(maxlen=maxlen)

    def add(self, transport: str, ok: bool, started: float | None = None, error: str = "",
            delay: float = 0.0, ceiling: float = 0.0, bridge: str = "") -> Attempt:
        attempt = Attempt(time.monotonic() if started is None else started, transport, ok,
                          error, delay, ceiling, bridge)
        self._items.append(attempt)
        return attempt

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Attempt:
        return self._items[index]
