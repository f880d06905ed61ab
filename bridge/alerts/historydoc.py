"""OpenAPI descriptions of the alert groups and per-alert timeline endpoints (issue 13), added
to /api/openapi.json with `bridge.openapi.document` by their modules' `setup`."""

from __future__ import annotations

from typing import Any

from bridge.alerts.apidoc import BAD_FILTER, SINCE, filter_param
from bridge.apischema import errors, ok, param, ref
from bridge.config import AlertsConfig

_NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,62}$"}
CLUSTER = param("cluster", "One cluster (its name in alertmanager.clusters; `default` for "
                "alertmanager.url).", {**_NAME, "pattern": "^([a-z0-9][a-z0-9_.-]{0,62})?$"})
STATE = param("state", "active (default: what the webhook is told), suppressed, or all.",
              {"type": "string", "enum": ["active", "suppressed", "all"]})

SCHEMAS: dict[str, Any] = {
    "GroupedAlert": {"allOf": [ref("Alert"), {"type": "object", "required": [
        "cluster", "state", "silencedBy", "inhibitedBy"], "properties": {
        "cluster": {"type": "string"},
        "state": {"type": "string", "enum": ["active", "suppressed"]},
        "silencedBy": {"type": "array", "items": {"type": "string"}},
        "inhibitedBy": {"type": "array", "items": {"type": "string"}}}}]},
    "AlertGroups": {"type": "object", "required": ["groups", "errors"], "properties": {
        "groups": {"type": "array", "items": {"type": "object", "required": [
            "cluster", "receiver", "labels", "alerts"], "properties": {
            "cluster": {"type": "string"}, "receiver": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "alerts": {"type": "array", "items": ref("GroupedAlert")}}}},
        "errors": {"type": "array", "description": "Clusters that could not be read (the "
                   "others' groups are still listed).", "items": {"type": "object",
                   "required": ["cluster", "error", "detail"], "properties": {
                       "cluster": {"type": "string"}, "error": {"type": "string"},
                       "detail": {"type": "string"}}}}}},
    "AlertTimeline": {"type": "object", "required": ["cluster", "fingerprint", "next",
                                                     "events"], "properties": {
        "cluster": {"type": "string"}, "fingerprint": {"type": "string"},
        "next": {"type": ["integer", "null"], "description": "`since` of the next page; "
                 "null after the last."},
        "events": {"type": "array", "items": ref("AlertEvent")}}},
}


def paths(config: AlertsConfig) -> dict[str, Any]:
    return {
        "/api/alerts/groups": {"get": {
            "summary": "Alert groups as Alertmanager routes them, per cluster.",
            "description": "Each cluster's /api/v2/alerts/groups through its active peer "
                           "(failover). Clusters that cannot be read are listed in `errors`; "
                           "503 when none can.", "tags": ["alerts"],
            "parameters": [CLUSTER, filter_param(config.max_matchers), STATE],
            "responses": {"200": ok("AlertGroups", "The groups."), **BAD_FILTER,
                          **errors("502", "503")}}},
        "/api/alerts/{fingerprint}/timeline": {"get": {
            "summary": "Every event of one alert, in seq order, paginated.",
            "description": "Backfilled events (alert source `prometheus`) were stored after "
                           "they happened: sort by `timestamp` to draw them in time.",
            "tags": ["alerts"],
            "parameters": [
                param("fingerprint", "The alert's fingerprint.",
                      {"type": "string", "minLength": 1, "maxLength": 128}, where="path",
                      required=True),
                CLUSTER,
                param("since", "Events after this seq (default: the oldest kept).", SINCE),
                param("limit", f"Page size (default and at most {config.history_limit}: "
                      "alerts.history_limit).",
                      {"type": "integer", "minimum": 1, "maximum": config.history_limit})],
            "responses": {"200": ok("AlertTimeline", "The alert's events."), **BAD_FILTER,
                          **errors("404", "503")}}},
    }
