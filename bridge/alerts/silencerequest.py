"""The body of POST /api/silences and of an ack, validated into what Alertmanager is sent.

Every refusal is a BadRequest naming the field (`matchers: ...`, `endsAt: ...`), raised before
anything reaches Alertmanager; times Alertmanager would refuse (an end in the past, before the
start) are refused here first so the answer says which field. Matchers use Alertmanager's
syntax as `filter=` does (`bridge.alerts.matchers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.alerts.matchers import Matcher, parse_filters
from bridge.alerts.model import format_time, parse_time
from bridge.alerts.silences import ACK_PREFIX, am_matcher
from bridge.config import MAX_SILENCE_SECONDS  # a silence through the bridge ends within it
from bridge.errors import BadRequest
from bridge.params import parse_duration

ACK_DEFAULT_SECONDS = 3600.0
ACK_MAX_SECONDS = 86_400.0
MAX_MATCHERS = 32
MAX_COMMENT = 2000


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    """A validated create or update (times in ms; None = from the silence being updated)."""

    cluster: str
    id: str | None
    matchers: tuple[Matcher, ...] | None
    starts_ms: int | None
    ends_ms: int | None
    duration_ms: int | None
    comment: str


FIELDS = ("cluster", "id", "matchers", "startsAt", "endsAt", "duration", "comment")


def parse_request(data: Any, default_cluster: str | None) -> SilenceRequest:
    """The body of POST /api/silences, or BadRequest naming the field."""
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field (valid: {', '.join(FIELDS)})")
    cluster = data.get("cluster", default_cluster)
    if not isinstance(cluster, str) or not cluster:
        raise BadRequest("cluster: required (the name of an Alertmanager cluster)")
    sid = data.get("id")
    if sid is not None and (not isinstance(sid, str) or not sid.strip()):
        raise BadRequest("id: expected the id of the silence to update")
    matchers = parse_matchers(data["matchers"]) if data.get("matchers") is not None else None
    if matchers is None and sid is None:
        raise BadRequest("matchers: required, e.g. [\"alertname=\\\"X\\\"\"] or "
                         "\"{alertname=\\\"X\\\"}\"")
    if "endsAt" in data and "duration" in data:
        raise BadRequest("endsAt and duration: give one of them")
    if sid is None and "endsAt" not in data and "duration" not in data:
        raise BadRequest("endsAt or duration: one is required")
    return SilenceRequest(cluster=cluster, id=sid, matchers=matchers,
                          starts_ms=_time(data.get("startsAt"), "startsAt"),
                          ends_ms=_time(data.get("endsAt"), "endsAt"),
                          duration_ms=duration_ms(data.get("duration"), "duration",
                                                  MAX_SILENCE_SECONDS),
                          comment=parse_comment(data.get("comment")))


def parse_matchers(value: Any) -> tuple[Matcher, ...]:
    """A list of matchers, or one `{a="1",b=~"x"}` string; at least one must match something
    (Alertmanager refuses a silence every alert would satisfy)."""
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        values = value
    else:
        raise BadRequest("matchers: expected a list of strings or one string")
    if not values:
        raise BadRequest("matchers: at least one is required")
    try:
        matchers = parse_filters(values, MAX_MATCHERS)
    except BadRequest as exc:
        raise BadRequest(f"matchers: {exc.detail}") from None
    if all(m.matches({}) for m in matchers):
        raise BadRequest("matchers: at least one must not match the empty string (a silence "
                         "of every alert)")
    return matchers


# What a blank comment is made of (ASCII white space: the schema's pattern says the same).
_BLANK = " \t\n\r\f\v"


def parse_comment(value: Any) -> str:
    if not isinstance(value, str) or not value.strip(_BLANK):
        raise BadRequest("comment: required (why the silence is there)")
    if len(value) > MAX_COMMENT:
        raise BadRequest(f"comment: longer than {MAX_COMMENT} characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise BadRequest("comment: holds a lone surrogate (not valid Unicode)") from None
    return value.strip(_BLANK)


def duration_ms(value: Any, name: str, most: float) -> int | None:
    """A duration (`"2h"`, `"90m"`, seconds) within (0, most] seconds, in ms; None if absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadRequest(f"{name}: expected a duration like \"2h\"")
    try:
        seconds = parse_duration(str(value), name)
    except BadRequest as exc:
        raise BadRequest(exc.detail) from None
    if seconds > most:
        raise BadRequest(f"{name}: at most {most / 3600:g}h, got {value!r:.40}")
    return int(seconds * 1000)


def _time(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name}: expected an RFC 3339 time")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def postable(req: SilenceRequest, base: Mapping[str, Any] | None, by: str, now_ms: int
             ) -> dict[str, Any]:
    """The PostableSilence for Alertmanager: `req` over the silence it updates (`base`).

    Unset fields keep the base's; an active silence keeps its start (Alertmanager updates it in
    place only then). A duration counts from the later of the start and now. Raises BadRequest
    for times Alertmanager would refuse, so the answer says which field.
    """
    matchers = ([am_matcher(m) for m in req.matchers] if req.matchers is not None
                else base["matchers"] if base is not None else [])
    starts = req.starts_ms
    if starts is None:
        starts = now_ms
        if base is not None and base["state"] != "expired":
            starts = parse_time(base["startsAt"])
    ends = req.ends_ms
    if req.duration_ms is not None:
        ends = max(starts, now_ms) + req.duration_ms
    elif ends is None:
        ends = parse_time(base["endsAt"]) if base is not None else now_ms
    if ends <= now_ms:
        raise BadRequest("endsAt: must be in the future")
    if ends <= starts:
        raise BadRequest("endsAt: must be after startsAt")
    if ends - now_ms > MAX_SILENCE_SECONDS * 1000:
        raise BadRequest(f"endsAt: at most {MAX_SILENCE_SECONDS / 86400:g} days from now")
    body: dict[str, Any] = {"matchers": matchers, "startsAt": format_time(starts),
                            "endsAt": format_time(ends), "createdBy": by,
                            "comment": req.comment}
    if req.id is not None:
        body["id"] = req.id
    return body


def ack_request(cluster: str, alert: Mapping[str, Any], comment: str, duration: int,
                existing: str | None) -> SilenceRequest:
    """The silence acking `alert`: its labels exactly, "ACK! " before the comment; `existing`
    is the id of an active ack of the same alert, which is extended instead."""
    matchers = tuple(Matcher(name, "=", value) for name, value in sorted(alert["labels"].items()))
    text = comment if comment.startswith(ACK_PREFIX) else ACK_PREFIX + comment
    return SilenceRequest(cluster=cluster, id=existing, matchers=matchers, starts_ms=None,
                          ends_ms=None, duration_ms=duration, comment=text[:MAX_COMMENT])
