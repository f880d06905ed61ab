"""Schemathesis hooks for the bridge's API fuzzing (loaded with SCHEMATHESIS_HOOKS).

`valid_requests_accepted` is schemathesis' positive-data check, narrowed by exactly the rules
the OpenAPI document cannot state per field and says in prose instead: a request the schema
allows must not get a 400 or 422 unless the answer names one of them. Anything else rejected is
a disagreement between the document and the server, and fails the run.
"""

from __future__ import annotations

import re

import schemathesis

# (error code, detail pattern): rejections the schema cannot prevent.
CROSS_FIELD = (
    # Prometheus' PromQL grammar and evaluation: `bad_data`, `execution`, by any detail.
    ("bad_data", re.compile("")),
    ("execution", re.compile("")),
    # Parameters that exclude or bound each other.
    ("bad_request", re.compile(r"^range: give either start or range, not both")),
    ("bad_request", re.compile(r"^end: .* is before start")),
    ("bad_request", re.compile(r"^end: must not be before start")),  # alert history
    ("bad_request", re.compile(r"^step: .* points per series, more than the limit")),
    # Silences: times against each other and now, a create needs matchers, names that must
    # exist (a cluster, a silence id), and what Alertmanager itself refuses.
    ("bad_request", re.compile(r"^endsAt: must be ")),
    ("bad_request", re.compile(r"^endsAt: at most ")),
    ("bad_request", re.compile(r"^endsAt and duration: give one|^endsAt or duration: one")),
    ("bad_request", re.compile(r"^matchers: (required|at least one must not match)")),
    ("bad_request", re.compile(r"^cluster: (unknown cluster|required|alerts with)")),
    ("bad_request", re.compile(r"^id: cluster .* has no silence")),
    ("bad_request", re.compile(r"^Alertmanager refused it")),
    # A WebSocket endpoint asked without the upgrade headers (the document cannot say that).
    ("bad_request", re.compile(r"^this is a WebSocket endpoint")),
    # The HTTP request line and header size limits (8 KiB), in bytes after percent-encoding.
    ("bad_request", re.compile(r"^Got more than \d+ bytes")),
)


def explained(status: int, body: object) -> bool:
    """True when a rejection of a schema-valid request is one the document describes."""
    if status not in (400, 422) or not isinstance(body, dict):
        return False
    error, detail = body.get("error"), str(body.get("detail", ""))
    return any(error == code and pattern.search(detail) for code, pattern in CROSS_FIELD)


@schemathesis.check
def valid_requests_accepted(ctx, response, case):  # type: ignore[no-untyped-def]
    """A schema-valid request is not refused with 400 or 422, but for the documented
    cross-field rules above."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not explained(response.status_code, body):
        raise AssertionError(f"a request the schema allows was refused: "
                             f"{response.status_code} {response.text[:300]}")
    return None
