"""Reconciliation: make the store agree with Alertmanager's active alerts.

At start-up and every `alertmanager.reconcile_interval` seconds the bridge reads
`GET {alertmanager}/api/v2/alerts` (active and silenced, not inhibited: a silenced alert, e.g.
an acked one, still fires, and resolving it here would expire its ack) and the store turns
differences into events with source "reconcile": firing in Alertmanager but not here ->
firing/refired; firing here but gone there -> resolved. This is what recovers changes that
happened while the bridge was down. Manual alerts are not Alertmanager's and are left alone.

Alertmanager keeps alerts in memory only: right after it restarts its list is empty until
Prometheus re-sends each firing alert (every resend delay, rounded up to the rule evaluation
interval). So "missing from Alertmanager" means "resolved" only once the alert has been missing
for `alerts.resend_interval` of Alertmanager's uptime (read from `/api/v2/status`): measured from
the latest of when reconciliation first saw it missing, when a webhook last reported it, and when
Alertmanager started. Until then it is `held` and reconciliation runs again when it falls due.
Webhook `resolved` notices are never delayed.

When Alertmanager cannot be reached the attempt is logged and retried with exponential backoff
(1 s doubling up to `reconcile_backoff_max`, with jitter); `status()` feeds /health.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bridge.alerts.backend import AlertLog
from bridge.alerts.model import now_ms, parse_am_alerts, parse_time
from bridge.alerts.store import MayResolve
from bridge.config import AlertmanagerConfig
from bridge.errors import BridgeError, UpstreamInvalid, UpstreamUnavailable
from bridge.protocol import Backoff
from bridge.upstream.alertmanager import ALERTS_ENDPOINT, STATUS_ENDPOINT, Cluster

log = logging.getLogger("bridge.alerts.reconcile")

# Seconds past a held alert's due time before the extra reconciliation that may resolve it.
DUE_SLACK = 0.1


class Reconciler:
    """Periodic, retried comparison of the store with Alertmanager."""

    def __init__(self, client: Cluster | None, store: AlertLog, config: AlertmanagerConfig,
                 resend_interval: float = 60.0, clock: Callable[[], int] = now_ms) -> None:
        self.client, self.config, self.store = client, config, store
        self.resend_ms = int(resend_interval * 1000)
        self.clock = clock  # milliseconds since the epoch (injected by tests)
        # Firing alerts missing from Alertmanager, not resolved yet: fingerprint -> since (ms).
        self.missing: dict[str, int] = {}
        self.am_started_ms: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.backoff = retry_backoff(self.config.reconcile_backoff_max)
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.last_events = 0
        self.runs = 0

    @property
    def failures(self) -> int:
        """Consecutive failed attempts (0 after a success)."""
        return self.backoff.failures

    @property
    def enabled(self) -> bool:
        return self.client is not None

    async def start(self) -> None:
        """Run in the background (again after `stop`: leadership moves between replicas); the
        client's session is its owner's to open and close."""
        if not self.enabled or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.create_task(self._run(), name="alerts-reconcile")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def trigger(self) -> None:
        """Reconcile now rather than at the next interval (e.g. a truncated webhook)."""
        self._wake.set()

    def status(self) -> dict[str, Any]:
        if not self.enabled:
            return {"ok": None, "error": "no Alertmanager configured"}
        if not self.store.leader:
            return {"ok": None, "error": None, "running": False, "runs": self.runs}
        return {"ok": self.last_success is not None and self.failures == 0,
                "last_success": self.last_success, "error": self.last_error,
                "consecutive_failures": self.failures, "runs": self.runs,
                "last_events": self.last_events, "held": len(self.missing)}

    async def reconcile_once(self) -> int:
        """One comparison; the number of events it caused. Raises BridgeError on failure."""
        fetched = self.clock()
        if self.client is None:
            raise UpstreamUnavailable("no Alertmanager configured")
        notices = parse_am_alerts(await self.client.get_json(ALERTS_ENDPOINT, self._alert_params()))
        # Asked after the list: if Alertmanager restarted in between, this uptime is the new
        # one (short), so an empty list from a fresh Alertmanager can never pass for old.
        started = am_started_ms(await self.client.get_json(STATUS_ENDPOINT, {}))
        result = await self.store.reconcile(notices, fetched, self._policy(fetched, started))
        self.missing = {fp: max(self.missing.get(fp, fetched), seen)
                        for fp, seen in result.held.items()}
        self.am_started_ms = started
        self.runs += 1
        return len(result.events)

    def _policy(self, fetched: int, started: int) -> MayResolve:
        """Which missing alerts this run may resolve (reads a copy: runs on the writer thread)."""
        since = dict(self.missing)
        resend = self.resend_ms

        def may_resolve(fingerprint: str, seen_ms: int) -> bool:
            absent_from = max(since.get(fingerprint, fetched), seen_ms, started)
            return fetched - absent_from >= resend
        return may_resolve

    def _alert_params(self) -> dict[str, str]:
        params = {"active": "true", "silenced": "true", "inhibited": "false",
                  "unprocessed": "true"}
        if self.config.receiver:
            params["receiver"] = self.config.receiver
        return params

    def _next_delay(self) -> float | None:
        """Seconds to the next run: the interval, or sooner when a held alert falls due."""
        interval = self.config.reconcile_interval
        delays = [interval] if interval > 0 else []
        if self.missing:
            first = min(max(since, self.am_started_ms or 0) for since in self.missing.values())
            due_in = (first + self.resend_ms - self.clock()) / 1000
            delays.append(max(due_in, 0.0) + DUE_SLACK)
        return min(delays) if delays else None

    async def _run(self) -> None:
        delay: float | None = 0.0
        while True:
            await self._sleep(delay)
            try:
                self.last_events = await self.reconcile_once()
            except (BridgeError, ValueError) as exc:
                delay = self._failed(exc)
                continue
            except Exception as exc:  # a bug must not end reconciliation for good
                log.exception("reconciliation crashed")
                delay = self._failed(exc)
                continue
            if self.failures:
                log.info("reconciled with Alertmanager again after %d failed attempts",
                         self.failures)
            if self.last_events:
                log.info("reconciliation with Alertmanager added %d events", self.last_events)
            self.backoff.reset()
            self.last_error = None
            self.last_success = time.time()
            delay = self._next_delay()

    def _failed(self, exc: Exception) -> float:
        self.last_error = getattr(exc, "detail", None) or str(exc)
        delay = self.backoff.next_delay()
        level = logging.WARNING if self.failures == 1 or self.failures % 10 == 0 else logging.DEBUG
        log.log(level, "reconciliation failed (attempt %d), retrying in %.1fs: %s",
                self.failures, delay, self.last_error)
        return delay

    async def _sleep(self, delay: float | None) -> None:
        """Wait `delay` seconds (None = until triggered), or less when triggered."""
        if delay == 0:
            return
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass
        self._wake.clear()


def retry_backoff(cap: float) -> Backoff:
    """1 s doubling up to `cap`, each delay in [half, all] of that: never a retry at once."""
    return Backoff(base=min(1.0, cap), cap=cap, floor=0.5)


def am_started_ms(status: Any) -> int:
    """When Alertmanager started, from its /api/v2/status answer (`uptime` is that instant)."""
    uptime = status.get("uptime") if isinstance(status, dict) else None
    if not isinstance(uptime, str):
        raise UpstreamInvalid("Alertmanager's /api/v2/status has no uptime")
    try:
        return parse_time(uptime)
    except ValueError as exc:
        raise UpstreamInvalid(f"Alertmanager's /api/v2/status uptime: {exc}") from None


RECONCILER_KEY = web.AppKey("alert_reconciler", Reconciler)
