"""Acknowledgements: an ack is a silence of exactly one alert, and it ends with that alert.

POST /api/alerts/{fingerprint}/ack creates (or, when the alert already has an active ack,
extends) a silence matching the alert's labels exactly, its comment prefixed "ACK! " (kthxbye's
convention, so acks made by kthxbye or by hand count too). The `AckKeeper` expires an ack when
its alert resolves, so a re-fire is never swallowed: it listens to committed events on the
leader replica (one replica acts, whichever received the resolution) and expires the alert's
active acks through Alertmanager, retrying a failed expiry a few times with backoff. A sweep
after the view loads and after each silence-watcher pass catches the acks no event ended (a
resolution logged before the view loaded, a full queue, failed attempts, a change of leader):
only acks whose alert the log holds as resolved, never one of an alert it does not know.
While the alert fires, `bridge.alerts.ackextend` extends its ack instead.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from bridge.alerts.backend import AlertLog
from bridge.alerts.episodes import SOURCE as BACKFILLED
from bridge.alerts.model import now_ms, parse_time
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


def rotated(silences: Iterable[dict[str, Any]], after: str | None) -> list[dict[str, Any]]:
    """`silences` by id, from the first id past `after` round to it: a sweep cut at
    MAX_PENDING takes the candidates in turn across sweeps, not the same first ones each time
    (those of alerts the log never had stay candidates until they end)."""
    ordered = sorted(silences, key=lambda silence: silence["id"])
    if after is None:
        return ordered
    start = bisect.bisect_right(ordered, after, key=lambda silence: silence["id"])
    return ordered[start:] + ordered[:start]


class AckKeeper:
    """Expires the acks of alerts that resolved (see the module docstring).

    Expiries wait in `pending` with a due time; a failed one is put back with its cluster's
    backoff, and at most one expiry per cluster is in flight, so an unreachable cluster delays
    only its own acks. `sweep` finds the acks no event ended: those whose alert is not firing
    in the hub, among the acks that already existed at the cluster's previous sweep (a sweep
    runs after each silence-watcher pass, one reconcile interval apart, so a firing alert
    acked before the previous sweep has had a reconciliation to reach the hub; an ack made in
    Alertmanager before its alert's first webhook is not taken for a stale one), and of those
    only the acks whose alert the log holds as resolved (`_expire_resolved`). A sweep asks
    about at most MAX_PENDING of them, each cluster's taken in turn (`rotated`)."""

    def __init__(self, view: SilenceView, store: AlertLog, expire: Expire,
                 clock: Callable[[], int] = now_ms) -> None:
        self.view, self.store, self.expire, self.clock = view, store, expire, clock
        self.pending: dict[tuple[str, str], tuple[float, int]] = {}  # key -> (due, attempt)
        self.expired = 0
        self._busy: set[str] = set()  # clusters with an expiry in flight
        self._backoffs: dict[str, Backoff] = {}
        self._swept: dict[str, int] = {}  # cluster -> time (ms) of its previous sweep
        self._cursor: dict[str, str] = {}  # cluster -> id of the last ack its sweep took
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
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
            if event.alert["status"] == "resolved":
                ended = parse_time(event.alert["endsAt"] or event.alert["updatedAt"])
            elif event.kind == "refired":
                ended = parse_time(event.alert["startsAt"])  # the new life's start
            else:
                continue
            for silence in self.view.active_acks(event.alert["fingerprint"],
                                                 event.alert.get("cluster")):
                if parse_time(silence["startsAt"]) < ended:  # an ack of a life that ended
                    self.enqueue(silence)

    def sweep(self, firing: Mapping[tuple[str, str], Any], clusters: Iterable[str]) -> int:
        """Ask the log about each possibly stale ack of `clusters` (class docstring) and
        queue the expiry of those whose alert it holds as resolved; how many it asks about.
        On the leader, once the view is loaded; `firing` is the hub's, keyed by (cluster,
        fingerprint)."""
        if not self.store.leader or not self.view.loaded:
            return 0
        now = self.clock()
        candidates: list[tuple[tuple[str, str], dict[str, Any]]] = []
        for cluster in clusters:
            before = self._swept.get(cluster)
            self._swept[cluster] = now
            if before is None:
                continue
            found = [silence for silence in self.view.every_active_ack(cluster, now)
                     if (cluster, silence["ack"]["fingerprint"]) not in firing
                     and parse_time(silence["startsAt"]) < before
                     and (cluster, silence["id"]) not in self.pending]
            candidates.extend(((cluster, silence["ack"]["fingerprint"]), silence)
                              for silence in rotated(found, self._cursor.get(cluster)))
        del candidates[MAX_PENDING:]
        for _, silence in candidates:  # the next sweep of its cluster starts after the last
            self._cursor[silence["cluster"]] = silence["id"]
        if candidates:
            task = asyncio.get_running_loop().create_task(self._expire_resolved(candidates))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(candidates)

    async def _expire_resolved(self, candidates: list[tuple[tuple[str, str], dict[str, Any]]]
                               ) -> None:
        """Expire the acks whose alert the log holds as resolved. An ack of an alert the log
        never had is left to end by itself: an "ACK! " silence made elsewhere may match part
        of a label set (a maintenance silence of every `alertname="DiskFull"`), and a new or
        wiped log knows none of the alerts that fire; expiring those would un-silence alerts
        that still fire."""
        try:
            resolved = await self.store.resolved([key for key, _ in candidates])
        except BridgeError as exc:
            log.info("stale acks not checked (the next sweep asks again): %s", exc.detail)
            return
        for key, silence in candidates:
            # Only an ack made before that life ended: one made since (in Alertmanager, while
            # this bridge was down) is of a life the log has not seen yet.
            if key in resolved and parse_time(silence["startsAt"]) < resolved[key]:
                self.enqueue(silence)

    def enqueue(self, silence: Mapping[str, Any]) -> bool:
        """Queue one ack's expiry, due now (bounded; once queued, not again)."""
        key = (silence["cluster"], silence["id"])
        if key in self.pending:
            return False
        if len(self.pending) >= MAX_PENDING:
            log.warning("too many ack expiries pending: ack %s ends at %s instead",
                        silence["id"], silence["endsAt"])
            return False
        self.pending[key] = (0.0, 0)
        self._wake.set()
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alerts-acks")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._tasks.clear()

    def _next(self) -> tuple[float, tuple[str, str]] | None:
        """The earliest pending expiry of a cluster with none in flight."""
        ready = [(due, key) for key, (due, _) in self.pending.items()
                 if key[0] not in self._busy]
        return min(ready) if ready else None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            found = self._next()
            timeout = None
            if found is not None:
                due, key = found
                if due <= loop.time():
                    self._busy.add(key[0])
                    task = asyncio.create_task(self._attempt(key), name="alerts-ack-expiry")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    continue
                timeout = due - loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _attempt(self, key: tuple[str, str]) -> None:
        cluster, sid = key
        backoff = self._backoffs.setdefault(cluster, Backoff(base=1.0, cap=30.0, floor=0.5))
        try:
            await self.expire(cluster, sid)
        except BridgeError as exc:
            attempt = self.pending.get(key, (0.0, 0))[1] + 1
            if attempt >= ATTEMPTS:
                self.pending.pop(key, None)
                log.warning("could not expire ack %s of cluster %r: %s", sid, cluster,
                            exc.detail)
            else:
                due = asyncio.get_running_loop().time() + backoff.next_delay()
                self.pending[key] = (due, attempt)
        else:
            self.pending.pop(key, None)
            backoff.reset()
            self.expired += 1
            log.info("ack %s of cluster %r expired: its alert is not firing", sid, cluster)
        finally:
            self._busy.discard(cluster)
            self._wake.set()


ACK_KEEPER_KEY = web.AppKey("ack_keeper", AckKeeper)
