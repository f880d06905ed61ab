"""Acks last while their alert fires: kthxbye's extension, run by the bridge's leader.

An ack is given a short end (1 h by default) and the bridge expires it when the alert resolves
(`bridge.alerts.acks`). Between the two, after each silence-watcher pass of a cluster (its view
of the silences is then fresh), the leader extends every active ack of that cluster that ends
within `alerts.ack_extend_if_expiring_in` seconds while its alert (the same cluster, exactly the
ack's labels) still fires here: it ends `alerts.ack_extend_by` seconds from now, as kthxbye's
`-extend-by` counts, never later than `alerts.ack_max_duration` after the ack's start
(kthxbye's `-max-duration`, here a cap rather than a last full step). An ack at its cap, or
whose alert is resolved or gone, is left alone: it ends, or the keeper expires it, so a re-fire
is never swallowed.

The extension is an update of the same silence (same id, matchers, start, comment and
createdBy: the ack's `by` stays who acked), written through `bridge.alerts.silencewrite`, so it
is one `silence` `updated` event, logged with `by` = EXTENDER. Each ack is looked at again as
Alertmanager has it just before the write. Should the alert resolve during the write, the
keeper may expire the silence first and Alertmanager then makes a new one of the update: that
one is expired at once. A pass handles at most MAX_PER_PASS acks (soonest end first; the rest
wait for the next pass); a cluster that cannot be reached ends its pass and skips the passes of
its backoff (1 s doubling to 30 s), as ack expiries back off; a refused ack is skipped (and
tried again in later passes after every other due ack; its warning is logged once, until it is
extended or ends).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from aiohttp import web

from bridge.alerts import silencewrite
from bridge.alerts.backend import AlertLog
from bridge.alerts.model import now_ms, parse_time
from bridge.alerts.silencerequest import SilenceRequest
from bridge.alerts.silences import state_at
from bridge.alerts.silenceview import SilenceView
from bridge.config import AlertsConfig
from bridge.errors import BadRequest, BridgeError
from bridge.protocol import Backoff
from bridge.upstream.alertmanager import Cluster

log = logging.getLogger("bridge.alerts.ackextend")

# Who the log says extended an ack (the silence's createdBy stays the acker's).
EXTENDER = "promwire (ack extension)"
MAX_PER_PASS = 100

Firing = Mapping[tuple[str, str], Mapping[str, Any]]  # the hub's, by (cluster, fingerprint)
Extend = Callable[[str, str], Awaitable[Any]]  # (cluster, silence id) -> the silence or None


# --- the decision (pure) -------------------------------------------------------------------

def extended_end(silence: Mapping[str, Any], now: int, rule: AlertsConfig) -> int | None:
    """The end (ms) an ack moves to at `now`, or None: not active, not ending within the
    threshold, or at its cap (`startsAt` + max duration) already."""
    if state_at(silence, now) != "active":
        return None
    ends = parse_time(silence["endsAt"])
    if ends - now > rule.ack_extend_if_expiring_in * 1000:
        return None
    cap = parse_time(silence["startsAt"]) + int(rule.ack_max_duration * 1000)
    target = min(now + int(rule.ack_extend_by * 1000), cap)
    return target if target > ends else None


def fires(silence: Mapping[str, Any], firing: Firing) -> bool:
    """Whether the alert an ack names fires here: same cluster, exactly the ack's labels."""
    ack = silence.get("ack")
    if not ack:
        return False
    alert = firing.get((silence["cluster"], ack["fingerprint"]))
    labels = {m["name"]: m["value"] for m in silence["matchers"]}
    return (alert is not None and alert.get("status", "firing") == "firing"
            and alert.get("labels") == labels)


def plan(acks: Iterable[Mapping[str, Any]], firing: Firing, now: int, rule: AlertsConfig,
         limit: int = MAX_PER_PASS, refused: Collection[str] = ()
         ) -> list[tuple[Mapping[str, Any], int]]:
    """(ack, its new end) of each ack to extend now, soonest end first, at most `limit`. The
    `refused` ones (ids Alertmanager refused to extend before) come after all the others:
    acks refused pass after pass must not keep the rest from their turn."""
    found = []
    for silence in acks:
        ends = extended_end(silence, now, rule)
        if ends is not None and fires(silence, firing):
            found.append((silence, ends))
    found.sort(key=lambda pair: (pair[0]["id"] in refused, pair[0]["endsAt"], pair[0]["id"]))
    return found[:limit]


# --- the write -----------------------------------------------------------------------------

