"""OpenAPI descriptions of the silence and ack endpoints (added with `bridge.openapi.document`
by `bridge.alerts.silence_routes.setup`), and the Silence, silence event and ack shapes.

Cross-field rules a per-field schema cannot state (endsAt after startsAt and in the future,
endsAt or duration, a cluster that is configured, an id Alertmanager knows) are in the
descriptions; the server answers 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from bridge.alerts.apidoc import GIVEN_TIME, MATCHER, TIME
from bridge.apischema import ok, param, ref, scoped

_DURATION = {"type": "string", "pattern": r"^[1-9][0-9]{0,2}(m|h)$",
             "description": "Like 30m or 2h (the server also takes 1h30m, seconds, 1d)."}
# At most 24h: 1-24h or 1-1440m.
_ACK_DURATION = {"type": ["string", "null"],
                 "pattern": r"^(([1-9]|1[0-9]|2[0-4])h|([1-9][0-9]{0,2}|"
                            r"1[0-3][0-9]{2}|14[0-3][0-9]|1440)m)$",
                 "description": "Default 1h (also when null), at most 24h (the server also "
                                "takes 1h30m, seconds)."}
# One `{...}` list of the matchers MATCHER allows.
_ONE = MATCHER["pattern"][1:-1]
_MATCHER_LIST = {"type": "string", "pattern": rf"^\{{{_ONE}(,{_ONE}){{0,31}}\}}$",
                 "description": "One list: {alertname=\"X\",severity=~\"crit.*\"}."}
_NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9_.-]+$"}
_ID = {"type": "string", "pattern": r"^[A-Za-z0-9-]{1,64}$"}
_COMMENT = {"type": "string", "minLength": 1, "maxLength": 2000,
            "pattern": r"[^ \t\n\r\f\v]", "description": "Not blank."}
_STATE = {"type": "string", "enum": ["active", "pending", "expired"]}

SCHEMAS: dict[str, Any] = {
    "SilenceMatcher": {"type": "object", "required": ["name", "value", "isRegex", "isEqual"],
                       "properties": {"name": {"type": "string"}, "value": {"type": "string"},
                                      "isRegex": {"type": "boolean"},
                                      "isEqual": {"type": "boolean"}}},
    "Silence": {"type": "object", "required": [
        "cluster", "id", "matchers", "startsAt", "endsAt", "createdBy", "comment", "state",
        "ack"], "properties": {
        "cluster": {"type": "string"}, "id": {"type": "string"},
        "matchers": {"type": "array", "items": ref("SilenceMatcher")},
        "startsAt": TIME, "endsAt": TIME, "createdBy": {"type": "string"},
        "comment": {"type": "string"}, "state": _STATE,
        "ack": {"anyOf": [{"type": "null"}, {
            "type": "object", "required": ["fingerprint"],
            "properties": {"fingerprint": {"type": "string"}}}],
            "description": "The alert an ack (comment \"ACK! ...\", equality matchers only) "
                           "names."}}},
    "ListedSilence": {"allOf": [ref("Silence"), {
        "type": "object", "required": ["matches", "matchesNothing"], "properties": {
            "matches": {"type": "array", "items": {
                "type": "object", "required": ["cluster", "fingerprint"], "properties": {
                    "cluster": {"type": "string"}, "fingerprint": {"type": "string"}}}},
            "matchesNothing": {"type": "boolean",
                               "description": "No firing alert matches it."}}}]},
    "SilenceList": {"type": "object", "required": ["silences"], "properties": {
        "silences": {"type": "array", "items": ref("ListedSilence")}}},
    "SilenceAnswer": {"type": "object", "required": ["silence"],
                      "properties": {"silence": ref("Silence")}},
    "SilenceEvent": {"type": "object", "required": [
        "type", "seq", "epoch", "event", "timestamp", "by", "silence"], "properties": {
        "type": {"type": "string", "enum": ["silence"]},
        "seq": {"type": "integer", "description": "Position in the event log (shared with "
                "alert events)."},
        "epoch": {"type": "string"},
        "event": {"type": "string", "enum": ["created", "updated", "expired"]},
        "timestamp": TIME,
        "by": {"type": ["string", "null"], "description": "Who made the change: the token's "
               "name through the bridge, the author for one seen in Alertmanager, null for an "
               "expiry seen there, \"promwire\" for an ack expired as its alert resolved, "
               "\"promwire (ack extension)\" for an ack extended while its alert fires."},
        "silence": ref("Silence")}},
    "AlertAck": {"type": ["object", "null"], "required": [
        "by", "comment", "since", "until", "silenceID"], "properties": {
        "by": {"type": "string", "description": "Who acked (the silence's createdBy, kept "
               "when the bridge extends the ack)."}, "comment": {"type": "string",
                                              "description": "Without the \"ACK! \" prefix."},
        "since": TIME, "until": {**TIME, "description": "The ack's end, moved later while "
                                 "the alert fires (alerts.ack_extend)."},
        "silenceID": {"type": "string"}}},
    "SilenceRequest": {
        "type": "object", "additionalProperties": False, "required": ["comment"],
        "description": "matchers are required to create; endsAt or duration (not both) to "
                       "create; endsAt after startsAt and in the future, within 366 days. "
                       "cluster may be left out when one is configured. With id: an update "
                       "(unset fields keep the silence's).",
        "properties": {
            "cluster": _NAME, "id": _ID,
            "matchers": {"anyOf": [
                {"type": "array", "items": MATCHER, "minItems": 1, "maxItems": 32},
                _MATCHER_LIST]},
            "startsAt": GIVEN_TIME, "endsAt": GIVEN_TIME, "duration": _DURATION,
            "comment": _COMMENT}},
    "AckRequest": {
        "type": "object", "additionalProperties": False, "required": ["comment"],
        "properties": {"comment": _COMMENT, "duration": _ACK_DURATION}},
}


def _errors(**codes: str) -> dict[str, Any]:
    return {code.removeprefix("e"): {
        "description": text, "content": {"application/json": {"schema": ref("Error")}}}
        for code, text in codes.items()}


WRITE_ERRORS = _errors(
    e400="Bad input (the detail names the field), an unknown cluster, or Alertmanager's 4xx "
         "(its text).",
    e401="A valid token is required.",
    e403="The token lacks the `silence` scope, or the bridge is read-only (auth.read_only).",
    e408="The body did not arrive within http.body_timeout.", e413="Body too large.",
    e503="Alertmanager unreachable (or the silences not loaded yet).")
WRITE = {"tags": ["silences"], **scoped("silence")}

PATHS: dict[str, Any] = {
    "/api/silences": {
        "get": {"summary": "Known silences, with the firing alerts each matches.",
                "tags": ["silences"],
                "parameters": [param("cluster", "Only this cluster's.", _NAME),
                               param("state", "Only silences in this state (as of now).",
                                     _STATE)],
                "responses": {"200": ok("SilenceList", "Active, then pending, then expired."),
                              **_errors(e400="Unknown cluster or state.",
                                        e401="A valid token is required "
                                             "(auth.protect_reads).",
                                        e403="The token lacks the `read` scope "
                                             "(auth.protect_reads).",
                                        e503="The silences are not loaded yet.")}},
        "post": {"summary": "Create or update a silence (in Alertmanager; logged as an "
                            "event).", **WRITE,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": ref("SilenceRequest")}}},
                 "responses": {"200": ok("SilenceAnswer", "As Alertmanager now has it."),
                               **WRITE_ERRORS}}},
    "/api/silences/{cluster}/{id}": {"delete": {
        "summary": "Expire a silence.", **WRITE,
        "parameters": [param("cluster", "The silence's cluster.", _NAME, where="path",
                             required=True),
                       param("id", "The silence id.", _ID, where="path", required=True)],
        "responses": {"200": ok("SilenceAnswer", "The silence, expired."),
                      **_errors(e400="Unknown cluster, or Alertmanager's 4xx (unknown id).",
                                e401="A valid token is required.",
                                e403="The token lacks the `silence` scope, or the bridge is "
                                     "read-only.",
                                e503="Alertmanager unreachable.")}}},
    "/api/alerts/{fingerprint}/ack": {"post": {
        "summary": "Acknowledge a firing alert: a silence of exactly its labels, \"ACK! \" + "
                   "comment; extended while the alert fires (up to alerts.ack_max_duration), "
                   "expired when it resolves.", **WRITE,
        "parameters": [param("fingerprint", "The alert's fingerprint.",
                             {"type": "string", "minLength": 1}, where="path", required=True),
                       param("cluster", "The alert's cluster (needed when several have it).",
                             _NAME)],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": ref("AckRequest")}}},
        "responses": {"200": ok("SilenceAnswer", "The ack silence (an active ack of the "
                                                 "alert is extended)."),
                      **WRITE_ERRORS,
                      **_errors(e404="No firing alert with that fingerprint.")}}},
}


def for_clusters(names: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(PATHS, SCHEMAS) with this bridge's cluster names as the `cluster` enum (the server
    answers 400 for any other)."""
    cluster = {"type": "string", "enum": names} if names else _NAME

    def swap(node: Any) -> Any:
        if node is _NAME:
            return cluster
        if isinstance(node, dict):
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        return node
    return swap(PATHS), swap(SCHEMAS)
