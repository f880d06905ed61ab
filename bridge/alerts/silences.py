"""The Silence shape, its frame, and everything that turns outside input into it.

Silences live in Alertmanager; the bridge writes them there (`bridge.alerts.silence_routes`),
reads them back (`bridge.alerts.silencewatch`) and logs every change as a `silence` event in
the one seq log. This module is the pure part: Alertmanager's API v2 silence <-> the Silence
shape the README documents, the body of POST /api/silences validated into what Alertmanager is
sent, the `silence` frame, and `decide`, the rule both stores apply (in their write
transaction, on committed state) to tell which change is an event:

- a silence never seen: `created` (one first seen already expired is kept quietly, unless the
  bridge itself expired it: then `expired`);
- seen, now expired and stored as not: `expired` (expired by someone, or its end passed);
- seen, other content (matchers, times, author, comment): `updated`;
- the same content again (the watcher seeing what the bridge wrote): nothing.

An ack is a silence whose comment starts with "ACK! " (kthxbye's convention) and whose matchers
are all `name="value"`: the label set of exactly one alert, whose fingerprint it carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.alerts.matchers import Matcher, matches_all, parse_filters, parse_matcher
from bridge.alerts.model import fingerprint, format_time, parse_time
from bridge.alerts.wire import Encoded
from bridge.errors import BadRequest
from bridge.jsonenc import dumps
from bridge.params import parse_duration
from bridge.protocol import SILENCE

STATES = ("active", "pending", "expired")
SILENCE_EVENTS = ("created", "updated", "expired")
ACK_PREFIX = "ACK! "
ACK_DEFAULT_SECONDS = 3600.0
ACK_MAX_SECONDS = 86_400.0
# A silence made through the bridge ends within this of now (Alertmanager itself has no bound).
MAX_SILENCE_SECONDS = 366 * 86_400.0
MAX_MATCHERS = 32
MAX_COMMENT = 2000
# Who the bridge says made a change it made itself (an ack expired as its alert resolved).
BRIDGE_ACTOR = "promwire"


# --- the Silence shape ---------------------------------------------------------------------

def am_matcher(matcher: Matcher) -> dict[str, Any]:
    """A matcher as Alertmanager's API v2 spells it."""
    return {"name": matcher.name, "value": matcher.value,
            "isRegex": matcher.op in ("=~", "!~"), "isEqual": matcher.op in ("=", "=~")}


def matcher_text(m: Mapping[str, Any]) -> str:
    """An API v2 matcher in Alertmanager's text syntax (`name=~"value"`)."""
    op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[
        (bool(m.get("isRegex")), bool(m.get("isEqual", True)))]
    value = str(m.get("value", "")).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{m.get("name", "")}{op}"{value}"'


def ack_of(matchers: list[dict[str, Any]], comment: str) -> dict[str, str] | None:
    """`{"fingerprint"}` of the alert an ack silence names, or None when it is not an ack."""
    if not comment.startswith(ACK_PREFIX) or not matchers:
        return None
    labels: dict[str, str] = {}
    for m in matchers:
        if m["isRegex"] or not m["isEqual"] or m["name"] in labels:
            return None
        labels[m["name"]] = m["value"]
    return {"fingerprint": fingerprint(labels)}


def from_am(cluster: str, data: Any) -> dict[str, Any]:
    """Alertmanager's GettableSilence as the README's Silence. ValueError for another shape."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a silence object, got {type(data).__name__}")
    try:
        matchers = [{"name": str(m["name"]), "value": str(m["value"]),
                     "isRegex": bool(m.get("isRegex", False)),
                     "isEqual": bool(m.get("isEqual", True))} for m in data["matchers"]]
        comment = str(data.get("comment") or "")
        state = data.get("status", {}).get("state")
        silence = {"cluster": cluster, "id": str(data["id"]), "matchers": matchers,
                   "startsAt": format_time(parse_time(data["startsAt"])),
                   "endsAt": format_time(parse_time(data["endsAt"])),
                   "createdBy": str(data.get("createdBy") or ""), "comment": comment,
                   "state": state if state in STATES else "expired",
                   "ack": ack_of(matchers, comment)}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not an Alertmanager silence: {exc!r}") from None
    return silence


def state_at(silence: Mapping[str, Any], now_ms: int) -> str:
    """The state at `now_ms` from the silence's times (what Alertmanager would say then)."""
    if now_ms >= parse_time(silence["endsAt"]):
        return "expired"
    return "pending" if now_ms < parse_time(silence["startsAt"]) else "active"


def content(silence: Mapping[str, Any]) -> str:
    """What a change is made of: two sightings with the same content are one version."""
    return dumps([silence["matchers"], silence["startsAt"], silence["endsAt"],
                  silence["createdBy"], silence["comment"]])


def compiled(silence: Mapping[str, Any]) -> tuple[Matcher, ...] | None:
    """The silence's matchers, ready to apply; None when one cannot be evaluated here (a
    regex longer than the bridge's matcher limit, made with amtool)."""
    try:
        return tuple(parse_matcher(matcher_text(m)) for m in silence["matchers"])
    except BadRequest:
        return None


