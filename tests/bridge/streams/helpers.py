"""Unit-test helpers for the metric streams: the real app with its pollers' fetch replaced.

`FakeFetch` stands in for one round of Prometheus queries so the fan-out, queue and protocol
code can be tested fast and deterministically: it counts rounds per poller key, makes `cpu`
change every round (its value is the round number) and keeps `memory` constant, and can be
switched to "Prometheus down". The real Prometheus path is covered by the integration tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bridge.app import create_app
from bridge.config import (
    AuthConfig,
    BridgeConfig,
    HttpConfig,
    MetricsConfig,
    PrometheusConfig,
    StreamsConfig,
)
from bridge.errors import UpstreamError, UpstreamUnavailable
from bridge.streams.hub import STREAMS_KEY
from bridge.streams.subscriptions import PollerKey

TOKEN = "t0ken"


class FakeFetch:
    def __init__(self) -> None:
        self.calls: Counter[PollerKey] = Counter()
        self.down = False
        self.error: UpstreamError | None = None
        self.padding = 0  # bytes of filler per frame, to fill socket buffers quickly

    async def __call__(self, key: PollerKey) -> dict[str, Any]:
        self.calls[key] += 1
        n = self.calls[key]
        await asyncio.sleep(0)
        if self.down:
            raise UpstreamUnavailable("cannot connect to Prometheus (fake)")
        if self.error is not None:
            raise self.error
        at = time.time()
        if key.query is not None:
            return {"timestamp": at, "query": key.query, "resultType": "vector",
                    "result": [{"metric": {"instance": "a:9100"}, "value": [at, str(n)]}],
                    "warnings": []}
        values = {"cpu": float(n), "memory": 42.0}
        metrics = {name: {"title": name, "unit": "percent",
                          "samples": [{"instance": inst, "labels": {},
                                       "value": values.get(name, 1.0), "timestamp": at}
                                      for inst in ("a:9100", "b:9100")
                                      if key.instances is None or inst in key.instances]}
                   for name in key.metrics}
        snapshot = {"timestamp": at, "stale": False, "age": 0.0, "metrics": metrics,
                    "errors": {}, "warnings": []}
        if self.padding:
            snapshot["warnings"] = ["x" * self.padding]
        return snapshot


def make_app(fetch: FakeFetch, data_dir: Path, *, auth: AuthConfig | None = None,
             metrics: MetricsConfig | None = None, http: HttpConfig | None = None,
             prometheus: PrometheusConfig | None = None, **streams: Any) -> web.Application:
    """The whole bridge with fast stream settings; `data_dir` is the test's tmp dir."""
    settings = {"interval": 0.1, "min_interval": 0.05, "heartbeat": 0.0, **streams}
    config = BridgeConfig(data_dir=str(data_dir), auth=auth or AuthConfig(token=TOKEN),
                          metrics=metrics or MetricsConfig(), http=http or HttpConfig(),
                          prometheus=prometheus or PrometheusConfig(),
                          streams=dataclasses.replace(StreamsConfig(), **settings))
    app = create_app(config)
    app[STREAMS_KEY].fetch = fetch
    return app


async def next_of(ws: Any, kind: str, limit: float = 5.0) -> dict[str, Any]:
    """The next JSON frame of type `kind` (skipping others) from an aiohttp client socket.
    `limit` only keeps a broken build from hanging; nothing asserts how long it took."""
    async with asyncio.timeout(limit):
        while True:
            frame = await ws.receive_json()
            if frame.get("type") == kind:
                return frame


async def next_frame(ws: Any, limit: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(limit):
        return await ws.receive_json()


async def until(predicate: Callable[[], Any], limit: float = 10.0) -> Any:
    """Wait for a condition of the server's state (`limit` only stops a hang)."""
    async with asyncio.timeout(limit):
        while True:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.01)
