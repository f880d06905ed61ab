"""OpenAPI descriptions of the alert endpoints, assembled into /api/openapi.json by
`bridge.openapi`.

The webhook body is Alertmanager's webhook payload, version 4, as `bridge.alerts.model` reads
it: label names as Prometheus' (`[a-zA-Z_][a-zA-Z0-9_]*`), times RFC 3339 within the years the
store can print back. Filters are Alertmanager matchers; their schema describes the quoted
single-matcher form, with regexes from an alphabet that is always valid RE2 (the server also
takes `{a="1",b!~"x|y"}` lists, unquoted values and any RE2 regex).
"""

from __future__ import annotations

from typing import Any

from bridge.alerts.model import EVENT_KINDS
from bridge.apischema import LOG_TIME_SCHEMA, ok, param, ref, scoped
from bridge.apischema import TIME as TIME_DOC
from bridge.config import AlertsConfig

LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
KINDS = "(" + "|".join((*EVENT_KINDS, "silence")) + ")"
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
LABEL_SET = {"type": "object", "propertyNames": {"pattern": LABEL_NAME},
             "additionalProperties": {"type": "string"}}
TIME = {"type": "string", "format": "date-time"}
# RFC 3339 from 1980 to 2999, days 01-28: a time the store keeps and prints back as it came
# (the server also takes other days, years from 1970 to 9999 and a space for the T).
RFC3339 = (r"^(19[89][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3])"
           r":[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$")
GIVEN_TIME = {"type": "string", "pattern": RFC3339, "description": "RFC 3339."}
# Go's zero time, which Alertmanager sends as the endsAt of a firing alert: "not set".
UNSET_TIME = {"type": "string", "enum": ["0001-01-01T00:00:00Z"]}
OPTIONAL_TIME = {"anyOf": [GIVEN_TIME, UNSET_TIME, {"type": "null"}]}
STATUS = {"type": "string", "enum": ["firing", "resolved"]}
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]{0,63}"
_VALUE = r'"([^"\\]|\\["\\n]){0,128}"'
_REGEX = r'"([A-Za-z0-9_ :-]|\.\*?|\|){0,64}"'
MATCHER = {"type": "string", "minLength": 1,
           "pattern": rf"^{_NAME}(!?={_VALUE}|(=~|!~){_REGEX})$"}

CLUSTER = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]{0,62}$",
           "description": "An Alertmanager cluster's name (alertmanager.clusters; `default` for "
                          "alertmanager.url and manual alerts)."}
EVENT_KINDS = ["firing", "resolved", "refired", "updated", "suppressed", "unsuppressed"]

