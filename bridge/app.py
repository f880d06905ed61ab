"""The application factory: one place that assembles the bridge from its features."""

from __future__ import annotations

from aiohttp import web

from bridge import health, observe, openapi
from bridge.alerts import backfill, groups, timeline
from bridge.alerts import routes as alerts
from bridge.alerts import silence_routes as silences
from bridge.config import BridgeConfig
from bridge.http import cors_headers, cors_middleware, error_middleware
from bridge.keys import CONFIG_KEY, METRICS_KEY
from bridge.metrics import catalog, snapshot
from bridge.metrics import routes as api
from bridge.page import routes as page
from bridge.selfmetrics import BridgeMetrics
from bridge.streams import hub as streams
from bridge.streams import sse, ws
from bridge.tokens import TOKENS_KEY, TokenTable
from bridge.upstream import alertmanager, prometheus

# Each feature module exposes `setup(app)`: it adds its routes and its cleanup_ctx resources.
FEATURES = (observe, prometheus, alertmanager, catalog, snapshot, health, api, openapi, streams,
            ws, sse, alerts, groups, timeline, backfill, silences, page)


def create_app(config: BridgeConfig) -> web.Application:
    """Build the bridge for `config`. Resources open in cleanup_ctx, in FEATURES order."""
    app = web.Application(
        client_max_size=config.http.max_body_bytes,
        middlewares=[observe.metrics_middleware, cors_middleware, error_middleware],
    )
    app.on_response_prepare.append(cors_headers)
    app[CONFIG_KEY] = config
    app[METRICS_KEY] = BridgeMetrics()
    app[TOKENS_KEY] = TokenTable.from_config(config.auth)
    for feature in FEATURES:
        feature.setup(app)
    return app
