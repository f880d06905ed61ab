"""OpenAPI 3.1 building blocks shared by every feature's `apidoc` (data and small helpers).

Each feature package describes its own routes in its `apidoc` module with these blocks;
`bridge.openapi` assembles the document.

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
    "401": "A valid token is required (none, or not a configured one).",
    "403": "Forbidden: the token lacks the scope this needs (`token 'NAME' lacks the 'SCOPE' "
           "scope`), a write in read-only mode (auth.read_only), or the Origin is not allowed.",
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


def scoped(scope: str) -> dict[str, Any]:
    """An operation's token needs `scope` (bearer auth has no scopes in OpenAPI: an extension
    says which, and the security requirement that a token is needed at all)."""
    return {"security": [{"bearer": []}], "x-promwire-scope": scope}


def errors(*codes: str) -> dict[str, Any]:
    """Error answers, all with the shared Error body."""
    return {code: {"description": ERROR_STATUSES[code],
                   "content": {"application/json": {"schema": ref("Error")}}} for code in codes}


def param(name: str, description: str, schema: dict[str, Any] | None = None,
          where: str = "query", required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema or {"type": "string"}, **extra}


TIME = "Unix seconds (`1764100000.5`) or RFC 3339 (`2026-11-25T20:00:00Z`; no offset = UTC)."
# RFC 3339 as the bridge reads it, within years 1000-9999 and days 01-28 of any month: a
# subset every month has (the server also takes the 29th to 31st where they exist).
RFC3339 = (r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]"
           r":[0-5][0-9](\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-9]|2[0-3]):[0-5][0-9])?")
UNIX_SECONDS = r"-?[0-9]{1,11}(\.[0-9]{1,6})?"
# An empty value means "not given" (the default), as for every optional parameter.
TIME_SCHEMA = {"type": "string", "pattern": f"^({UNIX_SECONDS}|{RFC3339})?$"}
# The same for a time the alert log can hold (1970..9999 whatever the offset): no negative
# unix seconds, RFC 3339 years 1971 to 9998.
LOG_YEARS = r"(197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
LOG_TIME_SCHEMA = {"type": "string", "pattern": f"^({UNIX_SECONDS.removeprefix('-?')}|"
                   f"{LOG_YEARS}{RFC3339.removeprefix('[1-9][0-9]{3}')})?$"}
# Seconds (> 0), or a Prometheus duration of one unit (the server also takes `1h30m`).
DURATION_SCHEMA = {"type": "string", "pattern": r"^([1-9][0-9]{0,7}(\.[0-9]{1,3})?|"
                   r"0\.[0-9]{0,2}[1-9]|[1-9][0-9]{0,3}(ms|s|m|h|d|w|y))?$"}
# PromQL: not blank as the server judges it (Python's str.isspace, which also counts the
# separators \x1c-\x1f and \x85, unlike ECMA's \s); its grammar is Prometheus' to check.
PROMQL = {"type": "string", "minLength": 1, "maxLength": MAX_PROMQL,
          "pattern": r"[^\s\x1c-\x1f\x85]"}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "detail"], "properties": {
        "error": {"type": "string", "description": "Stable code: bad_request, unauthorized, "
                  "forbidden, not_found, bad_data, execution, unavailable, timeout, "
                  "bad_upstream, ..."},
        "detail": {"type": "string", "description": "What is wrong, for humans."},
        "parameter": {"type": "string", "description": "The offending query parameter."},
        "valid": {"type": "array", "items": {"type": "string"},
                  "description": "Valid metric names (unknown metric)."}}},
}
