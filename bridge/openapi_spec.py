"""The OpenAPI 3.1 description of the REST endpoints (data only; served by `bridge.openapi`).

Other features describe their own routes with `bridge.openapi.document(app, paths, schemas)`.

The schemas are meant to be as strict as the server: a request they allow is accepted, so a
generated client, and schemathesis (`make test`, `make fuzz`), agree with the server. Where
a rule is not expressible as a per-field schema (start before end, points per series, PromQL's
grammar), the description says so. Patterns use `[0-9]`, never `\\d` (which is Unicode in some
engines), and are anchored.
"""

from __future__ import annotations

from typing import Any

from bridge.params import MAX_PROMQL

ERROR_STATUSES = {
    "400": "Bad request: a parameter is invalid (the detail names it), or Prometheus `bad_data`.",
    "401": "A valid token is required.",
    "403": "Forbidden (origin not allowed).",
    "404": "Not found (unknown metric lists the valid names).",
    "422": "Prometheus could not evaluate the query (`execution`).",
    "429": "This client's share is used up (e.g. streams.max_pollers_per_address).",
    "502": "Prometheus answered something that is not its API.",
    "503": "Prometheus is unreachable.",
    "504": "Prometheus timed out.",
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def ok(schema: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": ref(schema)}}}


def errors(*codes: str) -> dict[str, Any]:
    """Error answers, all with the shared Error body."""
    return {code: {"description": ERROR_STATUSES[code],
                   "content": {"application/json": {"schema": ref("Error")}}} for code in codes}


def param(name: str, description: str, schema: dict[str, Any] | None = None,
          where: str = "query", required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema or {"type": "string"}, **extra}


INSTANCE = param("instance", "Only these instances (repeat the parameter or separate with "
                 "commas).", {"type": "array", "items": {"type": "string"}},
                 style="form", explode=True)
TIME = "Unix seconds (`1764100000.5`) or RFC 3339 (`2026-11-25T20:00:00Z`; no offset = UTC)."
# RFC 3339 as the bridge reads it, within years 1000-9999 and days 01-28 of any month: a
# subset every month has (the server also takes the 29th to 31st where they exist).
RFC3339 = (r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]"
           r":[0-5][0-9](\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-9]|2[0-3]):[0-5][0-9])?")
UNIX_SECONDS = r"-?[0-9]{1,11}(\.[0-9]{1,6})?"
# An empty value means "not given" (the default), as for every optional parameter.
TIME_SCHEMA = {"type": "string", "pattern": f"^({UNIX_SECONDS}|{RFC3339})?$"}
# Seconds (> 0), or a Prometheus duration of one unit (the server also takes `1h30m`).
DURATION_SCHEMA = {"type": "string", "pattern": r"^([1-9][0-9]{0,7}(\.[0-9]{1,3})?|"
                   r"0\.[0-9]{0,2}[1-9]|[1-9][0-9]{0,3}(ms|s|m|h|d|w|y))?$"}
# PromQL: not blank (its grammar is Prometheus' to check: `bad_data` when it refuses).
PROMQL = {"type": "string", "minLength": 1, "maxLength": MAX_PROMQL, "pattern": r"\S"}
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
RAW = "Needs `metrics.raw_queries: true` (else 404) and the token (`Authorization: Bearer`)."
NUMBER = {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "+Inf", "-Inf"]}]}
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
CHECK = {"type": "object", "properties": {
    "ok": {"type": ["boolean", "null"]}, "latency": {"type": ["number", "null"]},
    "error": {"type": ["string", "null"]}}}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "detail"], "properties": {
        "error": {"type": "string", "description": "Stable code: bad_request, unauthorized, "
                  "forbidden, not_found, bad_data, execution, unavailable, timeout, "
                  "bad_upstream, ..."},
        "detail": {"type": "string", "description": "What is wrong, for humans."},
        "parameter": {"type": "string", "description": "The offending query parameter."},
        "valid": {"type": "array", "items": {"type": "string"},
                  "description": "Valid metric names (unknown metric)."}}},
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
    "Health": {"type": "object", "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "version": {"type": "string"}, "uptime": {"type": "number"},
        "checks": {"type": "object", "additionalProperties": CHECK}}},
}

