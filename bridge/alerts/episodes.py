"""Alert episodes read from Prometheus' `ALERTS` series, and which of them the log lacks.

This is the decision half of the backfill (`bridge.alerts.backfill` fetches, each backend
writes); it is pure, so both backends decide alike. The rules, each one against false state:

- An episode is a run of consecutive grid points (`alerts.backfill_step`) where one series of
  `timestamp(ALERTS{alertstate="firing"})` is present (`Tracker`). Its `startsAt` is the
  sample time at its first grid point: the evaluation that fired it, which is Prometheus'
  `FiredAt`, the very `startsAt` it sends Alertmanager (exact while the step is no longer than
  the rule's evaluation interval). It resolved after its last sample and by its first absent
  grid point: its end is the last sample plus the evaluation interval, bounded by that point.
- Only finished episodes: the series must be absent at a later grid point of the window read,
  and the window ends `alerts.backfill_holdoff` before now, so Alertmanager has long given up
  telling the bridge about it. An episode still firing is never written, and one already
  firing at the window's first grid point (its start unknown) neither.
- The labels are the series' minus `alertstate`, plus Prometheus' external labels it lacks
  (what Prometheus sends), so the fingerprint is Alertmanager's. Backfill refuses to run when
  Prometheus relabels alerts (`alert_relabel_configs`): fingerprints could not be trusted.
- Never twice: an episode overlapping any life of the same fingerprint the log knows (from its
  events, backfilled ones included, and from the alert's current row) is skipped, as is one
  starting before what the log can vouch for (its oldest kept event, and the retention).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.alerts.model import fingerprint, format_time, parse_time

SOURCE = "prometheus"
# Labels of ALERTS that are not the alert's.
_NOT_ALERT_LABELS = ("__name__", "alertstate")


_MARK = f'"source":"{SOURCE}"'


def backfilled(frame: str) -> bool:
    """Whether a stored event frame is a backfilled one: a substring test first (almost every
    frame fails it at no cost), then the alert's own `source` (a label could hold the text)."""
    return _MARK in frame and json.loads(frame)["alert"].get("source") == SOURCE


@dataclass(frozen=True, slots=True)
class Episode:
    fingerprint: str
    labels: dict[str, str]
    starts_ms: int
    ends_ms: int


def alert_labels(series: Mapping[str, str], external: Mapping[str, str]) -> dict[str, str]:
    """The labels Prometheus sends Alertmanager for an ALERTS series."""
    labels = {k: v for k, v in series.items() if k not in _NOT_ALERT_LABELS}
    for name, value in external.items():
        labels.setdefault(name, value)
    return dict(sorted(labels.items()))


@dataclass(slots=True)
class _Run:
    """One series' current run of grid points where it is firing."""

    labels: dict[str, str]
    first: int  # the sample time at its first grid point: when it fired
    last: int  # the latest sample time seen
    grid: int  # its latest grid point
    opened: int  # its first grid point
    truncated: bool  # present at the window's first grid point: its start is not known
    gap: int | None = None  # smallest step between two of its samples: the eval interval


class Tracker:
    """Episodes from `timestamp(ALERTS{alertstate="firing"})` read on a step grid, chunk after
    chunk (bounded memory: one run per series). A value is the time of the raw sample the
    grid point saw, so with a step no longer than the rule's interval the first one is exactly
    when the alert fired; a missing grid point is a staleness marker (it resolved)."""

    def __init__(self, step_ms: int, start_ms: int, external: Mapping[str, str]) -> None:
        self.step, self.start, self.external = step_ms, start_ms, external
        self.runs: dict[tuple[tuple[str, str], ...], _Run] = {}
        self.done: list[Episode] = []

    def feed(self, series: Mapping[str, str], points: Iterable[tuple[int, int]]) -> None:
        """One series' (grid ms, sample ms) points of a chunk, in time order."""
        key = tuple(sorted(series.items()))
        for grid, sample in points:
            run = self.runs.get(key)
            if run is not None and grid - run.grid > self.step:
                self._close(key)
                run = None
            if run is None:
                self.runs[key] = _Run(alert_labels(series, self.external), sample, sample,
                                      grid, grid, grid <= self.start)
                continue
            if sample > run.last:
                diff = sample - run.last
                run.gap = diff if run.gap is None else min(run.gap, diff)
                run.last = sample
            run.grid = grid

    def chunk_done(self, last_grid: int) -> None:
        """A chunk up to `last_grid` was fed: a run that did not reach it is over."""
        for key in [k for k, run in self.runs.items() if run.grid < last_grid]:
            self._close(key)

    def open_since(self) -> int | None:
        """The first grid point of the earliest run still open (None: none is)."""
        starts = [run.opened for run in self.runs.values()]
        return min(starts) if starts else None

    def _close(self, key: tuple[tuple[str, str], ...]) -> None:
        run = self.runs.pop(key)
        if run.truncated:
            return
        absent = run.grid + self.step  # it had resolved by then
        end = min(run.last + run.gap, absent) if run.gap else absent
        self.done.append(Episode(fingerprint(run.labels), run.labels, run.first, end))


