"""GET /api/instances: the exporter's hosts, each `up`, `down` or `stale` by its newest `up`
sample, never by whether Prometheus still returns one.

An instant `up` query answers with any sample in Prometheus' 5-minute lookback, so a host that
stopped being scraped (Prometheus restarted with other targets, a scrape loop that hangs, data
from an older run in the same TSDB) stayed "up": true for minutes. Here a host is `up` or `down`
only when its newest sample is at most two of its job's scrape intervals old (Prometheus' clock,
the intervals from its running configuration); otherwise it is `stale`, and after an hour with no
sample it is no longer listed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from bridge.errors import BadRequest, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from bridge.params import parse_duration
from bridge.upstream.prometheus import PrometheusClient, QueryResult

# A host with no `up` sample for this long is not listed.
LISTED_FOR = "1h"
# A sample older than this many scrape intervals is not fresh.
FRESH_INTERVALS = 2
# Resolution of the newest-sample time of a host Prometheus no longer returns (its sample is
# past the lookback, or a stale marker ended its series).
ENDED_STEP = "10s"
# Prometheus' own default scrape_interval, assumed (with a warning) when its configuration
# cannot be read.
DEFAULT_INTERVAL = 60.0
# Seconds the scrape intervals read from Prometheus are reused (they change on reloads only).
INTERVALS_TTL = 60.0
# Prometheus' job discovery when no exporter jobs are configured.
_JOB_FILTER = f" and on (job) group by (job) (last_over_time(node_boot_time_seconds[{LISTED_FOR}]))"


@dataclass(frozen=True)
class Intervals:
    """Scrape interval per job, in seconds, and the global one for jobs not in the config."""

    default: float = DEFAULT_INTERVAL
    jobs: dict[str, float] = field(default_factory=dict)
    warning: str | None = None

    def of(self, job: str) -> float:
        return self.jobs.get(job, self.default)


def parse_intervals(text: str) -> Intervals:
    """The intervals in Prometheus' configuration YAML; ValueError when it is not one."""
    config = yaml.safe_load(text)
    scrape_configs = config.get("scrape_configs") or [] if isinstance(config, dict) else None
    settings = config.get("global") or {} if isinstance(config, dict) else None
    if not isinstance(settings, dict) or not isinstance(scrape_configs, list):
        raise ValueError("not a Prometheus configuration")
    default = _seconds(settings.get("scrape_interval"), DEFAULT_INTERVAL)
    jobs = {str(job["job_name"]): _seconds(job.get("scrape_interval"), default)
            for job in scrape_configs if isinstance(job, dict) and "job_name" in job}
    return Intervals(default, jobs)


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    try:
        return parse_duration(str(value), "scrape_interval")
    except BadRequest as exc:
        raise ValueError(exc.detail) from None


def queries(jobs: tuple[str, ...]) -> tuple[str, str]:
    """(`up` now, newest `up` sample time) for the exporter's jobs.

    The first is exact but only holds series Prometheus still returns; the second lists every
    series with a sample in the last hour, with the exact time where the first has one and
    otherwise the end of the ENDED_STEP window holding its newest sample (a range selector,
    so a stale marker does not hide it).
    """
    if jobs:
        up, only = f'up{{job=~"{"|".join(_regex_escape(j) for j in jobs)}"}}', ""
    else:
        up, only = "up", _JOB_FILTER
    ended = (f"max_over_time(timestamp(last_over_time({up}[{ENDED_STEP}]))"
             f"[{LISTED_FOR}:{ENDED_STEP}])")
    return f"{up}{only}", f"(timestamp({up}) or {ended}){only}"


def _regex_escape(text: str) -> str:
    special = set(r"\.^$|?*+()[]{}")
    escaped = "".join("\\" + c if c in special else c for c in text)
    return escaped.replace("\\", "\\\\").replace('"', '\\"')


def state(value: float | None, newest: float, now: float, interval: float) -> str:
    """`up`/`down` from a fresh sample's value; `stale` when there is none (`value` None: not
    returned by the instant query) or it is older than FRESH_INTERVALS scrape intervals."""
    if value is None or now - newest > FRESH_INTERVALS * interval:
        return "stale"
    return "up" if value == 1.0 else "down"


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def merge(current: QueryResult, newest: QueryResult, intervals: Intervals
          ) -> list[dict[str, Any]]:
    """One entry per listed series, sorted by instance and job."""
    values = {_key(s.labels): s.value for s in current.series if s.points}
    found = []
    for series in newest.series:
        if not series.points:
            continue
        job = series.labels.get("job", "")
        st = state(values.get(_key(series.labels)), series.value, series.timestamp,
                   intervals.of(job))
        labels = {k: v for k, v in sorted(series.labels.items())
                  if k not in ("instance", "job", "__name__")}
        found.append({"instance": series.labels.get("instance", ""), "job": job,
                      "up": st == "up", "state": st, "labels": labels,
                      "timestamp": series.value})
    found.sort(key=lambda i: (i["instance"], i["job"]))
    return found


class InstanceLister:
    """Answers GET /api/instances; keeps Prometheus' scrape intervals for INTERVALS_TTL."""

    def __init__(self, prometheus: PrometheusClient, jobs: tuple[str, ...]) -> None:
        self.prometheus = prometheus
        self.current_query, self.newest_query = queries(jobs)
        self._intervals: Intervals | None = None
        self._intervals_at = 0.0

    async def intervals(self) -> Intervals:
        if self._intervals is None or time.monotonic() - self._intervals_at > INTERVALS_TTL:
            self._intervals = await self._read_intervals()
            self._intervals_at = time.monotonic()
        return self._intervals

    async def _read_intervals(self) -> Intervals:
        try:
            return parse_intervals(await self.prometheus.config_yaml())
        except (UpstreamUnavailable, UpstreamTimeout):
            raise  # Prometheus is down: the instance queries fail the same way
        except (UpstreamError, ValueError, yaml.YAMLError) as exc:
            detail = exc.detail if isinstance(exc, UpstreamError) else str(exc)
            return Intervals(warning=f"scrape intervals unknown ({detail[:200]}); assumed "
                             f"{DEFAULT_INTERVAL:g}s for freshness")

    async def answer(self) -> dict[str, Any]:
        intervals, current, newest = await asyncio.gather(
            self.intervals(), self.prometheus.query(self.current_query),
            self.prometheus.query(self.newest_query))
        warnings = list(dict.fromkeys([*current.warnings, *newest.warnings]))
        if intervals.warning:
            warnings.append(intervals.warning)
        return {"instances": merge(current, newest, intervals), "warnings": warnings}
