"""The bridge's own dashboard, from the metrics declared in bridge/selfmetrics.py."""

from __future__ import annotations

from grafana import RATE, Dashboard, Panel, ok_mapping, query_variable, stat, ts
from grafana import Target as T

P = "promwire_bridge_"


def quantiles(metric: str, selector: str, by: str, legend: str) -> list[T]:
    """p50/p90/p99 of a histogram, per `by`, from its buckets."""
    return [T(f"histogram_quantile({q}, sum by (le, {by}) (rate({P}{metric}_bucket"
              f"{{{selector}}}[{RATE}])))", f"{legend} p{round(q * 100)}")
            for q in (0.5, 0.9, 0.99)]


def bridge() -> Dashboard:
    b = 'job="$job", instance="$instance"'
    d = Dashboard(
        "promwire-bridge", "promwire / Bridge", "The bridge's own /metrics: HTTP, upstream "
        "Prometheus/Alertmanager, the snapshot cache, streams and alerts.", ["promwire"],
        [query_variable("job", "Job", f"label_values({P}pollers, job)"),
         query_variable("instance", "Instance", f'label_values({P}pollers{{job="$job"}}, '
                                                "instance)")])

    requests = f"{P}http_requests_total"
    upstream = f"{P}upstream_requests_total"
    d.row("Overview").add(
        stat("Requests", T(f"sum(rate({requests}{{{b}}}[{RATE}]))"), unit="reqps", w=4),
        stat("5xx answers", T(f'(sum(rate({requests}{{{b}, status=~"5.."}}[{RATE}])) '
                              f"or vector(0)) / sum(rate({requests}{{{b}}}[{RATE}]))"),
             unit="percentunit", w=4, steps=((None, "green"), (0.001, "red")),
             description="Share of answers that were 5xx (user input never gets one)."),
        stat("Stream clients", T(f"sum({P}ws_clients{{{b}}})"), w=4,
             description="WebSocket and SSE clients of every stream."),
        stat("Pollers", T(f"{P}pollers{{{b}}}"), w=4),
        stat("Alert subscribers", T(f"{P}alert_subscribers{{{b}}}"), w=4),
        stat("Scraped", T(f"up{{{b}}}"), w=4, mappings=ok_mapping("down", "up"),
             steps=((None, "red"), (1, "green"))),
    )
    d.row("HTTP").add(
        ts("Requests by route and status",
           T(f"sum by (route, status) (rate({requests}{{{b}}}[{RATE}]))",
             "{{route}} {{status}}"), unit="reqps", w=8, min=0),
        ts("Error answers by route (4xx, 5xx)",
           T(f'sum by (route, status) (rate({requests}{{{b}, status=~"[45].."}}[{RATE}]))',
             "{{route}} {{status}}"), unit="reqps", w=8, min=0,
           description="Empty while every answer is a success."),
        ts("Request latency by route", *quantiles(
            "http_request_duration_seconds", b, "route", "{{route}}"), unit="s", w=8, min=0),
    )
    d.row("Upstreams (Prometheus, Alertmanager)").add(
        ts("Upstream requests by outcome",
           T(f"sum by (upstream, endpoint, outcome) (rate({upstream}{{{b}}}[{RATE}]))",
             "{{upstream}} {{endpoint}} {{outcome}}"), unit="reqps", w=8, min=0),
        ts("Upstream error ratio",
           T(f'(sum by (upstream) (rate({upstream}{{{b}, outcome!="success"}}[{RATE}])) '
             f"or 0 * sum by (upstream) (rate({upstream}{{{b}}}[{RATE}]))) "
             f"/ sum by (upstream) (rate({upstream}{{{b}}}[{RATE}]))", "{{upstream}}"),
           unit="percentunit", w=8, min=0, max=1,
           description="Requests that failed (unreachable, timeout, Prometheus error) over all "
                       "requests; Prometheus' successes are 'success', Alertmanager's 'ok'."),
        ts("Upstream latency", *quantiles(
            "upstream_request_duration_seconds", b, "upstream, endpoint",
            "{{upstream}} {{endpoint}}"), unit="s", w=8, min=0),
    )
    d.row("Snapshot cache and streams").add(
        ts("Snapshot cache lookups by result",
           T(f"sum by (result) (rate({P}snapshot_cache_total{{{b}}}[{RATE}]))", "{{result}}"),
           unit="ops", stack=True, w=8, min=0,
           description="hit: cached; shared: joined a query in flight; miss: asked "
                       "Prometheus; stale: served the last good snapshot while it is down."),
        ts("Stream clients and pollers",
           T(f"sum by (stream) ({P}ws_clients{{{b}}})", "{{stream}} clients"),
           T(f"{P}pollers{{{b}}}", "pollers"),
           T(f"{P}alert_subscribers{{{b}}}", "alert subscribers"), w=8, min=0),
        ts("Frames sent by type",
           T(f"sum by (type) (rate({P}frames_sent_total{{{b}}}[{RATE}]))", "{{type}}"),
           unit="ops", w=8, min=0),
        ts("Slow consumers",
           T(f"rate({P}frames_dropped_total{{{b}}}[{RATE}])", "frames dropped/s"),
           T(f"increase({P}slow_consumers_closed_total{{{b}}}[{RATE}])",
             "consumers closed (stuck)"), w=12, min=0,
           description="Frames replaced by a newer one for a client that fell behind, and "
                       "clients closed after streams.stuck_timeout without progress."),
        ts("Webhooks from Alertmanager",
           T(f"rate({P}webhooks_received_total{{{b}}}[{RATE}])", "received"),
           T(f"sum by (reason) (rate({P}webhooks_rejected_total{{{b}}}[{RATE}]))",
             "rejected: {{reason}}"), unit="reqps", w=12, min=0),
    )
    d.row("Alerts").add(
        ts("Alert events stored by source",
           T(f"sum by (source) (increase({P}alert_events_stored_total{{{b}}}[{RATE}]))",
             "{{source}}"), w=12, min=0, stack=True),
        Panel("stat", "Alert events stored in range",
              [T(f"sum by (source) (increase({P}alert_events_stored_total{{{b}}}[$__range]))",
                 "{{source}}")], w=12, decimals=0),
    )
    return d
