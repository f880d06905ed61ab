"""Which events a history page or a timeline wants: `EventQuery`, read from the query string.

Filters, ANDed: the `Selection` every alert reader takes (`filter=` matchers on the alert's
labels, `state=`, `cluster=`: see bridge.alerts.selection); `kinds=` event kinds
(`firing,resolved`); `start`/`end` times (unix seconds or RFC 3339, inclusive) on the event's
`timestamp`.

`start`/`end` and not `since`/`until`: `since` already is the seq a page starts after (and
`next` hands it back), so times get the names `/api/metrics/{name}` gives them.

The invariant the SQL relies on: an event's `timestamp` is never later than the `ts_ms` it was
stored at (they are equal for every event but a backfilled one, which is stored after it
happened), so `ts_ms >= start` is a safe, indexed narrowing of `timestamp >= start`. The exact
test runs in Python on the frame's own fields, as the matchers do.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.alerts.matchers import Matcher
from bridge.alerts.model import EVENT_KINDS, MAX_TIME_MS, parse_time
from bridge.alerts.selection import Selection, parse_selection, selection_of
from bridge.errors import BadRequest
from bridge.params import parse_time as parse_param_time

EVERYTHING = Selection(state="all")
SILENCE_KIND = "silence"  # the frame type of silence events, and their `kinds=` name
KIND_FILTERS = (*EVENT_KINDS, SILENCE_KIND)


@dataclass(frozen=True, slots=True)
class EventQuery:
    selection: Selection = EVERYTHING
    kinds: frozenset[str] | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    @property
    def matchers(self) -> tuple[Matcher, ...]:
        return self.selection.matchers

    @property
    def cluster(self) -> str | None:
        return self.selection.cluster

    @property
    def empty(self) -> bool:
        """No filter at all: the log as it is (the cheap path)."""
        return (self.selection.everything and self.kinds is None and self.start_ms is None
                and self.end_ms is None)

    def accepts(self, kind: str, timestamp: str, alert: Mapping[str, Any]) -> bool:
        """The exact test, on an event's own fields (SQL only narrowed the rows)."""
        if self.kinds is not None and kind not in self.kinds:
            return False
        return self._in_time(timestamp) and self.selection.wants(kind, alert)

    def accepts_silence(self, timestamp: str, silence: Mapping[str, Any]) -> bool:
        """A silence event carries no labels and no alert state: it is on every page whose
        kinds (when given) name `silence`, in its cluster and time range."""
        if self.kinds is not None and SILENCE_KIND not in self.kinds:
            return False
        return self.selection.wants_silence(silence) and self._in_time(timestamp)

    def accepts_frame(self, frame: Mapping[str, Any]) -> bool:
        if frame.get("type") == SILENCE_KIND:
            return self.accepts_silence(frame["timestamp"], frame["silence"])
        return self.accepts(frame["event"], frame["timestamp"], frame["alert"])

    def _in_time(self, timestamp: str) -> bool:
        if self.start_ms is None and self.end_ms is None:
            return True
        at = parse_time(timestamp)
        return ((self.start_ms is None or at >= self.start_ms)
                and (self.end_ms is None or at <= self.end_ms))


def as_query(value: EventQuery | Selection | tuple[Matcher, ...]) -> EventQuery:
    """Callers from before `EventQuery` pass a Selection or the matchers alone (bare matchers:
    the default selection, `state=active`, as `selection_of` reads them)."""
    if isinstance(value, EventQuery):
        return value
    return EventQuery(selection_of(value))


def parse_kinds(text: str | None) -> frozenset[str] | None:
    """`firing,resolved` -> those kinds; each must be an event kind of the log (`silence`:
    the silence events)."""
    if text is None or not text.strip():
        return None
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    for kind in kinds:
        if kind not in KIND_FILTERS:
            raise BadRequest(f"kinds: unknown event kind {kind!r:.40} (valid: "
                             f"{', '.join(KIND_FILTERS)})", parameter="kinds")
    return frozenset(kinds)


def _time_ms(text: str | None, name: str) -> int | None:
    if text is None or not text.strip():
        return None
    ms = int(parse_param_time(text, name) * 1000)
    if not 0 <= ms <= MAX_TIME_MS:
        raise BadRequest(f"{name}: {text!r:.80} is outside 1970..9999", parameter=name)
    return ms


def parse_query(query: Mapping[str, str], max_matchers: int, known: Collection[str]
                ) -> EventQuery:
    """The history filters of a request's query string: the Selection's (`filter=`, `state=`,
    `cluster=`), `kinds=`, `start=`, `end=`."""
    start, end = _time_ms(query.get("start"), "start"), _time_ms(query.get("end"), "end")
    if start is not None and end is not None and end < start:
        raise BadRequest("end: must not be before start", parameter="end")
    return EventQuery(parse_selection(query, max_matchers, known),
                      parse_kinds(query.get("kinds")), start, end)