SCHEMAS: dict[str, Any] = {
    "Alert": {"type": "object", "required": [
        "fingerprint", "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
        "source", "updatedAt", "cluster", "state", "silencedBy", "inhibitedBy"], "properties": {
        "fingerprint": {"type": "string", "description": "Alertmanager's fingerprint."},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "labels": LABELS, "annotations": LABELS, "startsAt": TIME,
        "endsAt": {"type": ["string", "null"], "format": "date-time",
                   "description": "null while firing."},
        "generatorURL": {"type": "string"},
        "source": {"type": "string", "enum": ["alertmanager", "manual", "reconcile",
                                              "prometheus"],
                   "description": "prometheus: backfilled from ALERTS (history only)."},
        "updatedAt": TIME,
        "cluster": {**CLUSTER, "description": "The cluster it is in: alerts are keyed by "
                    "(cluster, fingerprint)."},
        "state": {"type": "string", "enum": ["active", "suppressed"],
                  "description": "Alertmanager's status.state as reconciliation last read it "
                                 "(resolved alerts: active)."},
        "silencedBy": {"type": "array", "items": {"type": "string"},
                       "description": "Ids of the silences muting it."},
        "inhibitedBy": {"type": "array", "items": {"type": "string"},
                        "description": "Fingerprints of the alerts inhibiting it."},
        "ack": {**ref("AlertAck"), "description": "REST answers and snapshots: the active ack "
                "(null when none); not in events."}}},
    "AlertEvent": {"type": "object", "required": [
        "type", "seq", "epoch", "event", "status", "timestamp", "alert"], "properties": {
        "type": {"type": "string", "enum": ["alert"]},
        "seq": {"type": "integer", "description": "Position in the event log."},
        "epoch": {"type": "string", "description": "The log's id; changes only on reset."},
        "event": {"type": "string", "enum": EVENT_KINDS},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "timestamp": TIME, "alert": ref("Alert")}},
    "CurrentAlerts": {"type": "object", "required": ["epoch", "seq", "alerts"], "properties": {
        "epoch": {"type": "string"}, "seq": {"type": "integer"},
        "alerts": {"type": "array", "items": ref("Alert")}}},
    "AlertHistory": {"type": "object", "required": [
        "epoch", "first_seq", "last_seq", "next", "events"], "properties": {
        "epoch": {"type": "string"},
        "first_seq": {"type": ["integer", "null"]},
        "last_seq": {"type": "integer"},
        "next": {"type": ["integer", "null"], "description": "`since` of the next "
                 "page; null at the end of the log."},
        "events": {"type": "array", "items": {"anyOf": [ref("AlertEvent"),
                                                         ref("SilenceEvent")]}}}},
    "WebhookAccepted": {"type": "object", "properties": {
        "status": {"type": "string"}, "alerts": {"type": "integer"},
        "events": {"type": "integer"}, "seq": {"type": "integer"}}},
    "ManualAlert": {"type": "object", "required": ["labels"], "additionalProperties": False,
                    "properties": {
        "labels": {**LABEL_SET, "required": ["alertname"],
                   "properties": {"alertname": {"type": "string", "minLength": 1}},
                   "description": "Must include alertname."},
        "annotations": {**LABELS, "type": ["object", "null"]},
        "status": {**STATUS, "default": "firing"},
        "startsAt": OPTIONAL_TIME, "endsAt": OPTIONAL_TIME,
        "generatorURL": {"type": ["string", "null"]},
        "cluster": {**CLUSTER, "default": "default", "description": "`default` or a "
                    "configured cluster (400 otherwise)."}}},
    "AlertmanagerWebhook": {
        "type": "object", "required": ["version", "status", "receiver", "alerts"],
        "description": "Alertmanager's webhook_config payload, version 4. Other fields are "
                       "ignored.",
        "properties": {
            "version": {"type": "string", "enum": ["4"]},
            "groupKey": {"type": ["string", "null"]},
            "truncatedAlerts": {"type": "integer", "minimum": 0,
                                "description": "Alerts left out by max_alerts: the bridge "
                                               "then reconciles at once."},
            "status": STATUS, "receiver": {"type": "string"},
            "groupLabels": {**LABEL_SET, "type": ["object", "null"]},
            "commonLabels": {**LABEL_SET, "type": ["object", "null"]},
            "commonAnnotations": {**LABELS, "type": ["object", "null"]},
            "externalURL": {"type": ["string", "null"],
                            "description": "The sender: matched to a cluster's peers or "
                                           "external_urls unless ?cluster= names it."},
            "alerts": {"type": "array", "items": ref("AlertmanagerAlert")}}},
    "AlertmanagerAlert": {
        "type": "object", "required": ["status", "labels", "startsAt"], "properties": {
            "status": STATUS,
            "labels": {**LABEL_SET, "minProperties": 1},
            "annotations": {**LABELS, "type": ["object", "null"]},
            "startsAt": GIVEN_TIME, "endsAt": OPTIONAL_TIME,
            "generatorURL": {"type": ["string", "null"]},
            "fingerprint": {"type": ["string", "null"], "minLength": 1,
                            "description": "Alertmanager's; computed from the labels when "
                                           "absent."}}},
}


def _errors(**codes: str) -> dict[str, Any]:
    return {code.removeprefix("e"): {
        "description": text, "content": {"application/json": {"schema": ref("Error")}}}
        for code, text in codes.items()}


def filter_param(max_matchers: int) -> dict[str, Any]:
    return param("filter", 'Alertmanager matcher, repeatable, ANDed: severity="critical", '
                 f'alertname=~"Host.*", {{a="1",b!="2"}}; at most {max_matchers} in all '
                 "(alerts.max_matchers).",
                 {"type": "array", "items": MATCHER, "maxItems": max_matchers},
                 style="form", explode=True)


SINCE = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
READ_401 = "A valid token is required (auth.protect_reads)."
READ_403 = "The token lacks the `read` scope (auth.protect_reads)."
STATE = param("state", "active (default: alerts Alertmanager does not mute), suppressed or all. "
              "Lists and snapshots hold the alerts in that state; streams and history also "
              "carry every suppressed, unsuppressed and resolved event.",
              {"type": "string", "enum": ["active", "suppressed", "all"], "default": "active"})
CLUSTER_PARAM = param("cluster", "Only this cluster's alerts (400 for an unknown one).", CLUSTER)
BAD_FILTER = _errors(e400="A bad matcher or parameter (the detail says which).",
                     e401=READ_401, e403=READ_403)
STREAM = ("Frames: snapshot, alert (Alert event), silence (SilenceEvent: to every subscriber "
          "of its cluster, whatever the filter and state; without cluster=, every one), "
          "heartbeat, resync, status (the alert store unreachable / back), error; see the "
          "README's alerts section. Resume with since + epoch.")


