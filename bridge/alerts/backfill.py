"""Backfill: the alert history filled from Prometheus' `ALERTS` series, on the leader only.

Alertmanager's API lists only alerts that are still active, so an alert that fired and
resolved while the bridge was down (or before its first start) never reaches the log through
webhooks or reconciliation. Prometheus keeps it: `ALERTS{alertstate="firing"}` is 1 for every
evaluation an alert fired. At start (the first time the store is open on the leader) and then
every `alerts.backfill_interval` seconds, this reads it over the retention window
(`alerts.retention_days`, as far back as Prometheus keeps it) up to `alerts.backfill_holdoff`
before now, and hands the finished episodes to the store, which writes those the log lacks as
a `firing` and a `resolved` event each, with `"source": "prometheus"` in their alert and the
cluster `target` names (`alerts.backfill_cluster`, or the only one; with several and none
named, backfill is off: one Prometheus' ALERTS cannot say which cluster an alert went to).

What makes that safe (the rules are `bridge.alerts.episodes`' and the stores'):
- history only: backfilled events are in GET /api/alerts/history and timelines, never in the
  live view (/api/alerts, snapshots) nor in any alert stream, live or replayed; an alert's
  current state is never set by them (its row changes only from nothing or an older resolved
  life to this resolved one, so a late duplicate webhook is still recognised);
- never twice: an episode overlapping any life of the fingerprint the log knows is skipped, so
  running again (every interval, every restart, on any replica) writes nothing new;
- never a guess at identity: the labels get Prometheus' external labels as it sends them, and
  a Prometheus with `alert_relabel_configs` is not backfilled from (its fingerprints could
  differ from Alertmanager's).
Later runs read only from where the previous one stopped (or the start of a run still firing
then). The events are stored when written (retention and seq order unchanged); their
`timestamp` is when they happened.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import yaml
from aiohttp import web

from bridge.alerts.backend import STORE_KEY, AlertLog
from bridge.alerts.episodes import Tracker
from bridge.alerts.model import now_ms
from bridge.alerts.reconcile import retry_backoff
from bridge.config import DEFAULT_CLUSTER, AlertsConfig, BridgeConfig
from bridge.errors import BridgeError, UpstreamInvalid
from bridge.health import add_health_check
from bridge.keys import CONFIG_KEY
from bridge.upstream.prometheus import PROMETHEUS_KEY, PrometheusClient

log = logging.getLogger("bridge.alerts.backfill")

QUERY = 'timestamp(ALERTS{alertstate="firing"})'
PROBE = 'present_over_time(ALERTS{alertstate="firing"}'
# Grid points per range query: the window is read in chunks of this many steps.
CHUNK_POINTS = 1440
# Seconds between checks for "open and leading" while this replica may not backfill.
IDLE_CHECK = 1.0


class Refused(UpstreamInvalid):
    """Prometheus' set-up makes backfilled identities untrustworthy."""


def prometheus_setup(config_text: str) -> dict[str, str]:
    """Prometheus' external labels, from its configuration; Refused when it relabels alerts."""
    try:
        config = yaml.safe_load(config_text) or {}
    except yaml.YAMLError as exc:
        raise UpstreamInvalid(f"Prometheus' configuration is not YAML: {exc}") from None
    alerting = config.get("alerting") if isinstance(config, dict) else None
    if isinstance(alerting, dict) and alerting.get("alert_relabel_configs"):
        raise Refused("Prometheus relabels alerts (alert_relabel_configs): backfilled "
                      "fingerprints could differ from Alertmanager's, so backfill is off")
    glob = config.get("global") if isinstance(config, dict) else None
    labels = glob.get("external_labels") if isinstance(glob, dict) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


