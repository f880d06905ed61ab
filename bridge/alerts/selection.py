"""Which alerts and events a reader wants: label matchers, `state=` and `cluster=`.

The same `Selection` filters REST /api/alerts, history, and both alert streams (live and
replayed), so a list, a snapshot and the events after it always agree:

- an alert is *listed* (REST, snapshots) when its cluster, labels and state match; `state` is
  `active` (the default: what consumers got before suppression was tracked), `suppressed`, or
  `all`;
- an *event* is delivered when its cluster and labels match and either `state=all`, or the
  alert it carries has the wanted state, or it is a `suppressed`, `unsuppressed` or `resolved`
  event: those change whether the alert belongs in the reader's list, so every reader gets
  them and can drop or restore the alert (a resolved alert is always `active`);
- a `silence` event (no labels) is delivered when its silence's cluster is the reader's
  `cluster=`, or the reader names none: matchers and `state=` do not apply to it, as history's
  `kinds=silence` ignores them.

Frames stored before clusters existed carry neither `cluster` nor `state`: they are read as
`default` and `active`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.alerts.matchers import Matcher, filter_key, matches_all, parse_filters
from bridge.config import DEFAULT_CLUSTER
from bridge.errors import BadRequest

STATE_FILTERS = ("active", "suppressed", "all")
# Events every state filter lets through (they move an alert in or out of a list).
MEMBERSHIP_EVENTS = frozenset({"suppressed", "unsuppressed", "resolved"})


@dataclass(frozen=True, slots=True)
class Selection:
    matchers: tuple[Matcher, ...] = ()
    state: str = "active"
    cluster: str | None = None  # None: every cluster

    @property
    def key(self) -> str:
        """A canonical text: subscribers with equal selections share one evaluation."""
        return f"{self.state}|{self.cluster or ''}|{filter_key(self.matchers)}"

    @property
    def everything(self) -> bool:
        """Whether it lets every event through (no filtering needed at all)."""
        return not self.matchers and self.state == "all" and self.cluster is None

    def lists(self, alert: Mapping[str, Any]) -> bool:
        """Whether a current alert belongs in this reader's list or snapshot."""
        return (self._scope(alert)
                and (self.state == "all" or (alert.get("state") or "active") == self.state))

    def wants(self, kind: str, alert: Mapping[str, Any]) -> bool:
        """Whether an event of `kind` carrying `alert` goes to this reader."""
        return self._scope(alert) and self.wants_state(kind, alert.get("state"))

    def wants_silence(self, silence: Mapping[str, Any]) -> bool:
        """Whether a `silence` event about `silence` goes to this reader (its cluster only)."""
        return self.cluster is None or silence.get("cluster") == self.cluster

    def wants_state(self, kind: str, state: str | None) -> bool:
        return (self.state == "all" or kind in MEMBERSHIP_EVENTS
                or (state or "active") == self.state)

    def _scope(self, alert: Mapping[str, Any]) -> bool:
        if self.cluster is not None and (alert.get("cluster") or DEFAULT_CLUSTER) != self.cluster:
            return False
        return matches_all(self.matchers, alert["labels"])


def selection_of(what: Selection | tuple[Matcher, ...]) -> Selection:
    """A Selection, or bare matchers as the default selection (`state=active`) with them."""
    return what if isinstance(what, Selection) else Selection(what)


def parse_state(value: str | None) -> str:
    if value is None:
        return "active"
    if value not in STATE_FILTERS:
        raise BadRequest(f"state: expected active, suppressed or all, got {value!r:.40}")
    return value


def parse_cluster(value: str | None, known: Collection[str]) -> str | None:
    """A `cluster=` value: a configured cluster or `default` (manual alerts), else 400."""
    if value is None:
        return None
    names = {DEFAULT_CLUSTER, *known}
    if value not in names:
        raise BadRequest(f"cluster: unknown cluster {value!r:.80} (known: "
                         f"{', '.join(sorted(names))})")
    return value


def parse_selection(query: Mapping[str, str], max_matchers: int, known: Collection[str]
                    ) -> Selection:
    """`filter=` (repeatable), `state=`, `cluster=` from a query string."""
    getall = getattr(query, "getall", None)
    filters = getall("filter", []) if getall else [query["filter"]] if "filter" in query else []
    return Selection(parse_filters(filters, max_matchers), parse_state(query.get("state")),
                     parse_cluster(query.get("cluster"), known))