async def extend_ack(cluster: Cluster, store: AlertLog, sid: str, rule: AlertsConfig,
                     wanted: Callable[[Mapping[str, Any]], bool],
                     clock: Callable[[], int] = now_ms) -> dict[str, Any] | None:
    """Extend one ack as Alertmanager has it now, if it is still due at `clock()` and `wanted`
    (its alert fires, no expiry is pending); the silence as extended, or None. `clock` is the
    extender's, so the write and the plan agree on the time."""
    base = await silencewrite.fetch(cluster, sid)
    ends = extended_end(base, clock(), rule)
    if ends is None or not base.get("ack") or not wanted(base):
        return None
    req = SilenceRequest(cluster=cluster.name, id=sid, matchers=None, starts_ms=None,
                         ends_ms=ends, duration_ms=None, comment=base["comment"])
    silence = await silencewrite.write(cluster, store, req, base, EXTENDER,
                                       author=base["createdBy"])
    if silence["id"] != sid:  # expired meanwhile: Alertmanager made the update a new silence
        await silencewrite.expire(cluster, store, silence["id"], EXTENDER)
        return None
    return silence


# --- the passes ----------------------------------------------------------------------------

class AckExtender:
    """Runs `plan` after each watcher pass of a cluster, on the leader (module docstring).

    At most one pass per cluster is in flight; `extend` does one ack (`extend_ack`)."""

    def __init__(self, view: SilenceView, store: AlertLog, rule: AlertsConfig, extend: Extend,
                 clock: Callable[[], int] = now_ms) -> None:
        self.view, self.store, self.rule, self.extend, self.clock = (view, store, rule, extend,
                                                                     clock)
        self.extended = 0
        self._tasks: dict[str, asyncio.Task[None]] = {}  # cluster -> its pass in flight
        self._backoffs: dict[str, Backoff] = {}
        self._retry_at: dict[str, int] = {}  # cluster -> `clock()` its next pass may start
        # (cluster, silence id) of the acks whose refusal was logged: logged once, not each
        # pass, until the ack is extended or is no longer active.
        self.refused: set[tuple[str, str]] = set()

    @property
    def in_flight(self) -> int:
        """Passes running now (one per cluster at most)."""
        return len(self._tasks)

    def sweep(self, firing: Firing, cluster: str) -> int:
        """Start a pass over `cluster`'s acks; how many it will try to extend."""
        if not (self.rule.ack_extend and self.store.leader and self.view.loaded):
            return 0
        now = self.clock()
        if cluster in self._tasks or now < self._retry_at.get(cluster, 0):
            return 0
        acks = self.view.every_active_ack(cluster, now)
        self._forget_refusals(cluster, {silence["id"] for silence in acks})
        batch = plan(acks, firing, now, self.rule,
                     refused={sid for name, sid in self.refused if name == cluster})
        if batch:
            ids = [silence["id"] for silence, _ in batch]
            task = asyncio.get_running_loop().create_task(self._pass(cluster, ids),
                                                          name=f"ack-extend-{cluster}")
            self._tasks[cluster] = task
            task.add_done_callback(lambda _: self._tasks.pop(cluster, None))
        return len(batch)

    def _forget_refusals(self, cluster: str, active: set[str]) -> None:
        """Drop the logged refusals of `cluster`'s acks that are no longer `active`."""
        self.refused -= {key for key in self.refused if key[0] == cluster and key[1] not in active}

    async def _pass(self, cluster: str, ids: list[str]) -> None:
        backoff = self._backoffs.setdefault(cluster, Backoff(base=1.0, cap=30.0, floor=0.5))
        for sid in ids:
            if not self.store.leader:  # another replica leads now: its passes extend
                return
            try:
                silence = await self.extend(cluster, sid)
            except BadRequest as exc:  # this ack (gone, refused): the others go on
                level = logging.DEBUG if (cluster, sid) in self.refused else logging.WARNING
                self.refused.add((cluster, sid))
                log.log(level, "could not extend ack %s of cluster %r: %s", sid, cluster,
                        exc.detail)
                continue
            except BridgeError as exc:  # the cluster: the rest wait for its backoff
                delay = backoff.next_delay()
                self._retry_at[cluster] = self.clock() + int(delay * 1000)
                log.warning("could not extend acks of cluster %r (next try in %.1fs): %s",
                            cluster, delay, exc.detail)
                return
            if silence is not None:
                self.extended += 1
                self.refused.discard((cluster, sid))
                log.info("ack %s of cluster %r extended to %s: its alert still fires", sid,
                         cluster, silence["endsAt"])
        backoff.reset()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()


ACK_EXTENDER_KEY = web.AppKey("ack_extender", AckExtender)