PATHS: dict[str, Any] = {
    "/health": {"get": {
        "summary": "Liveness: always 200 while running, with dependency checks.",
        "responses": {"200": ok("Health", "`ok`, or `degraded` when a check fails.")}}},
    "/ready": {"get": {
        "summary": "Readiness: 503 while Prometheus is unreachable.",
        "responses": {"200": {"description": "Ready."}, **errors("503")}}},
    "/api/metrics": {"get": {
        "summary": "The metric catalog.",
        "responses": {"200": ok("Catalog", "Every catalog metric."), **errors("401")}}},
    "/api/metrics/current": {"get": {
        "summary": "Every catalog metric's current value per instance (cached, single-flight). "
                   "While Prometheus is unreachable: the last good snapshot with stale=true "
                   "(up to metrics.max_stale seconds old), else 503.",
        "parameters": [INSTANCE],
        "responses": {"200": ok("Snapshot", "The current snapshot."),
                      **errors("401", "503", "504")}}},
    "/api/metrics/{name}": {"get": {
        "summary": "History of one catalog metric per instance.",
        "parameters": [param("name", "Catalog metric name (GET /api/metrics).", where="path",
                             required=True), *RANGE_PARAMS, INSTANCE],
        "responses": {"200": ok("History", "Points at the step."),
                      **errors("400", "401", "404", "422", "502", "503", "504")}}},
    "/api/instances": {"get": {
        "summary": "Hosts scraped with the exporter (from `up`), up or down.",
        "responses": {"200": ok("Instances", "Targets."),
                      **errors("401", "502", "503", "504")}}},
    "/api/query": {"get": {
        "security": [{"bearer": []}],
        "summary": f"Raw PromQL instant query. {RAW}",
        "parameters": [param("query", "PromQL.", PROMQL, required=True),
                       param("time", f"Evaluation time. {TIME} Default: now.", TIME_SCHEMA)],
        "responses": {"200": ok("PrometheusAnswer", "Prometheus' answer."),
                      **errors("400", "401", "404", "422", "502", "503", "504")}}},
    "/api/query_range": {"get": {
        "security": [{"bearer": []}],
        "summary": f"Raw PromQL range query. {RAW}",
        "parameters": [param("query", "PromQL.", PROMQL, required=True), *RANGE_PARAMS],
        "responses": {"200": ok("PrometheusAnswer", "Prometheus' answer (stitched matrix)."),
                      **errors("400", "401", "404", "422", "502", "503", "504")}}},
    "/metrics": {"get": {
        "summary": "The bridge's own metrics (Prometheus text format).",
        "responses": {"200": {"description": "Prometheus exposition format.",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    "/api/openapi.json": {"get": {
        "summary": "This document.",
        "responses": {"200": {"description": "OpenAPI 3 document."}}}},
    "/docs": {"get": {
        "summary": "A page rendering this document.",
        "responses": {"200": {"description": "HTML.",
                              "content": {"text/html": {"schema": {"type": "string"}}}}}}},
}


def base_document(version: str, metric_names: list[str]) -> dict[str, Any]:
    """The document for this bridge: `metric_names` are its catalog's (the `{name}` enum)."""
    paths = {path: dict(ops) for path, ops in PATHS.items()}
    history = dict(paths["/api/metrics/{name}"]["get"])
    history["parameters"] = [
        {**p, "schema": {"type": "string", "enum": list(metric_names)}} if p["name"] == "name"
        else p for p in history["parameters"]]
    paths["/api/metrics/{name}"] = {"get": history}
    return {
        "openapi": "3.1.0",
        "info": {"title": "promwire bridge", "version": version,
                 "description": "Prometheus and Alertmanager re-served as REST, WebSocket and "
                 "SSE. Every error is JSON {\"error\", \"detail\"}. Reads need the token only "
                 "with auth.protect_reads; writes always do."},
        "components": {
            "schemas": dict(SCHEMAS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        # The token is optional for reads (needed with auth.protect_reads); operations that
        # always need it say so with their own `security`.
        "security": [{}, {"bearer": []}],
        "paths": paths,
    }
