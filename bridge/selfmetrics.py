"""The bridge's own metrics, served on its `/metrics`.

Each app gets its own registry (tests build many apps in one process). Every counter the bridge
exposes is declared here, so the names live in one place and features only increment them.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class BridgeMetrics:
    """All of the bridge's own metric families, registered in a private registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "promwire_bridge_http_requests_total", "HTTP requests by route, method and status.",
            ["route", "method", "status"], registry=r)
        self.http_latency = Histogram(
            "promwire_bridge_http_request_duration_seconds", "HTTP request latency by route.",
            ["route"], buckets=LATENCY_BUCKETS, registry=r)
        # The children of one route's answers, found once (`labels()` takes a lock and
        # hashes its labels on every call). Bounded: routes x methods x statuses.
        self._answered: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.upstream_queries = Counter(
            "promwire_bridge_upstream_requests_total",
            "Requests to Prometheus/Alertmanager by upstream, endpoint and outcome.",
            ["upstream", "endpoint", "outcome"], registry=r)
        self.upstream_latency = Histogram(
            "promwire_bridge_upstream_request_duration_seconds",
            "Latency of requests to Prometheus/Alertmanager.",
            ["upstream", "endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.cache = Counter(
            "promwire_bridge_snapshot_cache_total",
            "Current-snapshot lookups by result (hit, miss, shared, stale).",
            ["result"], registry=r)
        self.ws_clients = Gauge(
            "promwire_bridge_ws_clients", "Connected WebSocket/SSE clients by stream.",
            ["stream"], registry=r)
        self.pollers = Gauge(
            "promwire_bridge_pollers", "Active shared metric pollers.", registry=r)
        self.frames_sent = Counter(
            "promwire_bridge_frames_sent_total", "Frames sent to stream clients by type.",
            ["type"], registry=r)
        self.frames_dropped = Counter(
            "promwire_bridge_frames_dropped_total",
            "Metric frames replaced by a newer one because a consumer fell behind.", registry=r)
        self.slow_closed = Counter(
            "promwire_bridge_slow_consumers_closed_total",
            "Stream clients closed because they stayed stuck.", registry=r)
        self.webhooks = Counter(
            "promwire_bridge_webhooks_received_total", "Alertmanager webhooks accepted.",
            registry=r)
        self.webhooks_rejected = Counter(
            "promwire_bridge_webhooks_rejected_total", "Webhooks rejected, by reason.",
            ["reason"], registry=r)
        self.alert_events = Counter(
            "promwire_bridge_alert_events_stored_total", "Alert events appended to the log.",
            ["source"], registry=r)
        self.alert_subscribers = Gauge(
            "promwire_bridge_alert_subscribers", "Connected alert stream subscribers.",
            registry=r)

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP answer and its latency."""
        if method not in METHODS:  # any token is a method to HTTP: keep the label bounded
            method = "other"
        key = (route, method, status)
        children = self._answered.get(key)
        if children is None:
            children = self._answered[key] = (
                self.http_requests.labels(route, method, str(status)),
                self.http_latency.labels(route))
        children[0].inc()
        children[1].observe(seconds)
