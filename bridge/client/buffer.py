"""A bounded history of the values a client has seen: the last N points per series.

A series is (metric, instance, labels) where labels are the Sample's extra labels (mountpoint,
device, direction...), so `disk` on "/" and on "/home" of one host are kept apart. Each series is
a `deque(maxlen=N)`: memory stays bounded however long the client runs.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]

_SPECIAL = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}


class Point(NamedTuple):
    timestamp: float
    value: float


def sample_value(value: Any) -> float:
    """A Sample's `value` as a float: numbers as they are, "NaN"/"+Inf"/"-Inf" as floats."""
    if isinstance(value, str):
        if value in _SPECIAL:
            return _SPECIAL[value]
        return float(value)
    return float(value)


def series_key(metric: str, instance: str, labels: Mapping[str, str] | None = None) -> SeriesKey:
    return metric, instance, tuple(sorted((labels or {}).items()))


class PointBuffer:
    """The last `maxlen` points of every series seen in Snapshot-shaped data."""

    def __init__(self, maxlen: int = 100) -> None:
        if maxlen < 1:
            raise ValueError("buffer size must be >= 1")
        self.maxlen = maxlen
        self._series: dict[SeriesKey, deque[Point]] = {}

    def add(self, metric: str, instance: str, labels: Mapping[str, str] | None,
            timestamp: float, value: Any) -> bool:
        """Append one point; ignore it (False) unless it is newer than the series' last point.

        The same sample arrives more than once (polling faster than Prometheus scrapes, two
        subscriptions covering one metric, a re-sent frame after reconnecting): keeping only
        strictly newer points keeps each series in time order without duplicates.
        """
        key = series_key(metric, instance, labels)
        points = self._series.get(key)
        if points is None:
            points = self._series[key] = deque(maxlen=self.maxlen)
        elif points and timestamp <= points[-1].timestamp:
            return False
        points.append(Point(float(timestamp), sample_value(value)))
        return True

    def add_snapshot(self, snapshot: Mapping[str, Any]) -> int:
        """Add every Sample of a Snapshot (or `metrics` frame); returns how many were new."""
        added = 0
        for metric, body in (snapshot.get("metrics") or {}).items():
            if not isinstance(body, Mapping):
                continue
            for sample in body.get("samples") or ():
                try:
                    added += self.add(metric, str(sample["instance"]), sample.get("labels"),
                                      float(sample["timestamp"]), sample["value"])
                except (KeyError, TypeError, ValueError):
                    continue  # a malformed sample must not cost the others
        return added

    def points(self, metric: str, instance: str, labels: Mapping[str, str] | None = None
               ) -> list[Point]:
        """The series' points, oldest first (empty when never seen)."""
        return list(self._series.get(series_key(metric, instance, labels), ()))

    def latest(self, metric: str, instance: str, labels: Mapping[str, str] | None = None
               ) -> Point | None:
        points = self._series.get(series_key(metric, instance, labels))
        return points[-1] if points else None

    def keys(self) -> list[SeriesKey]:
        return list(self._series)

    def __iter__(self) -> Iterator[SeriesKey]:
        return iter(list(self._series))

    def __len__(self) -> int:
        return len(self._series)

    def clear(self) -> None:
        self._series.clear()
