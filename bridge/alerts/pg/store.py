"""`PgAlertStore`: the alert log on PostgreSQL, shared by every bridge replica.

One log, one authority: `seq` is assigned by the database (the `log_head` row, under its row
lock, by one statement: `writer`) and the `epoch` is stored there, so every replica serves the
same (epoch, seq) for the same event, and a client can resume on any replica. Events are
decided by the same rules as the SQLite store's (`bridge.alerts.store.judge`/`decide`), and
every replica publishes every event through `on_commit`, in seq order, exactly once
(`fanout`). Reconciliation and retention run on the one leader replica (`leader`).

Degrade, never lie: with the database unreachable, writes fail with StorageUnavailable (503,
Alertmanager retries), `unavailable()` says why (/ready 503, /health degraded, a `status`
frame on alert streams), and nothing is acknowledged that was not committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable, Collection
from typing import Any

import asyncpg

from bridge.alerts import history
from bridge.alerts.episodes import Episode
from bridge.alerts.history import Page, Timeline
from bridge.alerts.listeners import StoreEvents
from bridge.alerts.matchers import Matcher
from bridge.alerts.model import Notice, ended_ms, now_ms
from bridge.alerts.pg import silences as silence_log
from bridge.alerts.pg import sql
from bridge.alerts.pg.backfill import write as backfill_write
from bridge.alerts.pg.connect import FAILURES, create_pool, redact, unavailable, will_lock
from bridge.alerts.pg.fanout import Fanout
from bridge.alerts.pg.history import page as history_page
from bridge.alerts.pg.history import timeline as history_timeline
from bridge.alerts.pg.leader import Leader
from bridge.alerts.pg.migrations import migrate
from bridge.alerts.pg.writer import Job, Writer
from bridge.alerts.query import EventQuery, as_query
from bridge.alerts.selection import Selection
from bridge.alerts.silences import SilenceEvent
from bridge.alerts.store import PRUNE_CHUNK, Event, MayResolve, Opened, Reconciled
from bridge.config import DEFAULT_CLUSTER, AlertsConfig
from bridge.errors import StorageUnavailable

log = logging.getLogger("bridge.alerts.pg.store")


def _always(_fingerprint: str, _seen_ms: int) -> bool:
    return True


class PgAlertStore(StoreEvents):
    """The shared log (see the module docstring)."""

    def __init__(self, config: AlertsConfig, replica: str) -> None:
        super().__init__()
        self.config, self.replica = config, replica
        self.where = redact(config.database_url)
        self.epoch = ""
        self._pool: asyncpg.Pool | None = None
        self.fanout = Fanout(config, self.pool, self._publish, self._reset_seen,
                             self._announce_status, self._announce_reconcile_asked)
        self.writer = Writer(self.pool, config.database_timeout, self.fanout.committed,
                             self._published)
        self.elector = Leader(config, replica, self._announce_leader)

    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageUnavailable("alert store is not open")
        return self._pool

    @property
    def leader(self) -> bool:
        return self.elector.leading

    # --- lifecycle -------------------------------------------------------------------------

    async def open(self) -> Opened:
        """Migrate, read the head and the firing alerts, then start writing, listening and
        standing for leader. StorageUnavailable when the database cannot be reached."""
        try:
            if self._pool is None:
                self._pool = await create_pool(self.config)
            async with self._pool.acquire(timeout=self.config.database_timeout) as conn:
                will_lock(conn)  # the migration lock, should its own unlock fail
                await migrate(conn)
                await conn.execute(sql.INIT_HEAD, secrets.token_hex(8))
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    seq, epoch = await conn.fetchrow(sql.HEAD)
                    firing = [json.loads(r[0]) for r in await conn.fetch(sql.OPEN_FIRING)]
        except FAILURES as exc:
            raise unavailable(exc, "unreachable") from None
        self.epoch = epoch
        self.fanout.start(seq, epoch)
        self.writer.start()
        self.elector.start()
        log.info("alert log on %s: epoch %s, seq %d, replica %s", self.where, epoch, seq,
                 self.replica)
        return Opened(epoch, seq, firing)

    async def close(self) -> None:
        await self.elector.stop()
        await self.writer.stop()
        await self.fanout.stop()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), self.config.database_timeout)
            except FAILURES:
                pool.terminate()

    def unavailable(self) -> str | None:
        return self.error or self.fanout.down

    def status(self) -> dict[str, Any]:
        return {"backend": "postgres", "database": self.where,
                "listening": self.fanout.listening, "published_seq": self.fanout.last,
                "leader_replica": self.elector.current}

    # --- writes ----------------------------------------------------------------------------

    async def record(self, notices: list[Notice]) -> list[Event]:
        events: list[Event] = await self._submit(Job(notices, self._future()))
        return events

    async def reconcile(self, notices: list[Notice], fetched_ms: int,
                        may_resolve: MayResolve = _always,
                        cluster: str = DEFAULT_CLUSTER) -> Reconciled:
        job = Job(notices, self._future(), fetched_ms=fetched_ms, may_resolve=may_resolve,
                  cluster=cluster)
        reconciled: Reconciled = await self._submit(job)
        return reconciled

    async def _submit(self, job: Job) -> Any:
        try:
            result = await self.writer.submit(job)
        except StorageUnavailable as exc:
            self.write_error = exc.detail
            raise
        self.write_error = None
        return result

    async def record_silences(self, cluster: str, silences: list[dict[str, Any]],
                              by: str | None, fetched_ms: int | None = None,
                              previous: Collection[str] | None = None
                              ) -> list[SilenceEvent]:
        """As the SQLite store's (`bridge.alerts.pg.silences`); answers once committed and
        published here, like a webhook's."""
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                written = await silence_log.record(conn, cluster, silences, by, fetched_ms,
                                                  previous)
        except FAILURES as exc:
            self.write_error = unavailable(exc).detail
            raise unavailable(exc) from None
        self.write_error = None
        if written.last_seq is not None:
            self.fanout.committed(written.events)
            await self._published(written.last_seq)
        return written.events

    async def known_silences(self) -> list[tuple[int, dict[str, Any]]]:
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                return await silence_log.known(conn)
        except FAILURES as exc:
            raise unavailable(exc, "cannot be read") from None

    def _future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _published(self, seq: int) -> None:
        """Until this replica published `seq` (bounded: it is committed either way)."""
        await self.fanout.published(seq, self.config.database_timeout)

    async def reset(self) -> str:
        """Empty the log and the alerts and start a new epoch, for every replica."""
        epoch = secrets.token_hex(8)
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn, \
                    conn.transaction():
                # Every writer's decisions finished first (they hold WRITERS_LOCK shared).
                await conn.execute(sql.LOCK_WRITERS_XACT, sql.WRITERS_LOCK)
                await conn.fetchval(sql.LOCK_HEAD)
                await conn.execute(sql.CLEAR_EVENTS)
                await conn.execute(sql.CLEAR_ALERTS)
                await conn.execute(sql.CLEAR_SILENCES)
                await conn.execute(sql.NEW_EPOCH, epoch)
                await conn.execute(sql.NOTIFY, sql.RESET_PAYLOAD)
        except FAILURES as exc:
            raise unavailable(exc) from None
        self.fanout.wake()
        await self._until(lambda: self.fanout.epoch == epoch)
        return epoch

    async def ask_reconcile(self) -> None:
        """NOTIFY every replica's LISTEN session; the leader's reconciles. Best effort: the
        leader's next interval recovers what a lost request would have (logged, not raised)."""
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                await conn.execute(sql.ASK_RECONCILE, self.replica)
        except (*FAILURES, StorageUnavailable) as exc:
            log.warning("could not ask the leader to reconcile: %s", exc)

    def _reset_seen(self, epoch: str) -> None:
        self.epoch = epoch
        self._announce_reset(epoch)

    async def _until(self, done: Callable[[], bool]) -> None:
        """Wait (at most `database_timeout`) until the fan-out saw what this replica wrote."""
        for _ in range(int(self.config.database_timeout / 0.01)):
            if done():
                return
            await asyncio.sleep(0.01)

    async def prune(self, now: int | None = None) -> int:
        """Delete events past retention (age and rows), one chunk per statement."""
        now = now_ms() if now is None else now
        cutoff_ms = now - int(self.config.retention_days * 86_400_000)
        total = 0
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                while True:
                    head, _ = await conn.fetchrow(sql.HEAD)
                    aged = await conn.fetchval(sql.AGED_UNTIL, cutoff_ms)
                    cut = max(head - self.config.retention_rows, aged or 0)
                    first = await conn.fetchval(sql.FIRST_SEQ)
                    if first is None or cut < first:
                        break
                    upto = min(cut, first + PRUNE_CHUNK - 1)
                    total += int((await conn.execute(sql.DELETE_EVENTS_UPTO, upto)).split()[-1])
                    if upto >= cut:
                        break
                async with conn.transaction():  # not while a writer holds a decision on them
                    await conn.execute(sql.LOCK_WRITERS_XACT, sql.WRITERS_LOCK)
                    await conn.execute(sql.DELETE_OLD_RESOLVED, cutoff_ms)
        except FAILURES as exc:
            raise unavailable(exc) from None
        return total

    async def backfill(self, found: list[Episode], cluster: str) -> list[Event]:
        """Store the episodes read from Prometheus that the log lacks, as history events
        (`bridge.alerts.pg.backfill`); published like any other commit."""
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                events = await backfill_write(conn, found, cluster, self.config, now_ms())
        except FAILURES as exc:
            raise unavailable(exc) from None
        if events:
            self.fanout.committed(events)
            await self._published(events[-1].seq)
        return events

    # --- reads -----------------------------------------------------------------------------

    async def events_after(self, since: int, limit: int, until: int | None = None
                           ) -> list[tuple[int, str]]:
        bound = until if until is not None else 2**63 - 1
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                rows = await conn.fetch(sql.EVENTS_AFTER, since, bound, limit)
        except FAILURES as exc:
            raise unavailable(exc, "cannot be read") from None
        return [(r[0], r[1]) for r in rows]

    async def bounds(self) -> tuple[int | None, int]:
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                first, last = await conn.fetchrow(sql.BOUNDS)
        except FAILURES as exc:
            raise unavailable(exc, "cannot be read") from None
        return first, last

    async def history(self, since: int, until: int, limit: int,
                      query: EventQuery | Selection | tuple[Matcher, ...]) -> Page:
        chosen = as_query(query)
        if chosen.empty:
            return history.unfiltered(await self.events_after(since, limit, until=until), since)
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                return await history_page(conn, since, until, limit, chosen)
        except FAILURES as exc:
            raise unavailable(exc, "cannot be read") from None

    async def resolved(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                rows = await conn.fetch(sql.RESOLVED_OF, [k[0] for k in keys],
                                        [k[1] for k in keys])
        except FAILURES as exc:
            raise unavailable(exc, "cannot be read") from None
        return {(row[0], row[1]): ended_ms(row[2]) for row in rows}

    async def timeline(self, fingerprint: str, cluster: str | None, since: int, limit: int
                       ) -> Timeline:
        try:
            async with self.pool().acquire(timeout=self.config.database_timeout) as conn:
                return await history_timeline(conn, fingerprint, cluster, since, limit)
        except FAILURES as exc:
            raise unavailable(exc, "cannot be read") from None
