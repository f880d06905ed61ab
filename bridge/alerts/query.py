"""Which events a history page or a timeline wants: `EventQuery`, read from the query string.

Filters, ANDed: `filter=` matchers on the alert's labels; `kinds=` event kinds
(`firing,resolved`); `start`/`end` times (unix seconds or RFC 3339, inclusive) on the event's
`timestamp`; `cluster=` the alert's cluster (an alert without one is in `default`).

`start`/`end` and not `since`/`until`: `since` already is the seq a page starts after (and
`next` hands it back), so times get the names `/api/metrics/{name}` gives them.

The invariant the SQL relies on: an event's `timestamp` is never later than the `ts_ms` it was
stored at (they are equal for every event but a backfilled one, which is stored after it
happened), so `ts_ms >= start` is a safe, indexed narrowing of `timestamp >= start`. The exact
test runs in Python on the frame's own fields, as the matchers do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.alerts.matchers import Matcher, matches_all, parse_filters
from bridge.alerts.model import EVENT_KINDS, MAX_TIME_MS, parse_time
from bridge.config import CLUSTER_NAME, DEFAULT_CLUSTER
from bridge.errors import BadRequest
from bridge.params import parse_time as parse_param_time


@dataclass(frozen=True, slots=True)
class EventQuery:
    matchers: tuple[Matcher, ...] = ()
    kinds: frozenset[str] | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    cluster: str | None = None

    @property
    def empty(self) -> bool:
        """No filter at all: the log as it is (the cheap path)."""
        return (not self.matchers and self.kinds is None and self.start_ms is None
                and self.end_ms is None and self.cluster is None)

    def accepts(self, kind: str, timestamp: str, cluster: str | None,
                labels: Mapping[str, str]) -> bool:
        """The exact test, on an event's own fields (SQL only narrowed the rows)."""
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.cluster is not None and (cluster or DEFAULT_CLUSTER) != self.cluster:
            return False
        if self.start_ms is not None or self.end_ms is not None:
            at = parse_time(timestamp)
            if self.start_ms is not None and at < self.start_ms:
                return False
            if self.end_ms is not None and at > self.end_ms:
                return False
        return matches_all(self.matchers, labels)

    def accepts_frame(self, frame: Mapping[str, Any]) -> bool:
        alert = frame["alert"]
        return self.accepts(frame["event"], frame["timestamp"], alert.get("cluster"),
                            alert["labels"])


def as_query(value: EventQuery | tuple[Matcher, ...]) -> EventQuery:
    """Callers from before `EventQuery` pass the matchers alone."""
    return value if isinstance(value, EventQuery) else EventQuery(matchers=tuple(value))


def parse_kinds(text: str | None) -> frozenset[str] | None:
    """`firing,resolved` -> those kinds; each must be an event kind of the log."""
    if text is None or not text.strip():
        return None
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    for kind in kinds:
        if kind not in EVENT_KINDS:
            raise BadRequest(f"kinds: unknown event kind {kind!r:.40} (valid: "
                             f"{', '.join(EVENT_KINDS)})", parameter="kinds")
    return frozenset(kinds)


def parse_cluster(text: str | None) -> str | None:
    """A cluster name as `alertmanager.clusters[].name` spells it; not necessarily one
    configured now (history keeps what clusters that were removed recorded)."""
    if text is None or text == "":
        return None
    if not CLUSTER_NAME.fullmatch(text):
        raise BadRequest(f"cluster: {text!r:.80} is not a cluster name", parameter="cluster")
    return text


def _time_ms(text: str | None, name: str) -> int | None:
    if text is None or not text.strip():
        return None
    ms = int(parse_param_time(text, name) * 1000)
    if not 0 <= ms <= MAX_TIME_MS:
        raise BadRequest(f"{name}: {text!r:.80} is outside 1970..9999", parameter=name)
    return ms


def parse_query(query: Mapping[str, str], filters: list[str], max_matchers: int
                ) -> EventQuery:
    """The history filters of a request's query string (`filters`: every `filter=` value)."""
    start, end = _time_ms(query.get("start"), "start"), _time_ms(query.get("end"), "end")
    if start is not None and end is not None and end < start:
        raise BadRequest("end: must not be before start", parameter="end")
    return EventQuery(parse_filters(filters, max_matchers), parse_kinds(query.get("kinds")),
                      start, end, parse_cluster(query.get("cluster")))
