"""The Silence shape, its frame, and the rule that makes each change one event.

Silences live in Alertmanager; the bridge writes them there (`bridge.alerts.silence_routes`),
reads them back (`bridge.alerts.silencewatch`) and logs every change as a `silence` event in
the one seq log. This module is the pure part: Alertmanager's API v2 silence <-> the Silence
shape the README documents (the body of POST /api/silences is `bridge.alerts.silencerequest`),
the `silence` frame, and `decide`, the rule both stores apply (in their write
transaction, on committed state) to tell which change is an event:

- a silence never seen: `created` (one first seen already expired is kept quietly, unless the
  bridge itself expired it: then `expired`);
- seen, now expired and stored as not: `expired` (expired by someone, or its end passed);
- stored as expired, seen active or pending again: `updated` (Alertmanager never revives an
  expired silence, so the row was wrong: the silence had only vanished from one read);
- seen, other content (matchers, times, author, comment): `updated`;
- the same content again (the watcher seeing what the bridge wrote): nothing.

`plan` applies it to a whole list, and decides what a silence missing from the list means:
gone past its end, it is `expired`; gone before its end, it is `expired` only when it was also
missing from the previous read of the same peer (a peer that took over after a failover or a
restart may not have caught up on gossip yet: one read is not evidence).

An ack is a silence whose comment starts with "ACK! " (kthxbye's convention) and whose matchers
are all `name="value"`: the label set of exactly one alert, whose fingerprint it carries.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.alerts.matchers import Matcher, matches_all, parse_matcher
from bridge.alerts.model import fingerprint, format_time, parse_time
from bridge.alerts.wire import Encoded
from bridge.errors import BadRequest
from bridge.jsonenc import dumps
from bridge.protocol import SILENCE

STATES = ("active", "pending", "expired")
SILENCE_EVENTS = ("created", "updated", "expired")
ACK_PREFIX = "ACK! "
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
    alike; it carries no labels, so streams filter it by cluster only."""

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
    if stored.state == "expired":  # seen again: it was never expired
        return "updated"
    return "updated" if content(silence) != stored.content else None


def stored_end(stored: Stored) -> int:
    """The end (ms) of a row's silence, from its content (`content`'s third item)."""
    return parse_time(json.loads(stored.content)[2])


def stale(stored: Stored | None, silence: Mapping[str, Any], fetched_ms: int | None) -> bool:
    """Whether a watcher's sighting is older news than the row: the row is expired for real
    (its end had passed when it was recorded, as Alertmanager sets it when it expires one)
    and the sighting, still active, is from a peer not yet told of the expiry."""
    return (fetched_ms is not None and stored is not None and stored.state == "expired"
            and silence["state"] != "expired" and stored_end(stored) <= stored.updated_ms)


def plan(rows: Mapping[str, Stored], silences: list[dict[str, Any]], own: bool,
         fetched_ms: int | None, removed: Mapping[str, dict[str, Any]],
         previous: Collection[str] | None = None) -> list[Change]:
    """Every change recording `silences` makes to one cluster's `rows`.

    `fetched_ms` set: `silences` is the cluster's whole list as fetched then, and `previous`
    the ids in the previous list read from the same peer (None: no such read). Rows written
    after the fetch are newer than the list and left alone. A row missing from the list is
    forgotten when expired (Alertmanager dropped it past its retention); else (`removed`
    holds those rows' bodies) it is expired when its end has passed, or when it is missing
    from `previous` too (it vanished: Alertmanager lost its data), and left alone otherwise
    (module docstring).
    """
    changes = []
    for silence in silences:
        row = rows.get(silence["id"])
        if fetched_ms is not None and row is not None and row.updated_ms > fetched_ms:
            continue
        if stale(row, silence, fetched_ms):
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
        elif (parse_time(removed[sid]["endsAt"]) <= fetched_ms
              or (previous is not None and sid not in previous)):
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