class Backfiller:
    """Runs backfill on the leader (module docstring); `status()` feeds /health."""

    def __init__(self, prometheus: PrometheusClient, store: AlertLog, config: AlertsConfig,
                 cluster: str | None, clock: Callable[[], int] = now_ms,
                 off: str | None = None) -> None:
        """`cluster`: where episodes go (None: backfill is off, `off` says why)."""
        self.prometheus, self.store, self.config, self.cluster = prometheus, store, config, cluster
        self.off = off if cluster is None else None
        self.clock = clock
        self.step_ms = max(1, int(config.backfill_step * 1000))
        self.resume_ms: int | None = None  # where the next run starts reading
        self.backoff = retry_backoff(config.backfill_interval)
        self.runs = 0
        self.written = 0
        self.last_error: str | None = None
        self.last_success: float | None = None

    @property
    def enabled(self) -> bool:
        return self.config.backfill and self.cluster is not None

    def may_run(self) -> bool:
        store = self.store
        return (self.enabled and store.leader and bool(store.epoch)
                and store.error is None and store.unavailable() is None)

    async def run_once(self) -> int:
        """One pass over the window; the number of events written (none while off)."""
        cluster = self.cluster
        if cluster is None:
            return 0
        external = prometheus_setup(await self.prometheus.config_yaml())
        now = self.clock()
        end = self._grid(now - int(self.config.backfill_holdoff * 1000))
        start = self.resume_ms
        if start is None:
            start = self._grid(now - int(self.config.retention_days * 86_400_000))
        if end <= start:
            return 0
        tracker = Tracker(self.step_ms, start, external)
        if not await self._any_firing(start, end):
            self.resume_ms = end
            self.runs += 1
            return 0
        chunk = CHUNK_POINTS * self.step_ms
        for first in range(start, end + 1, chunk):
            last = min(first + chunk - self.step_ms, end)
            result = await self.prometheus.query_range(QUERY, first / 1000, last / 1000,
                                                       self.step_ms / 1000)
            for series in result.series:
                tracker.feed(series.labels, _points(series.points))
            tracker.chunk_done(last)
        events = await self.store.backfill(tracker.done, cluster) if tracker.done else []
        opened = tracker.open_since()
        self.resume_ms = end if opened is None else max(start, opened - self.step_ms)
        self.runs += 1
        self.written += len(events)
        return len(events)

    async def _any_firing(self, start: int, end: int) -> bool:
        """One cheap instant query first: did anything fire in the window at all?"""
        window = max(1, math.ceil((end - start) / 1000))
        found = await self.prometheus.query(f"{PROBE}[{window}s])", end / 1000)
        return bool(found.series)

    def _grid(self, ms: int) -> int:
        return ms - ms % self.step_ms

    async def run_forever(self) -> None:
        waited = False
        while True:
            if not self.may_run():
                await asyncio.sleep(IDLE_CHECK)
                waited = False
                continue
            if not waited and self.config.backfill_delay > 0:
                waited = True
                await asyncio.sleep(self.config.backfill_delay)
                continue
            waited = True
            try:
                written = await self.run_once()
            except Refused as exc:
                self._failed(exc, logging.WARNING)
                await asyncio.sleep(self.config.backfill_interval)
                continue
            except (BridgeError, ValueError) as exc:
                self._failed(exc, logging.INFO)
                await asyncio.sleep(self.backoff.next_delay())
                continue
            if written:
                log.info("backfilled %d alert events from Prometheus' ALERTS", written)
            self.backoff.reset()
            self.last_error, self.last_success = None, time.time()
            await asyncio.sleep(self.config.backfill_interval)

    def _failed(self, exc: Exception, level: int) -> None:
        detail = getattr(exc, "detail", None) or str(exc)
        if detail != self.last_error:
            log.log(level, "alert backfill from Prometheus failed: %s", detail)
        self.last_error = detail

    def status(self) -> dict[str, Any]:
        """Informational (`ok` null): Prometheus' own check says when it is down."""
        return {"ok": None, "enabled": self.enabled, "cluster": self.cluster,
                "off": None if self.enabled else self.off or "alerts.backfill is false",
                "running": self.may_run(),
                "runs": self.runs, "events": self.written, "error": self.last_error,
                "last_success": self.last_success,
                "resume": None if self.resume_ms is None else self.resume_ms / 1000}


def _points(points: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """(grid ms, sample ms) from `timestamp(...)` points (its value is the sample's time)."""
    return [(round(t * 1000), round(v * 1000)) for t, v in points if math.isfinite(v)]


BACKFILL_KEY = web.AppKey("alert_backfill", Backfiller)


async def _backfill_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[BACKFILL_KEY].run_forever(), name="alerts-backfill")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def target(config: BridgeConfig) -> tuple[str | None, str | None]:
    """The cluster backfilled episodes go to, or (None, why backfill is off).

    `alerts.backfill_cluster` when set (configload checks it is configured); else the only
    cluster (`default` for alertmanager.url, and with no Alertmanager, as manual alerts). With
    several, guessing would give the episodes of one cluster's alerts the identity (cluster,
    fingerprint) of another's, so none is guessed."""
    if config.alerts.backfill_cluster:
        return config.alerts.backfill_cluster, None
    names = [c.name for c in config.alertmanager.cluster_list()]
    if len(names) <= 1:
        return (names[0] if names else DEFAULT_CLUSTER), None
    return None, (f"{len(names)} Alertmanager clusters and no alerts.backfill_cluster: set it "
                  "to the cluster Prometheus sends its alerts to")


def setup(app: web.Application) -> None:
    """After the alerts feature (its store) and the upstream clients."""
    config = app[CONFIG_KEY]
    cluster, off = target(config)
    backfiller = Backfiller(app[PROMETHEUS_KEY], app[STORE_KEY], config.alerts, cluster,
                            off=off)
    app[BACKFILL_KEY] = backfiller

    async def check() -> dict[str, Any]:
        return backfiller.status()
    add_health_check(app, "alerts_backfill", check)
    if backfiller.enabled:
        app.cleanup_ctx.append(_backfill_ctx)
    elif off is not None:
        log.warning("alert backfill is off: %s", off)
