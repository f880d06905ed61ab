"""The silence watcher: silences made elsewhere (amtool, Alertmanager's UI, another tool)
become events, as reconciliation turns alert changes into events.

On the leader replica, one loop per cluster reads `GET /api/v2/silences` from the cluster's
active peer every `alertmanager.reconcile_interval` seconds (0: once, at start) and records the
whole list with the time the read started (`AlertLog.record_silences(..., fetched_ms=)`). The
store decides on its committed rows, so a change the bridge made itself, already logged, is not
logged again, and a row written after the read started is newer than the list and left alone.
A silence's end passing is an `expired` event here, within an interval of it. A silence that
vanishes before its end is `expired` only once two consecutive reads of the same peer lack it
(`bridge.alerts.silences.plan`): a peer that took over after a failover, or restarted, may not
have caught up on gossip, and one read of it is no evidence. Failures back off as
reconciliation does (1 s doubling up to `reconcile_backoff_max`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bridge.alerts.backend import AlertLog
from bridge.alerts.model import now_ms
from bridge.alerts.reconcile import retry_backoff
from bridge.alerts.silences import from_am
from bridge.config import AlertmanagerConfig
from bridge.errors import BridgeError, UpstreamInvalid
from bridge.upstream.alertmanager import SILENCES_ENDPOINT, Cluster, Clusters

log = logging.getLogger("bridge.alerts.silencewatch")


class ClusterWatch:
    """One cluster's loop and what /health shows of it."""

    def __init__(self, cluster: Cluster, store: AlertLog, config: AlertmanagerConfig,
                 after_pass: Callable[[str], Any] | None = None) -> None:
        self.cluster, self.store, self.config = cluster, store, config
        self.after_pass = after_pass  # called with the cluster's name after each good pass
        self.backoff = retry_backoff(config.reconcile_backoff_max)
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.silences = 0
        self.runs = 0
        # (peer URL, silence ids) of the last read, while this replica leads without a break.
        self.last_read: tuple[str, frozenset[str]] | None = None

    async def poll_once(self) -> int:
        """One read and recording; the number of events it caused. Raises BridgeError."""
        fetched = now_ms()
        data = await self.cluster.get_json(SILENCES_ENDPOINT, {})
        peer = self.cluster.active_url  # the peer that answered (no await since)
        if not isinstance(data, list):
            raise UpstreamInvalid("Alertmanager's /api/v2/silences is not a list")
        try:
            silences = [from_am(self.cluster.name, item) for item in data]
        except ValueError as exc:
            raise UpstreamInvalid(f"Alertmanager's /api/v2/silences: {exc}") from None
        last = self.last_read
        previous = last[1] if last is not None and last[0] == peer else None
        events = await self.store.record_silences(self.cluster.name, silences, None,
                                                  fetched_ms=fetched, previous=previous)
        self.last_read = (peer, frozenset(s["id"] for s in silences))
        self.silences, self.runs = len(silences), self.runs + 1
        return len(events)

    async def run(self) -> None:
        interval = self.config.reconcile_interval
        self.last_read = None  # a read from before this replica last led proves nothing
        while True:
            try:
                added = await self.poll_once()
            except BridgeError as exc:
                self.last_error = exc.detail
                delay = self.backoff.next_delay()
                if self.backoff.failures == 1 or self.backoff.failures % 10 == 0:
                    log.warning("reading silences of cluster %r failed (attempt %d), retrying "
                                "in %.1fs: %s", self.cluster.name, self.backoff.failures, delay,
                                exc.detail)
                await asyncio.sleep(delay)
                continue
            if added:
                log.info("silences of cluster %r: %d changes logged", self.cluster.name, added)
            self.backoff.reset()
            self.last_error, self.last_success = None, time.time()
            if self.after_pass is not None:
                self.after_pass(self.cluster.name)
            if interval <= 0:
                return
            await asyncio.sleep(interval)

    def status(self) -> dict[str, Any]:
        return {"ok": self.last_success is not None and self.backoff.failures == 0,
                "error": self.last_error, "last_success": self.last_success,
                "silences": self.silences, "runs": self.runs}


class SilenceWatcher:
    """Every configured cluster's loop, run while this replica leads."""

    def __init__(self, clusters: Clusters, store: AlertLog, config: AlertmanagerConfig,
                 after_pass: Callable[[str], Any] | None = None) -> None:
        self.store = store
        self.watches = [ClusterWatch(c, store, config, after_pass)
                        for c in clusters if c.configured]
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(w.run(), name=f"silences-{w.cluster.name}")
                           for w in self.watches]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def status(self) -> dict[str, Any]:
        if not self.watches:
            return {"ok": None, "error": "no Alertmanager configured"}
        if not self.store.leader:
            return {"ok": None, "error": None, "running": False}
        clusters = {w.cluster.name: w.status() for w in self.watches}
        return {"ok": all(c["ok"] for c in clusters.values()), "clusters": clusters}


SILENCE_WATCHER_KEY = web.AppKey("silence_watcher", SilenceWatcher)
