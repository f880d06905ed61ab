"""Acknowledgements: an ack is a silence of exactly one alert, and it ends with that alert.

POST /api/alerts/{fingerprint}/ack creates (or, when the alert already has an active ack,
extends) a silence matching the alert's labels exactly, its comment prefixed "ACK! " (kthxbye's
convention, so acks made by kthxbye or by hand count too). The `AckKeeper` expires an ack when
its alert resolves, so a re-fire is never swallowed: it listens to committed events on the
leader replica (one replica acts, whichever received the resolution) and expires the alert's
active acks through Alertmanager, retrying a failed expiry a few times with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from bridge.alerts.backend import AlertLog
from bridge.alerts.episodes import SOURCE as BACKFILLED
from bridge.alerts.silencerequest import (
    ACK_DEFAULT_SECONDS,
    ACK_MAX_SECONDS,
    duration_ms,
    parse_comment,
)
from bridge.alerts.silenceview import SilenceView
from bridge.alerts.store import Event
from bridge.errors import BadRequest, BridgeError, NotFound
from bridge.protocol import Backoff

log = logging.getLogger("bridge.alerts.acks")

# Expiries waiting (bounded: beyond it a resolution's acks are left to expire by their end).
MAX_PENDING = 1000
ATTEMPTS = 5
ACK_FIELDS = ("comment", "duration")

Expire = Callable[[str, str], Awaitable[Any]]  # (cluster, silence id)


def parse_ack(data: Any) -> tuple[str, int]:
    """The ack body: (comment, duration in ms: default 1h, at most 24h)."""
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    unknown = sorted(set(data) - set(ACK_FIELDS))
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field (valid: {', '.join(ACK_FIELDS)})")
    duration = duration_ms(data.get("duration"), "duration", ACK_MAX_SECONDS)
    return parse_comment(data.get("comment")), duration or int(ACK_DEFAULT_SECONDS * 1000)


def find_alert(alerts: Mapping[Any, dict[str, Any]], fingerprint: str, cluster: str | None
               ) -> dict[str, Any]:
    """The firing alert with `fingerprint` (of `cluster` when given): 404 when none, 400 naming
    the clusters when several clusters have one."""
    found = [a for a in alerts.values() if a["fingerprint"] == fingerprint
             and (cluster is None or a.get("cluster", cluster) == cluster)]
    if not found:
        where = f" in cluster {cluster!r:.80}" if cluster is not None else ""
        raise NotFound(f"no firing alert with fingerprint {fingerprint!r:.80}{where}")
    if len(found) > 1:
        names = ", ".join(sorted(str(a.get("cluster")) for a in found))
        raise BadRequest(f"cluster: alerts with fingerprint {fingerprint} fire in clusters "
                         f"{names}: add ?cluster=NAME")
    return found[0]


class AckKeeper:
    """Expires the acks of alerts that resolved (see the module docstring)."""

    def __init__(self, view: SilenceView, store: AlertLog, expire: Expire) -> None:
        self.view, self.store, self.expire = view, store, expire
        self.queue: asyncio.Queue[tuple[str, str, int]] = asyncio.Queue(MAX_PENDING)
        self.expired = 0
        self._task: asyncio.Task[None] | None = None

    def on_commit(self, events: list[Any]) -> None:
        """`AlertLog.on_commit` listener (after the view's): queue the acks of lives that ended.

        A life ends with its `resolved` event, or with a `refired` one when the resolution was
        never logged (an acked alert is silenced: no resolved webhook, and reconciliation may
        see the new life before it calls the old one gone). A backfilled event is history: the
        episode it tells of ended long ago, whatever acks the alert has now."""
        if not self.store.leader:
            return
        for event in events:
            if not isinstance(event, Event) or event.source == BACKFILLED:
                continue
            if event.alert["status"] != "resolved" and event.kind != "refired":
                continue
            for silence in self.view.active_acks(event.alert["fingerprint"],
                                                 event.alert.get("cluster")):
                try:
                    self.queue.put_nowait((silence["cluster"], silence["id"], 0))
                except asyncio.QueueFull:
                    log.warning("too many ack expiries pending: ack %s ends at %s instead",
                                silence["id"], silence["endsAt"])

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alerts-acks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = Backoff(base=1.0, cap=30.0, floor=0.5)
        while True:
            cluster, sid, attempt = await self.queue.get()
            try:
                await self.expire(cluster, sid)
            except BridgeError as exc:
                if attempt + 1 >= ATTEMPTS:
                    log.warning("could not expire ack %s of cluster %r: %s", sid, cluster,
                                exc.detail)
                    continue
                await asyncio.sleep(backoff.next_delay())
                with contextlib.suppress(asyncio.QueueFull):
                    self.queue.put_nowait((cluster, sid, attempt + 1))
                continue
            backoff.reset()
            self.expired += 1
            log.info("ack %s of cluster %r expired: its alert resolved", sid, cluster)


ACK_KEEPER_KEY = web.AppKey("ack_keeper", AckKeeper)
