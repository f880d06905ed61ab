"""Exponential backoff with full jitter, and a record of the attempts it paced.

Full jitter (sleep a uniform random time in [0, min(cap, base * 2**n)]) spreads the reconnects of
many clients after a bridge restart instead of having them all knock at once; see
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field

# 2**60 times any sane base is far above any cap; stops the exponent from overflowing.
_MAX_EXPONENT = 60


@dataclass
class Backoff:
    """Delays for consecutive failures: `next_delay()` after each failure, `reset()` on success."""

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap <= 0:
            raise ValueError("backoff base and cap must be > 0")
        if self.cap < self.base:
            raise ValueError("backoff cap must be >= base")

    def ceiling(self) -> float:
        """The upper bound of the next delay: base doubled per failure so far, up to cap."""
        return min(self.cap, self.base * 2 ** min(self.failures, _MAX_EXPONENT))

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        delay = self.rng.uniform(0.0, self.ceiling())
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True)
class Attempt:
    """One connection attempt as the client saw it (for logs, `promwire-watch` and tests).

    `at` is `time.monotonic()` when the attempt started; `delay` and `ceiling` describe the wait
    that followed a failure (0 when it succeeded).
    """

    at: float
    transport: str  # "ws", "poll" or "probe" (a WebSocket try while polling)
    ok: bool
    error: str = ""
    delay: float = 0.0
    ceiling: float = 0.0


class AttemptLog:
    """The last `maxlen` attempts, oldest first."""

    def __init__(self, maxlen: int = 1000) -> None:
        self._items: deque[Attempt] = deque(maxlen=maxlen)

    def add(self, transport: str, ok: bool, started: float | None = None, error: str = "",
            delay: float = 0.0, ceiling: float = 0.0) -> Attempt:
        attempt = Attempt(time.monotonic() if started is None else started, transport, ok,
                          error, delay, ceiling)
        self._items.append(attempt)
        return attempt

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Attempt:
        return self._items[index]
