"""Application state keys shared across modules (feature modules define their own next to
the object they hold)."""

from aiohttp import web

from bridge.config import BridgeConfig
from bridge.selfmetrics import BridgeMetrics

CONFIG_KEY = web.AppKey("config", BridgeConfig)
METRICS_KEY = web.AppKey("self_metrics", BridgeMetrics)
