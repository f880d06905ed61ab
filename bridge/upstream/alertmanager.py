"""The one Alertmanager API v2 client: its own session, typed errors, counted requests.

Reconciliation reads the active alerts and Alertmanager's uptime through `get_json`; /health
probes `/-/healthy` through `probe`. Every failure is an `UpstreamError` (`UpstreamUnavailable`
when Alertmanager cannot be reached or refuses, `UpstreamInvalid` for a body that is not JSON,
`UpstreamTimeout` when a probe runs out of time), so neither caller maps aiohttp's exceptions.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from aiohttp import web

from bridge.config import AlertmanagerConfig
from bridge.errors import UpstreamInvalid, UpstreamTimeout, UpstreamUnavailable
from bridge.keys import CONFIG_KEY, METRICS_KEY
from bridge.selfmetrics import BridgeMetrics
from bridge.upstream import session_ctx

ALERTS_ENDPOINT = "/api/v2/alerts"
STATUS_ENDPOINT = "/api/v2/status"
HEALTHY_ENDPOINT = "/-/healthy"


class AlertmanagerClient:
    """Async Alertmanager client over one aiohttp session (opened by `open`)."""

    def __init__(self, config: AlertmanagerConfig, metrics: BridgeMetrics | None = None) -> None:
        self.config, self.metrics = config, metrics
        self._session: aiohttp.ClientSession | None = None

    @property
    def configured(self) -> bool:
        return bool(self.config.url)

    async def open(self) -> None:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.config.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str) -> str:
        return self.config.url.rstrip("/") + path

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise UpstreamUnavailable("the Alertmanager client is not open")
        return self._session

    async def get_json(self, path: str, params: dict[str, str]) -> Any:
        """GET `path` and decode its JSON body; counted per path in the upstream metrics."""
        session = self._open_session()
        started = time.perf_counter()
        outcome = "error"
        try:
            async with session.get(self._url(path), params=params) as resp:
                if resp.status != 200:
                    text = (await resp.text())[:200]
                    raise UpstreamUnavailable(f"Alertmanager answered {resp.status}: {text}")
                try:
                    data = await resp.json(content_type=None)
                except ValueError as exc:
                    raise UpstreamInvalid(f"Alertmanager sent invalid JSON: {exc}") from None
            outcome = "success"
            return data
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise UpstreamUnavailable(
                f"Alertmanager unreachable at {self.config.url}: {exc or type(exc).__name__}"
            ) from None
        finally:
            if self.metrics is not None:
                self.metrics.upstream_queries.labels("alertmanager", path, outcome).inc()
                self.metrics.upstream_latency.labels("alertmanager", path).observe(
                    time.perf_counter() - started)

    async def probe(self, limit: float) -> float:
        """GET /-/healthy within `limit` seconds; the latency, or an UpstreamError."""
        session = self._open_session()
        started = time.perf_counter()
        try:
            async with session.get(self._url(HEALTHY_ENDPOINT),
                                   timeout=aiohttp.ClientTimeout(total=limit)) as resp:
                await resp.read()
                if resp.status != 200:
                    raise UpstreamUnavailable(f"Alertmanager answered {resp.status}")
        except TimeoutError:
            raise UpstreamTimeout(f"Alertmanager did not answer within {limit:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamUnavailable((str(exc) or type(exc).__name__)[:300]) from None
        return time.perf_counter() - started


ALERTMANAGER_KEY = web.AppKey("alertmanager", AlertmanagerClient)


def setup(app: web.Application) -> None:
    """Create the client now (reconciliation and /health find it under ALERTMANAGER_KEY) and
    open its session in cleanup_ctx."""
    app[ALERTMANAGER_KEY] = AlertmanagerClient(app[CONFIG_KEY].alertmanager, app[METRICS_KEY])
    app.cleanup_ctx.append(session_ctx(ALERTMANAGER_KEY))
