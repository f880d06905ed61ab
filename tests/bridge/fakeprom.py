"""A tiny fake Prometheus, ONLY for injecting faults the real one will not produce on demand:
timeouts, 5xx, malformed JSON, error envelopes, exotic values. Behaviour that a real Prometheus
has is tested against the real one (tests/bridge/metrics/test_integration.py).

By default it answers every instant query with one sample per instance for the query text, and
range queries with points on the asked grid (refusing, like Prometheus, more than 11,000 points).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from bridge.config import PrometheusConfig
from bridge.selfmetrics import BridgeMetrics
from bridge.upstream.prometheus import PrometheusClient

Responder = Callable[[str, dict[str, str]], Awaitable[web.StreamResponse | None]]


def success(data: dict[str, Any], warnings: list[str] | None = None,
            infos: list[str] | None = None) -> web.Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    if infos:
        body["infos"] = infos
    return web.json_response(body)


def failure(error_type: str, error: str, status: int) -> web.Response:
    return web.json_response({"status": "error", "errorType": error_type, "error": error},
                             status=status)


def vector(samples: list[tuple[dict[str, str], str]], at: float) -> dict[str, Any]:
    return {"resultType": "vector",
            "result": [{"metric": labels, "value": [at, value]} for labels, value in samples]}


class FakePrometheus:
    """An aiohttp app standing in for Prometheus. Set `responder` to override answers; every
    request's (endpoint, form) is recorded in `calls`; `instances` feeds the default answers."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.responder: Responder | None = None
        self.instances = ["host-a:9100", "host-b:9100"]
        self.values: dict[str, str] = {}   # query -> value for the default instant answer
        self.in_flight = 0
        self.max_in_flight = 0
        self.ready_status = 200
        self.config_yaml = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"
        self.url = ""  # set by `serve`
        self.app = web.Application()
        self.app.router.add_post("/api/v1/query", self._query)
        self.app.router.add_post("/api/v1/query_range", self._query_range)
        self.app.router.add_get("/api/v1/status/config", self._status_config)
        self.app.router.add_get("/-/ready", self._ready)
        self.app.router.add_get("/-/healthy", self._ready)

    async def _handle(self, endpoint: str, request: web.Request,
                      default: Callable[[dict[str, str]], web.StreamResponse]
                      ) -> web.StreamResponse:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.calls.append((endpoint, form))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.responder is not None:
                answer = await self.responder(endpoint, form)
                if answer is not None:
                    return answer
            await asyncio.sleep(0)
            return default(form)
        finally:
            self.in_flight -= 1

    async def _query(self, request: web.Request) -> web.StreamResponse:
        return await self._handle("query", request, self.instant)

    async def _query_range(self, request: web.Request) -> web.StreamResponse:
        return await self._handle("query_range", request, self.matrix)

    async def _status_config(self, request: web.Request) -> web.StreamResponse:
        return await self._handle("status_config", request,
                                  lambda form: success({"yaml": self.config_yaml}))

    async def _ready(self, request: web.Request) -> web.Response:
        return web.Response(status=self.ready_status, text="ready\n")

    def instant(self, form: dict[str, str]) -> web.Response:
        at = float(form.get("time", "1764100000"))
        value = self.values.get(form["query"], "1")
        return success(vector([({"instance": i}, value) for i in self.instances], at))

    def matrix(self, form: dict[str, str]) -> web.Response:
        start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
        if (end - start) / step > 11000:
            return failure("bad_data", "exceeded maximum resolution of 11,000 points per "
                           "timeseries. Try decreasing the query resolution (?step=XX)", 400)
        count = math.floor((end - start) / step + 1e-9) + 1
        points = [[round(start + k * step, 3), str(k)] for k in range(count)]
        result = [{"metric": {"instance": i}, "values": points} for i in self.instances]
        return success({"resultType": "matrix", "result": result})

    def queries(self, endpoint: str = "query") -> list[str]:
        return [form["query"] for ep, form in self.calls if ep == endpoint]


def raw(body: str | bytes, status: int = 200, content_type: str = "application/json"
        ) -> web.Response:
    return web.Response(body=body.encode() if isinstance(body, str) else body, status=status,
                        content_type=content_type)


def answer_json(data: Any, status: int = 200) -> web.Response:
    return raw(json.dumps(data), status)


async def serve(aiohttp_server: Any) -> FakePrometheus:
    """Start a FakePrometheus with the pytest-aiohttp `aiohttp_server` fixture (`fake.url`)."""
    fake = FakePrometheus()
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@asynccontextmanager
async def client(url: str, **settings: Any) -> AsyncIterator[PrometheusClient]:
    """An open PrometheusClient for `url` (1 s timeout unless `settings` say otherwise), with
    its own self-metrics registry."""
    c = PrometheusClient(PrometheusConfig(**{"url": url, "timeout": 1.0, **settings}),
                         BridgeMetrics())
    await c.open()
    try:
        yield c
    finally:
        await c.close()
