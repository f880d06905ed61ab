"""Every replica publishes every committed event, in seq order, exactly once.

Each replica keeps `last`, the seq it last handed to its listeners (the hub), and reads the log
after it: `SELECT ... WHERE seq > last ORDER BY seq`. Commits on the same log order themselves
(`bridge.alerts.pg.writer`), so what that read returns is a gapless run and nothing before
`last` can appear later. It reads when

- a NOTIFY arrives on its dedicated LISTEN session (any replica's commit) whose events do not
  follow `last` directly (a notification carries its commit's frames when they fit: those that
  follow `last` are published from it, with no read);

(The same session hears `promwire_reconcile`: a replica that took a truncated webhook asks the
leader to reconcile now.)
- every `alerts.poll_interval` seconds, a safety net: a NOTIFY sent while the session was down
  is lost, and the LISTEN session's liveness is checked at the same time;
- its own writer committed events that do not follow `last` directly, and the LISTEN session
  has not caught up to them within NOTIFY_GRACE (it hears the commits in between, then this
  one, in commit order: the events it holds are then published from this replica's own copy,
  with no read; events that follow `last` are published at once at their commit).

A notification of events published already (this replica's own commit, mostly) is recognised by
the seq at the head of its last frame and not decoded.

Each read is one statement with the head row (one snapshot), so an epoch change (a log reset,
on any replica) is seen together with the events that follow it. When the database is
unreachable, listeners hear `on_status(reason)`; once it answers again, the next read catches up
from `last` and they hear `on_status(None)`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import asyncpg

from bridge.alerts.pg import sql
from bridge.alerts.pg.connect import FAILURES, close_quietly, connect, unavailable
from bridge.alerts.silences import SilenceEvent
from bridge.alerts.silences import event_from_frame as silence_event_from_frame
from bridge.alerts.store import Event
from bridge.config import AlertsConfig
from bridge.protocol import SILENCE, Backoff

log = logging.getLogger("bridge.alerts.pg.fanout")

READ_PAGE = 1000
# Most publication waiters (webhooks waiting for their own events to be published).
MAX_WAITERS = 10_000
# Seconds a replica's own commit that does not follow `last` waits for the LISTEN session to
# bring the commits before it, before it reads the log instead.
NOTIFY_GRACE = 0.2
# Most commits of this replica kept for publication from its own copy.
MAX_OWN = 1000
# The seq of a stored frame (alert or silence event), read off the head of its text.
_FRAME_SEQ = re.compile(r'\{"type":"[a-z]+","seq":(\d+),')


def event_from_frame(text: str) -> Event | SilenceEvent:
    """The Event a stored frame was made from (what a replica that did not write it needs)."""
    frame = json.loads(text)
    if frame["type"] == SILENCE:
        return silence_event_from_frame(frame, text)
    alert = frame["alert"]
    return Event(frame["seq"], frame["epoch"], frame["event"], alert["source"],
                 alert["labels"], alert, text)


class Fanout:
    """Reads committed events in seq order and publishes them; tracks reachability."""

    def __init__(self, config: AlertsConfig, pool: Callable[[], asyncpg.Pool],
                 publish: Callable[[list[Event | SilenceEvent]], None],
                 reset: Callable[[str], None], status: Callable[[str | None], None],
                 asked: Callable[[], None]) -> None:
        self.config, self._pool = config, pool
        self._publish, self._reset, self._status = publish, reset, status
        self._asked = asked  # a replica asked the leader to reconcile (RECONCILE_CHANNEL)
        self.last = 0
        self.epoch = ""
        self.listening = False
        # Why the log cannot be read (None: it can); what `on_status` announced last.
        self.down: str | None = None
        self._wake = asyncio.Event()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        # This replica's commits not yet published, by their first seq (`committed`).
        self._own: dict[int, list[Event] | list[SilenceEvent]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, last: int, epoch: str) -> None:
        if self._tasks:
            return
        self.last, self.epoch = last, epoch
        self._tasks = [asyncio.create_task(self._listen(), name="alerts-pg-listen"),
                       asyncio.create_task(self._read_loop(), name="alerts-pg-fanout")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for _, future in self._waiters:
            if not future.done():
                future.set_result(None)
        self._waiters.clear()
        self._own.clear()

    def wake(self) -> None:
        self._wake.set()

    # --- publication -----------------------------------------------------------------------

    def committed(self, events: list[Event] | list[SilenceEvent]) -> None:
        """This replica's writer committed `events`: publish them now if they follow `last`.
        Else other replicas' events come first: the LISTEN session brings those and then these
        (published from `_own`); the log is read if it has not within NOTIFY_GRACE."""
        if not events:
            return
        if events[0].epoch != self.epoch:
            self.wake()  # a reset came first: the read announces it before these events
        elif events[0].seq == self.last + 1:
            self._deliver(events)
        elif not self.listening or len(self._own) >= MAX_OWN:
            self.wake()
        else:
            self._own[events[0].seq] = events
            asyncio.get_running_loop().call_later(NOTIFY_GRACE, self._unheard, events[-1].seq)

    def _unheard(self, seq: int) -> None:
        if self.last < seq:
            self.wake()

    async def published(self, seq: int, within: float) -> bool:
        """Wait until `seq` was published here (False: not `within` seconds; it is committed
        all the same, and is published when the log can be read again)."""
        if self.last >= seq or len(self._waiters) >= MAX_WAITERS:
            return self.last >= seq
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, future))
        try:
            await asyncio.wait_for(asyncio.shield(future), within)
        except TimeoutError:
            return False
        finally:
            self._waiters = [(s, f) for s, f in self._waiters if f is not future]
        return True

    def _deliver(self, events: list[Event] | list[Event | SilenceEvent]) -> None:
        fresh = [e for e in events if e.seq > self.last]
        if not fresh:
            return
        if fresh[0].seq != self.last + 1:
            log.warning("alert log: seqs %d..%d were pruned before this replica read them",
                        self.last + 1, fresh[0].seq - 1)
        self.last = fresh[-1].seq
        self._publish(fresh)
        while self._own:  # this replica's own commits that follow now
            self._own = {first: own for first, own in self._own.items() if own[-1].seq > self.last}
            own = self._own.pop(self.last + 1, None)
            if own is None or own[0].epoch != self.epoch:
                break
            self.last = own[-1].seq
            self._publish(own)
        if self._waiters:
            for seq, future in self._waiters:
                if seq <= self.last and not future.done():
                    future.set_result(None)

    # --- reading ---------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._catch_up()
            except FAILURES as exc:
                self._set_down(unavailable(exc, "cannot be read").detail)
                continue
            if self.listening:
                self._set_down(None)

    async def _catch_up(self) -> None:
        """Publish everything committed after `last` (and a reset, first, if there was one)."""
        while True:
            async with self._pool().acquire(timeout=self.config.database_timeout) as conn:
                rows = await conn.fetch(sql.CATCH_UP, self.last, READ_PAGE)
            if not rows:  # no head row: a database the store did not open
                return
            head, epoch = rows[0][0], rows[0][1]
            if epoch != self.epoch:
                self.epoch = epoch
                self._reset(epoch)
            if head <= self.last:
                return
            if rows[0][2] is None:  # everything up to the head was pruned or reset away
                self.last = head
                return
            self._deliver([event_from_frame(row[3]) for row in rows])

    # --- the LISTEN session ----------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = Backoff(base=0.2, cap=self.config.leader_retry, floor=0.5)
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect(self.config, "listen")
                await conn.add_listener(sql.CHANNEL, self._notified)
                await conn.add_listener(sql.RECONCILE_CHANNEL, self._reconcile_asked)
                self.listening = True
                backoff.reset()
                self.wake()  # catch up on whatever was committed while not listening
                while True:
                    await asyncio.sleep(self.config.poll_interval)
                    await conn.fetchval("SELECT 1")
            except FAILURES as exc:
                self.listening = False
                self._set_down(unavailable(exc, "unreachable").detail)
            finally:
                self.listening = False
                await close_quietly(conn)
            await asyncio.sleep(backoff.next_delay())

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith("{"):
            self._notified_frames(payload)
        elif not payload.isdigit() or int(payload) > self.last:
            self.wake()

    def _notified_frames(self, payload: str) -> None:
        """A commit's frames (notifications arrive in commit order): published at once when
        they follow `last` in this epoch; otherwise the log is read (something came between,
        or a reset). Seqs only grow, across epochs too: frames up to `last` were published."""
        head = _FRAME_SEQ.match(payload, payload.rfind("\n") + 1)
        if head is not None:
            seq = int(head.group(1))
            if seq <= self.last:
                return  # published already (this replica's own commit, mostly)
            own = self._own.get(self.last + 1)
            if own is not None and own[-1].seq == seq and own[0].epoch == self.epoch:
                self._deliver(own)  # this replica's own commit, which it holds decoded
                return
        try:
            events = [event_from_frame(text) for text in payload.split("\n")]
        except (ValueError, KeyError, TypeError):
            self.wake()
            return
        if events[0].seq == self.last + 1 and events[0].epoch == self.epoch:
            self._deliver(events)
        elif events[-1].seq > self.last or events[0].epoch != self.epoch:
            self.wake()

    def _reconcile_asked(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        self._asked()

    def _set_down(self, reason: str | None) -> None:
        if reason == self.down or (reason is not None and self.down is not None):
            return
        self.down = reason
        self._status(reason)