def paths(config: AlertsConfig) -> dict[str, Any]:
    """The alert endpoints, with this bridge's limits (matchers, history page size)."""
    matchers = filter_param(config.max_matchers)
    resume = [param("since", "Resume after this seq.", SINCE),
              param("epoch", "The epoch `since` belongs to.", {"type": "string", "minLength": 1})]
    return {
        "/api/alerts": {"get": {
            "summary": "Firing alerts, optionally filtered.", "tags": ["alerts"],
            "parameters": [matchers, STATE, CLUSTER_PARAM],
            "responses": {"200": ok("CurrentAlerts", "The firing alerts and the log position."),
                          **BAD_FILTER}}},
        "/api/alerts/history": {"get": {
            "summary": "The alert event log, oldest first, paginated.", "tags": ["alerts"],
            "parameters": [
                param("since", "Events after this seq (default: the oldest kept).", SINCE),
                param("limit", f"Page size (default {min(100, config.history_limit)}, at most "
                      f"{config.history_limit}: alerts.history_limit).",
                      {"type": "integer", "minimum": 1, "maximum": config.history_limit}),
                matchers, STATE, CLUSTER_PARAM,
                param("kinds", "Only these event kinds, comma-separated (" + ",".join(EVENT_KINDS)
                      + "; silence: the silence events).",
                      {"type": "string", "pattern": f"^({KINDS}(,{KINDS})*)?$"}),
                param("start", "Events whose `timestamp` is at or after this time. " + TIME_DOC,
                      LOG_TIME_SCHEMA),
                param("end", "Events whose `timestamp` is at or before this time (not before "
                      "start). " + TIME_DOC, LOG_TIME_SCHEMA)],
            "responses": {"200": ok("AlertHistory", "A page of events."), **BAD_FILTER,
                          **_errors(e503="The alert store cannot be read, or too many history "
                                         "queries run at once "
                                         "(alerts.history_concurrency): retry.")}}},
        "/api/alerts/webhook": {"post": {
            "summary": "Alertmanager webhook receiver (payload version 4).", "tags": ["alerts"],
            "description": "Needs a token with the `webhook` scope; accepted in read-only mode "
                           "too (auth.read_only), so the alerts stay current.",
            **scoped("webhook"),
            "parameters": [param("cluster", "The sending cluster, when its externalURL is not "
                                 "one of its peers' (400 for an unknown one).", CLUSTER)],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": ref("AlertmanagerWebhook")}}},
            "responses": {
                "200": ok("WebhookAccepted", "Stored durably (committed) before this answer."),
                **_errors(e400="Malformed JSON, wrong version, a missing field or a bad type; "
                               "a sender that is no configured cluster's.",
                          e401="A valid token is required (Bearer, or Basic with it as "
                               "password).",
                          e403="The token lacks the `webhook` scope.",
                          e408="The body did not arrive within http.body_timeout.",
                          e413="Body over alerts.max_body_bytes.",
                          e503="The store cannot write (locked, disk full): retry.")}}},
        "/api/ws/broadcast/alert": {"post": {
            "summary": "Store and broadcast a manual alert.", "tags": ["alerts"],
            "description": "Needs a token with the `admin` scope; refused in read-only mode.",
            **scoped("admin"),
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": ref("ManualAlert")}}},
            "responses": {
                "200": {"description": "Stored; `event` is the Alert event it caused (or "
                                       "null)."},
                **_errors(e400="Invalid body (the detail names the field).",
                          e401="A valid token is required.",
                          e403="The token lacks the `admin` scope, or read-only mode "
                               "(auth.read_only).",
                          e408="The body did not arrive within http.body_timeout.",
                          e413="Body too large.", e503="The store cannot write: retry.")}}},
        "/api/ws/ws/alerts": {"get": {
            "summary": "Alert stream over WebSocket.", "description": STREAM,
            "tags": ["alerts"], "parameters": [matchers, STATE, CLUSTER_PARAM, *resume],
            "responses": {"101": {"description": "Switching to WebSocket. Bad parameters are "
                                                 "then an error frame and close 1008."},
                          **_errors(e400="A malformed Authorization or handshake header.",
                                    e401=READ_401,
                                    e403="Origin not allowed, or the token lacks the `read` "
                                         "scope (auth.protect_reads).",
                                    e503="Too many alert subscribers.")}}},
        "/api/sse/alerts": {"get": {
            "summary": "Alert stream as server-sent events.", "tags": ["alerts"],
            "description": STREAM + " SSE ids are EPOCH:SEQ; Last-Event-ID resumes.",
            "parameters": [matchers, STATE, CLUSTER_PARAM, *resume,
                           param("Last-Event-ID", "EPOCH:SEQ to resume after.",
                                 {"type": "string", "pattern": "^.+:[0-9]{1,18}$"},
                                 where="header")],
            "responses": {"200": {"description": "text/event-stream of alert frames."},
                          **BAD_FILTER, **_errors(e403="Origin not allowed, or the token "
                                                       "lacks the `read` scope.",
                                                  e503="Too many alert subscribers.")}}},
    }
