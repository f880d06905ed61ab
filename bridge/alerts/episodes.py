"""Alert episodes read from Prometheus' `ALERTS` series, and which of them the log lacks.

This is the decision half of the backfill (`bridge.alerts.backfill` fetches, each backend
writes); it is pure, so both backends decide alike. The rules, each one against false state:

- An episode is a run of raw `ALERTS{alertstate="firing"}` samples of one series with no
  evaluation missing (a gap over 1.5 evaluation intervals splits it). Its `startsAt` is its
  first sample: the evaluation that fired it, which is Prometheus' `FiredAt`, the very
  `startsAt` it sends Alertmanager. Its end is its last sample plus one evaluation interval
  (the evaluation that found it inactive), so within one interval.
- Only finished episodes: the series must be seen absent for two intervals before the end of
  the window read, and the window ends `alerts.backfill_holdoff` before now, so Alertmanager
  has long given up telling the bridge about it. An episode still firing is never written.
- The labels are the series' minus `alertstate`, plus Prometheus' external labels it lacks
  (what Prometheus sends), so the fingerprint is Alertmanager's. Backfill refuses to run when
  Prometheus relabels alerts (`alert_relabel_configs`): fingerprints could not be trusted.
- Never twice: an episode overlapping any life of the same fingerprint the log knows (from its
  events, backfilled ones included, and from the alert's current row) is skipped, as is one
  starting before what the log can vouch for (its oldest kept event, and the retention).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.alerts.model import fingerprint, format_time, parse_time

SOURCE = "prometheus"
# Labels of ALERTS that are not the alert's.
_NOT_ALERT_LABELS = ("__name__", "alertstate")
# A gap over this many evaluation intervals between two samples is a new episode.
GAP_FACTOR = 1.5
# Intervals a series must be absent for before the window end for its episode to be over.
ENDED_AFTER = 2


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


def spacing(times: list[int], default_ms: int) -> int:
    """The series' evaluation interval: its smallest gap between samples."""
    gaps = [b - a for a, b in itertools.pairwise(times) if b > a]
    return min(gaps) if gaps else default_ms


def split(labels: dict[str, str], times: list[int], interval_ms: int, window_end_ms: int
          ) -> tuple[list[Episode], int | None]:
    """(the finished episodes of one series' sorted sample times, the start of the one still
    open at the window end, if any)."""
    fp = fingerprint(labels)
    step = spacing(times, interval_ms)
    episodes: list[Episode] = []
    first = prev = None
    for at in times:
        if first is None:
            first = prev = at
        elif at - prev > GAP_FACTOR * step:
            episodes.append(Episode(fp, labels, first, prev + step))
            first = at
        prev = at
    if first is None or prev is None:
        return episodes, None
    if window_end_ms - prev >= ENDED_AFTER * step:
        episodes.append(Episode(fp, labels, first, prev + step))
        return episodes, None
    return episodes, first


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
            "cluster": cluster}
    firing = {**base, "status": "firing", "endsAt": None, **tail}
    resolved = {**base, "status": "resolved", "endsAt": format_time(episode.ends_ms), **tail}
    order = ("fingerprint", "status", "labels", "annotations", "startsAt", "endsAt",
             "generatorURL", "source", "updatedAt", "cluster")
    return [("firing", episode.starts_ms, {k: firing[k] for k in order}),
            ("resolved", episode.ends_ms, {k: resolved[k] for k in order})]


def replaces_row(row_status: str | None, row_starts: int | None, episode: Episode) -> bool:
    """Whether the alert's current row should become this (resolved) episode: only when
    there is none, or it is resolved and older. A firing row is never touched, so no backfill
    makes a current alert look resolved; and a resolved row is never made firing."""
    if row_status is None:
        return True
    return row_status == "resolved" and row_starts is not None and row_starts < episode.starts_ms