def matching(silence: Mapping[str, Any], alerts: Iterable[Mapping[str, Any]]
             ) -> list[dict[str, str]]:
    """`{"cluster", "fingerprint"}` of each alert (of the silence's cluster) it matches.

    An alert without `cluster` (a store from before clusters) counts as the silence's.
    """
    matchers = compiled(silence)
    if not matchers:
        return []
    cluster = silence["cluster"]
    return [{"cluster": cluster, "fingerprint": a["fingerprint"]} for a in alerts
            if a.get("cluster", cluster) == cluster and matches_all(matchers, a["labels"])]


# --- the event -----------------------------------------------------------------------------

@dataclass(eq=False)
class SilenceEvent(Encoded):
    """A committed `silence` entry of the log: the same seq, epoch and resume semantics as an
    alert event (`bridge.alerts.store.Event`), so streams, replay and the fan-out treat both
    alike; it carries no labels and reaches every subscriber."""

    seq: int
    epoch: str
    kind: str
    text: str
    silence: dict[str, Any]
    type = SILENCE

    @property
    def id(self) -> str:
        """The SSE id: this event is a resume point."""
        return f"{self.epoch}:{self.seq}"


def silence_frame(seq: int, epoch: str, kind: str, ts_ms: int, by: str | None,
                  silence: Mapping[str, Any]) -> str:
    """The README's silence event, key order as documented."""
    return dumps({"type": SILENCE, "seq": seq, "epoch": epoch, "event": kind,
                  "timestamp": format_time(ts_ms), "by": by, "silence": silence})


def silence_event(seq: int, epoch: str, kind: str, text: str, silence: dict[str, Any]
                  ) -> SilenceEvent:
    return SilenceEvent(seq, epoch, kind, text, silence)


def event_from_frame(frame: Mapping[str, Any], text: str) -> SilenceEvent:
    """The event a stored silence frame was made from (a replica that did not write it)."""
    return silence_event(frame["seq"], frame["epoch"], frame["event"], text, frame["silence"])


# --- deciding (both stores, inside their write transaction) --------------------------------

@dataclass(frozen=True, slots=True)
class Stored:
    """A silence's row: its state and content as last recorded, and when."""

    state: str
    content: str
    updated_ms: int


@dataclass(frozen=True, slots=True)
class Change:
    """What recording one silence does: an event kind (None: the row only), the new row (None:
    forget it)."""

    id: str
    kind: str | None
    silence: dict[str, Any] | None


def decide(stored: Stored | None, silence: Mapping[str, Any], own: bool) -> str | None:
    """The event kind this sighting of `silence` is, given its row (module docstring)."""
    state = silence["state"]
    if stored is None:
        if state == "expired":
            return "expired" if own else None
        return "created"
    if state == "expired":
        return None if stored.state == "expired" else "expired"
    return "updated" if content(silence) != stored.content else None


def plan(rows: Mapping[str, Stored], silences: list[dict[str, Any]], own: bool,
         fetched_ms: int | None, removed: Mapping[str, dict[str, Any]]) -> list[Change]:
    """Every change recording `silences` makes to one cluster's `rows`.

    `fetched_ms` set: `silences` is the cluster's whole list as fetched then. Rows written
    after it are newer than the list and left alone; a row missing from it is forgotten when
    expired (Alertmanager dropped it past its retention), else expired (`removed` holds those
    rows' bodies: the silence vanished, e.g. Alertmanager lost its data).
    """
    changes = []
    for silence in silences:
        row = rows.get(silence["id"])
        if fetched_ms is not None and row is not None and row.updated_ms > fetched_ms:
            continue
        kind = decide(row, silence, own)
        if kind is not None or row is None or row.state != silence["state"]:
            changes.append(Change(silence["id"], kind, silence))
    if fetched_ms is None:
        return changes
    present = {s["id"] for s in silences}
    for sid, row in rows.items():
        if sid in present or row.updated_ms > fetched_ms:
            continue
        if row.state == "expired" or sid not in removed:
            changes.append(Change(sid, None, None))
        else:
            changes.append(Change(sid, "expired", {**removed[sid], "state": "expired"}))
    return changes


@dataclass
class Written:
    """A plan turned into rows: events (seqs after the log's last), rows to upsert
    (id, state, content, body, seq of its event or 0) and ids to forget."""

    events: list[SilenceEvent] = field(default_factory=list)
    upserts: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)

    @property
    def last_seq(self) -> int | None:
        return self.events[-1].seq if self.events else None


def write_plan(changes: list[Change], epoch: str, seq: int, now: int, by: str | None
               ) -> Written:
    """Number the events of `changes` from `seq + 1` and build their frames."""
    written = Written()
    for change in changes:
        silence = change.silence
        if silence is None:
            written.deletes.append(change.id)
            continue
        row_seq = 0
        if change.kind is not None:
            seq += 1
            row_seq = seq
            text = silence_frame(seq, epoch, change.kind, now, by or author(change.kind, silence),
                                 silence)
            written.events.append(silence_event(seq, epoch, change.kind, text, silence))
        written.upserts.append((change.id, silence["state"], content(silence), dumps(silence),
                                row_seq))
    return written


def author(kind: str, silence: Mapping[str, Any]) -> str | None:
    """Who made a change the watcher saw: the author of a creation or an update; unknown for
    an expiry (amtool, the UI, or its end passing)."""
    return None if kind == "expired" else str(silence["createdBy"])


# --- POST /api/silences --------------------------------------------------------------------

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
