"""OpenAPI description of the metric REST routes (catalog, current, history, instances, raw
PromQL) and their schemas (Sample, Snapshot, History...).

The history route's `{name}` is an enum of this bridge's catalog, so `paths(names)` builds it.
"""

from __future__ import annotations

from typing import Any

from bridge.apischema import (
    DURATION_SCHEMA,
    PROMQL,
    TIME,
    TIME_SCHEMA,
    errors,
    ok,
    param,
    ref,
    scoped,
)

INSTANCE = param("instance", "Only these instances (repeat the parameter or separate with "
                 "commas).", {"type": "array", "items": {"type": "string"}},
                 style="form", explode=True)
RANGE_PARAMS = [
    param("start", f"Range start. {TIME} Default: end minus `range`, or minus "
          "metrics.default_range.", TIME_SCHEMA),
    param("end", f"Range end. {TIME} Default: now. Must not be before start.", TIME_SCHEMA),
    param("range", "Lookback instead of start: seconds or a Prometheus duration (`15m`, `1h30m`)."
          " Not together with start.", DURATION_SCHEMA),
    param("step", "Resolution: seconds or a duration (`15s`, `1m`), > 0. Default: about 1000 "
          "points over the range. Ranges above Prometheus' 11,000 points per series are split "
          "and stitched; above metrics.max_history_points the step is refused.",
          DURATION_SCHEMA),
]
RAW = ("Needs `metrics.raw_queries: true` (else 404) and a token with the `admin` scope "
       "(`Authorization: Bearer`; 403 without the scope).")
NUMBER = {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "+Inf", "-Inf"]}]}
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}

SCHEMAS: dict[str, Any] = {
    "Sample": {"type": "object", "required": ["instance", "labels", "value", "timestamp"],
               "properties": {"instance": {"type": "string"}, "labels": LABELS,
                              "value": NUMBER, "timestamp": {"type": "number"}}},
    "Snapshot": {"type": "object", "required": ["timestamp", "stale", "age", "metrics",
                                                "errors", "warnings"], "properties": {
        "timestamp": {"type": "number", "description": "Evaluation time, unix seconds."},
        "stale": {"type": "boolean", "description": "True: Prometheus is unreachable and this "
                  "is the last good snapshot."},
        "age": {"type": "number", "description": "Seconds since evaluation."},
        "metrics": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "title": {"type": "string"}, "unit": {"type": "string"},
            "samples": {"type": "array", "items": ref("Sample")}}}},
        "errors": {"type": "object", "additionalProperties": ref("Error"),
                   "description": "Metrics whose query failed, by name."},
        "warnings": {"type": "array", "items": {"type": "string"}}}},
    "History": {"type": "object", "properties": {
        "metric": {"type": "string"}, "title": {"type": "string"}, "unit": {"type": "string"},
        "start": {"type": "number"}, "end": {"type": "number"}, "step": {"type": "number"},
        "series": {"type": "array", "items": {"type": "object", "properties": {
            "instance": {"type": "string"}, "labels": LABELS,
            "points": {"type": "array", "description": "[timestamp, value] pairs",
                       "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                 "items": NUMBER}}}}},
        "warnings": {"type": "array", "items": {"type": "string"}}}},
    "Catalog": {"type": "object", "properties": {"metrics": {"type": "array", "items": {
        "type": "object", "properties": {k: {"type": "string"} for k in
                                         ("name", "title", "unit", "description", "query")}}}}},
    "Instances": {"type": "object", "properties": {
        "instances": {"type": "array", "items": {"type": "object", "properties": {
            "instance": {"type": "string"}, "job": {"type": "string"},
            "up": {"type": "boolean"}, "labels": LABELS, "timestamp": {"type": "number"},
            "state": {"type": "string", "enum": ["up", "down", "stale"]}}}},
        "warnings": {"type": "array", "items": {"type": "string"}}}},
    "PrometheusAnswer": {"type": "object", "description": "Prometheus' own envelope.",
                         "properties": {"status": {"type": "string", "enum": ["success"]},
                                        "data": {"type": "object"},
                                        "warnings": {"type": "array",
                                                     "items": {"type": "string"}},
                                        "infos": {"type": "array",
                                                  "items": {"type": "string"}}}},
}

PATHS: dict[str, Any] = {
    "/api/metrics": {"get": {
        "summary": "The metric catalog.",
        "responses": {"200": ok("Catalog", "Every catalog metric."),
                      **errors("401", "403")}}},
    "/api/metrics/current": {"get": {
        "summary": "Every catalog metric's current value per instance (cached, single-flight). "
                   "While Prometheus is unreachable: the last good snapshot with stale=true "
                   "(up to metrics.max_stale seconds old), else 503.",
        "parameters": [INSTANCE],
        "responses": {"200": ok("Snapshot", "The current snapshot."),
                      **errors("401", "403", "503", "504")}}},
    "/api/metrics/{name}": {"get": {
        "summary": "History of one catalog metric per instance.",
        "parameters": [param("name", "Catalog metric name (GET /api/metrics).", where="path",
                             required=True), *RANGE_PARAMS, INSTANCE],
        "responses": {"200": ok("History", "Points at the step."),
                      **errors("400", "401", "403", "404", "422", "502", "503", "504")}}},
    "/api/instances": {"get": {
        "summary": "Hosts scraped with the exporter (from `up`), up or down.",
        "responses": {"200": ok("Instances", "Targets."),
                      **errors("401", "403", "502", "503", "504")}}},
    "/api/query": {"get": {
        **scoped("admin"),
        "summary": f"Raw PromQL instant query. {RAW}",
        "parameters": [param("query", "PromQL.", PROMQL, required=True),
                       param("time", f"Evaluation time. {TIME} Default: now.", TIME_SCHEMA)],
        "responses": {"200": ok("PrometheusAnswer", "Prometheus' answer."),
                      **errors("400", "401", "403", "404", "422", "502", "503", "504")}}},
    "/api/query_range": {"get": {
        **scoped("admin"),
        "summary": f"Raw PromQL range query. {RAW}",
        "parameters": [param("query", "PromQL.", PROMQL, required=True), *RANGE_PARAMS],
        "responses": {"200": ok("PrometheusAnswer", "Prometheus' answer (stitched matrix)."),
                      **errors("400", "401", "403", "404", "422", "502", "503", "504")}}},
}


def paths(metric_names: list[str]) -> dict[str, Any]:
    """The routes for this bridge: `metric_names` are its catalog's (the `{name}` enum)."""
    result = {path: dict(ops) for path, ops in PATHS.items()}
    history = dict(result["/api/metrics/{name}"]["get"])
    history["parameters"] = [
        {**p, "schema": {"type": "string", "enum": list(metric_names)}} if p["name"] == "name"
        else p for p in history["parameters"]]
    result["/api/metrics/{name}"] = {"get": history}
    return result
