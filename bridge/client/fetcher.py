"""MetricsFetcher: the bridge's current values for scripts and notebooks, synchronously.

No threads and no event loop: each call to `fetch_and_cache_metrics()` either returns the cached
Snapshot (when the last request is younger than `min_interval`) or makes exactly one request.
When a request fails, the last good Snapshot is returned marked stale, with its age; only when
there has never been one does it raise `FetchError`.
"""

from __future__ import annotations

import copy
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from bridge.client.buffer import PointBuffer, sample_value
from bridge.client.common import DEFAULT_URL, auth_headers, endpoints
from bridge.client.snapshots import parse_snapshot
from bridge.protocol import CURRENT_PATH, METRICS_WS_PATH


class FetchError(Exception):
    """No Snapshot to return: the bridge could not be reached or answered an error."""


class MetricsFetcher:
    """Rate-limited, cached polling of `GET /api/metrics/current`."""

    def __init__(self, base_url: str = DEFAULT_URL, *, min_interval: float = 5.0,
                 timeout: float = 5.0, token: str | None = None, buffer_size: int = 100,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        if min_interval < 0 or timeout <= 0:
            raise ValueError("min_interval must be >= 0 and timeout > 0")
        self.base_url = endpoints(base_url, METRICS_WS_PATH)[1]
        self.url = self.base_url + CURRENT_PATH
        self.min_interval, self.timeout = min_interval, timeout
        self.headers = auth_headers(token, {"Accept": "application/json"})
        self.buffer = PointBuffer(buffer_size)
        self.requests = 0  # requests actually sent, for callers who want to check the limit
        self.last_error: str | None = None
        self._clock, self._wall = clock, wall_clock
        self._last_attempt: float | None = None
        self._cached: dict[str, Any] | None = None

    def fetch_and_cache_metrics(self) -> dict[str, Any]:
        """The current Snapshot: fresh if the last request is at least `min_interval` old,
        otherwise the cached one; the last good one marked stale after an error."""
        now = self._clock()
        if self._last_attempt is None or now - self._last_attempt >= self.min_interval:
            self._last_attempt = now
            self._refresh()
        if self._cached is None:
            raise FetchError(self.last_error or "no data yet")
        return self._view()

    @property
    def stale(self) -> bool:
        """True when the last request failed (the cache is older than it should be)."""
        return self.last_error is not None

    def value(self, metric: str, instance: str | None = None,
              labels: dict[str, str] | None = None) -> float | None:
        """One current value from the cache (first sample matching instance and labels)."""
        for sample in self.samples(metric):
            if instance is not None and sample.get("instance") != instance:
                continue
            if labels is not None and sample.get("labels", {}) != labels:
                continue
            return sample_value(sample["value"])
        return None

    def samples(self, metric: str) -> list[dict[str, Any]]:
        """A metric's cached samples (fetching first, within the rate limit)."""
        snapshot = self.fetch_and_cache_metrics()
        body = snapshot.get("metrics", {}).get(metric)
        return list(body.get("samples", [])) if isinstance(body, dict) else []

    def _refresh(self) -> None:
        self.requests += 1
        try:
            snapshot = self._get()
        except FetchError as exc:
            self.last_error = str(exc)
            return
        self._cached = snapshot
        self.last_error = None
        self.buffer.add_snapshot(snapshot)

    def _get(self) -> dict[str, Any]:
        request = urllib.request.Request(self.url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FetchError(f"cannot reach {self.base_url}: {reason}") from None
        try:
            return parse_snapshot(self.url, status, body)
        except ValueError as exc:
            raise FetchError(str(exc)) from None

    def _view(self) -> dict[str, Any]:
        assert self._cached is not None
        snapshot = copy.deepcopy(self._cached)
        if self.last_error is not None:
            snapshot["stale"] = True
            snapshot["error"] = self.last_error
            timestamp = snapshot.get("timestamp")
            if isinstance(timestamp, int | float):
                snapshot["age"] = max(0.0, self._wall() - timestamp)
        return snapshot
