"""OpenAPI descriptions of the alert endpoints, added to /api/openapi.json by `setup`."""

from __future__ import annotations

from typing import Any

from bridge.openapi_spec import ok, param, ref

LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Alert": {"type": "object", "required": [
        "fingerprint", "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
        "source", "updatedAt"], "properties": {
        "fingerprint": {"type": "string", "description": "Alertmanager's fingerprint."},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "labels": LABELS, "annotations": LABELS, "startsAt": TIME,
        "endsAt": {**TIME, "nullable": True, "description": "null while firing."},
        "generatorURL": {"type": "string"},
        "source": {"type": "string", "enum": ["alertmanager", "manual", "reconcile"]},
        "updatedAt": TIME}},
    "AlertEvent": {"type": "object", "required": [
        "type", "seq", "epoch", "event", "status", "timestamp", "alert"], "properties": {
        "type": {"type": "string", "enum": ["alert"]},
        "seq": {"type": "integer", "description": "Position in the event log."},
        "epoch": {"type": "string", "description": "The log's id; changes only on reset."},
        "event": {"type": "string", "enum": ["firing", "resolved", "refired", "updated"]},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "timestamp": TIME, "alert": ref("Alert")}},
    "CurrentAlerts": {"type": "object", "required": ["epoch", "seq", "alerts"], "properties": {
        "epoch": {"type": "string"}, "seq": {"type": "integer"},
        "alerts": {"type": "array", "items": ref("Alert")}}},
    "AlertHistory": {"type": "object", "required": [
        "epoch", "first_seq", "last_seq", "next", "events"], "properties": {
        "epoch": {"type": "string"},
        "first_seq": {"type": "integer", "nullable": True},
        "last_seq": {"type": "integer"},
        "next": {"type": "integer", "nullable": True, "description": "`since` of the next "
                 "page; null at the end of the log."},
        "events": {"type": "array", "items": ref("AlertEvent")}}},
    "WebhookAccepted": {"type": "object", "properties": {
        "status": {"type": "string"}, "alerts": {"type": "integer"},
        "events": {"type": "integer"}, "seq": {"type": "integer"}}},
    "ManualAlert": {"type": "object", "required": ["labels"], "properties": {
        "labels": {**LABELS, "description": "Must include alertname."},
        "annotations": LABELS,
        "status": {"type": "string", "enum": ["firing", "resolved"], "default": "firing"},
        "startsAt": TIME, "endsAt": TIME, "generatorURL": {"type": "string"}}},
}


def _errors(**codes: str) -> dict[str, Any]:
    return {code.removeprefix("e"): {
        "description": text, "content": {"application/json": {"schema": ref("Error")}}}
        for code, text in codes.items()}


FILTER = param("filter", 'Alertmanager matcher, repeatable, ANDed: severity="critical", '
               'alertname=~"Host.*", {a="1",b!="2"}.', explode=True)
BAD_FILTER = _errors(e400="A bad matcher or parameter (the detail says which).",
                     e401="A valid token is required (auth.protect_reads).")
STREAM = ("Frames: snapshot, alert (Alert event), heartbeat, resync, error; see the README's "
          "alerts section. Resume with since + epoch.")

PATHS: dict[str, Any] = {
    "/api/alerts": {"get": {
        "summary": "Firing alerts, optionally filtered.", "tags": ["alerts"],
        "parameters": [FILTER],
        "responses": {"200": ok("CurrentAlerts", "The firing alerts and the log position."),
                      **BAD_FILTER}}},
    "/api/alerts/history": {"get": {
        "summary": "The alert event log, oldest first, paginated.", "tags": ["alerts"],
        "parameters": [
            param("since", "Events after this seq (default: the oldest kept).",
                  {"type": "integer", "minimum": 0}),
            param("limit", "Page size (default 100, at most alerts.history_limit).",
                  {"type": "integer", "minimum": 1}), FILTER],
        "responses": {"200": ok("AlertHistory", "A page of events."), **BAD_FILTER,
                      **_errors(e503="The alert store cannot be read, or too many history "
                                     "queries run at once (alerts.history_concurrency): "
                                     "retry.")}}},
    "/api/alerts/webhook": {"post": {
        "summary": "Alertmanager webhook receiver (payload version 4).", "tags": ["alerts"],
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "description": "Alertmanager's webhook payload."}}}},
        "responses": {
            "200": ok("WebhookAccepted", "Stored durably (committed) before this answer."),
            **_errors(e400="Malformed JSON, wrong version, a missing field or a bad type.",
                      e401="A valid token is required (Bearer, or Basic with it as password).",
                      e413="Body over alerts.max_body_bytes.",
                      e503="The store cannot write (locked, disk full): retry.")}}},
    "/api/ws/broadcast/alert": {"post": {
        "summary": "Store and broadcast a manual alert.", "tags": ["alerts"],
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": ref("ManualAlert")}}},
        "responses": {
            "200": {"description": "Stored; `event` is the Alert event it caused (or null)."},
            **_errors(e400="Invalid body (the detail names the field).",
                      e401="A valid token is required.", e413="Body too large.",
                      e503="The store cannot write: retry.")}}},
    "/api/ws/ws/alerts": {"get": {
        "summary": "Alert stream over WebSocket.", "description": STREAM, "tags": ["alerts"],
        "parameters": [FILTER, param("since", "Resume after this seq.", {"type": "integer"}),
                       param("epoch", "The epoch `since` belongs to.")],
        "responses": {"101": {"description": "Switching to WebSocket."},
                      **_errors(e401="A valid token is required (auth.protect_reads).",
                                e403="Origin not allowed.",
                                e503="Too many alert subscribers.")}}},
    "/api/sse/alerts": {"get": {
        "summary": "Alert stream as server-sent events.", "tags": ["alerts"],
        "description": STREAM + " SSE ids are EPOCH:SEQ; Last-Event-ID resumes.",
        "parameters": [FILTER, param("since", "Resume after this seq.", {"type": "integer"}),
                       param("epoch", "The epoch `since` belongs to."),
                       param("Last-Event-ID", "EPOCH:SEQ to resume after.", where="header")],
        "responses": {"200": {"description": "text/event-stream of alert frames."},
                      **BAD_FILTER, **_errors(e403="Origin not allowed.",
                                              e503="Too many alert subscribers.")}}},
}