# --- what the log knows ----------------------------------------------------------------------

Life = tuple[int, float]  # [startsAt, end] in ms; end may be +inf (never seen resolved)


def lives(alerts: Iterable[Mapping[str, Any]]) -> list[Life]:
    """Every life of one fingerprint the log shows, from the alerts of its events and its
    current row: each startsAt lasts until its latest endsAt, or until the next startsAt when
    it never resolved (a refire ends the life before it), or for ever."""
    ends: dict[int, float] = {}
    for alert in alerts:
        start = parse_time(alert["startsAt"])
        end = alert.get("endsAt")
        stop = parse_time(end) if alert.get("status") == "resolved" and end else -math.inf
        ends[start] = max(ends.get(start, -math.inf), stop)
    starts = sorted(ends)
    known: list[Life] = []
    for i, start in enumerate(starts):
        end = ends[start]
        if end == -math.inf:
            end = starts[i + 1] if i + 1 < len(starts) else math.inf
        known.append((start, max(end, start)))
    return known


def overlaps(episode: Episode, known: Iterable[Life]) -> bool:
    return any(episode.starts_ms <= end and start <= episode.ends_ms for start, end in known)


def choose(episodes: Iterable[Episode], known: Mapping[str, list[Life]], floor_ms: int
           ) -> list[Episode]:
    """The episodes to write: not before `floor_ms`, overlapping nothing the log knows nor
    each other (each chosen one counts as known for the next), oldest first."""
    taken: dict[str, list[Life]] = {fp: list(v) for fp, v in known.items()}
    chosen = []
    for episode in sorted(episodes, key=lambda e: (e.starts_ms, e.fingerprint)):
        mine = taken.setdefault(episode.fingerprint, [])
        if episode.starts_ms < floor_ms or overlaps(episode, mine):
            continue
        mine.append((episode.starts_ms, episode.ends_ms))
        chosen.append(episode)
    return chosen


def alerts_of(frames: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The alert of each stored frame, by fingerprint."""
    by_fp: dict[str, list[dict[str, Any]]] = {}
    for text in frames:
        alert = json.loads(text)["alert"]
        by_fp.setdefault(alert["fingerprint"], []).append(alert)
    return by_fp


# --- the events of a chosen episode ----------------------------------------------------------

def episode_alerts(episode: Episode, cluster: str, now: int
                   ) -> list[tuple[str, int, dict[str, Any]]]:
    """(kind, timestamp ms, alert) of its two events: firing at startsAt, resolved at its end.
    No annotations: ALERTS does not keep them."""
    base = {"fingerprint": episode.fingerprint, "labels": episode.labels, "annotations": {},
            "startsAt": format_time(episode.starts_ms)}
    tail = {"generatorURL": "", "source": SOURCE, "updatedAt": format_time(now),
            "cluster": cluster, "state": "active", "silencedBy": [], "inhibitedBy": []}
    firing = {**base, "status": "firing", "endsAt": None, **tail}
    resolved = {**base, "status": "resolved", "endsAt": format_time(episode.ends_ms), **tail}
    order = ("fingerprint", "status", "labels", "annotations", "startsAt", "endsAt",
             "generatorURL", "source", "updatedAt", "cluster", "state", "silencedBy",
             "inhibitedBy")
    return [("firing", episode.starts_ms, {k: firing[k] for k in order}),
            ("resolved", episode.ends_ms, {k: resolved[k] for k in order})]


def replaces_row(row_status: str | None, row_starts: int | None, episode: Episode) -> bool:
    """Whether the alert's current row should become this (resolved) episode: only when
    there is none, or it is resolved and older. A firing row is never touched, so no backfill
    makes a current alert look resolved; and a resolved row is never made firing."""
    if row_status is None:
        return True
    return row_status == "resolved" and row_starts is not None and row_starts < episode.starts_ms
