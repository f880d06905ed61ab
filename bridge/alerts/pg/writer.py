"""Writes to the shared log: group commit, one ordering point held for one statement only.

Jobs (a webhook's notices, a reconciliation) queue up while a batch is written and go together
into the next one, so N concurrent webhooks on a replica cost one commit. A batch

1. takes session advisory locks: `WRITERS_LOCK` shared, then one per fingerprint it touches,
   in ascending key order (every writer of every replica takes them in that order, so none
   waits in a circle). A reconciliation takes `WRITERS_LOCK` exclusive instead: it decides on
   every firing alert;
2. reads those alerts in the same round trip (`sql.LOCK_AND_READ`: READ COMMITTED, its query's
   snapshot taken after the locks were granted, so it sees everything committed by any earlier
   writer of the same alerts) and decides in Python by `bridge.alerts.store.judge`, exactly as
   the SQLite store decides: the same notification posted to two replicas, by an HA
   Alertmanager pair or a retry, is one event;
3. appends in ONE statement, its own implicit transaction: it locks the `log_head` row,
   allocates the seqs, inserts the events (their frames spliced around the seq in SQL) and the
   alerts, `pg_notify`s, and hands the advisory locks over to the transaction (migration 6's
   `promwire_hand_over`); the row lock and the advisory locks are released at its commit.
   Seqs are therefore committed in seq order: a reader never sees seq N+1 before N, and no
   seq is filled in later (a `bigserial` would allow both). No round trip to the bridge
   happens while the head is locked, so writers of other replicas wait for one statement and
   its WAL flush, not for this replica's event loop. A batch that fails before its append
   has its session locks released when the connection goes back to the pool
   (`connect.release_locks`); one that appended needs no round trip for them.

A job's future resolves only after the commit returned. A failure of the database fails the
whole batch with StorageUnavailable (503): nothing is acknowledged that is not committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bridge.alerts.decide import SEEN, MayResolve, gone_from, judge
from bridge.alerts.model import Notice, now_ms
from bridge.alerts.pg import sql
from bridge.alerts.pg.connect import FAILURES, locks_released, unavailable, will_lock
from bridge.alerts.store import Event, Reconciled
from bridge.alerts.wire import ALERT_FRAME_HEAD, alert_frame_tail
from bridge.config import DEFAULT_CLUSTER
from bridge.errors import StorageUnavailable
from bridge.jsonenc import dumps

log = logging.getLogger("bridge.alerts.pg.writer")

MAX_BATCH = 256
# Batches of one replica written at once (on as many pooled connections). One: the jobs that
# arrive while a batch is written all go into the next, so a batch's round trips and commit
# are shared by twice as many webhooks under load as with two in flight (measured: a third
# less bridge and PostgreSQL CPU per alert, and more alerts/s, with 32 clients on 3 replicas).
IN_FLIGHT = 1
# Jobs waiting for a transaction; beyond this a webhook is 503 at once (bounded memory while
# the database is slow).
MAX_PENDING = 10_000

# (cluster, fingerprint) -> (status, starts_ms, seen_ms, body, updated_ms)
Key = tuple[str, str]
Row = tuple[str, int, int, str, int]


@dataclass(slots=True)
class Job:
    notices: list[Notice]
    future: asyncio.Future[Any]
    fetched_ms: int | None = None  # set: a reconciliation
    may_resolve: MayResolve | None = None
    cluster: str = DEFAULT_CLUSTER  # the cluster a reconciliation is of


@dataclass(slots=True)
class Planned:
    """An event decided before its seq is known (the seq is assigned inside the INSERT)."""

    kind: str
    source: str
    labels: dict[str, str]
    alert: dict[str, Any]
    tail: str  # the frame after its seq (`alert_frame_tail`)


# What a job's result is once the seqs are known: record -> its span of the planned events;
# reconcile -> (span, held).
Span = tuple[int, int]


@dataclass
class Plan:
    """One transaction's decisions, made in Python on the rows it read under the fingerprint
    locks, before the head is locked."""

    rows: dict[Key, Row]
    epoch: str
    now: int
    planned: list[Planned] = field(default_factory=list)
    dirty: set[Key] = field(default_factory=set)

    def run(self, job: Job) -> Span | tuple[Span, dict[str, int]]:
        """Apply one job; a job that raises leaves the plan as it found it."""
        undo = (dict(self.rows), len(self.planned), set(self.dirty))
        try:
            if job.fetched_ms is None:
                return self.record(job.notices, None)
            assert job.may_resolve is not None
            return self.reconcile(job.cluster, job.notices, job.fetched_ms, job.may_resolve)
        except Exception:
            self.rows, self.dirty = undo[0], undo[2]
            del self.planned[undo[1]:]
            raise

    def record(self, notices: list[Notice], fetched_ms: int | None) -> Span:
        first = len(self.planned)
        for notice in notices:
            key = notice.key
            row = self.rows.get(key)
            kind, starts, suppression = judge(notice, row[:4] if row else None, self.now,
                                              fetched_ms)
            if kind == SEEN and row is not None:
                self.rows[key] = (row[0], row[1], self.now, row[3], row[4])
                self.dirty.add(key)
            if kind is None or kind == SEEN:
                continue
            alert = notice.alert(starts, self.now, suppression)
            body = dumps(alert)
            tail = alert_frame_tail(self.epoch, kind, notice.status, self.now, body)
            self.rows[key] = (notice.status, starts, self.now, body, self.now)
            self.dirty.add(key)
            self.planned.append(Planned(kind, notice.source, notice.labels, alert, tail))
        return first, len(self.planned)

    def reconcile(self, cluster: str, notices: list[Notice], fetched_ms: int,
                  may_resolve: MayResolve) -> tuple[Span, dict[str, int]]:
        firing = sorted((row[1], fp, row[2], row[3]) for (name, fp), row in self.rows.items()
                        if row[0] == "firing" and name == cluster)
        gone, held = gone_from(((fp, seen, body) for _, fp, seen, body in firing), notices,
                               fetched_ms, may_resolve)
        return self.record([*notices, *gone], fetched_ms), held

    def events(self, base: int) -> list[Event]:
        """The planned events, the first one at seq `base + 1`."""
        return [Event(base + i, self.epoch, p.kind, p.source, p.labels, p.alert,
                      f"{ALERT_FRAME_HEAD}{base + i}{p.tail}")
                for i, p in enumerate(self.planned, start=1)]


def settled(result: Any, events: list[Event]) -> Any:
    """A job's answer from its planned span (or the exception it raised)."""
    if isinstance(result, BaseException):
        return result
    if isinstance(result[0], tuple):
        (first, end), held = result
        return Reconciled(events[first:end], held)
    first, end = result
    return events[first:end]


def lock_keys(alerts: set[Key]) -> list[int]:
    """The advisory lock keys of a batch, in the one order every writer takes them: the
    writers' shared key first, then each (cluster, fingerprint)'s (a 64-bit hash; a collision
    only makes two alerts' writers wait for each other)."""
    keys = {int.from_bytes(hashlib.blake2b(f"{cluster}\0{fp}".encode(), digest_size=8)
                           .digest(), "big", signed=True) for cluster, fp in alerts}
    keys -= {sql.WRITERS_LOCK, sql.LEADER_LOCK, sql.MIGRATION_LOCK}  # the store's own keys
    return [sql.WRITERS_LOCK, *sorted(keys)]


@dataclass(frozen=True, slots=True)
class Locks:
    """The advisory locks a batch holds as session locks until its append hands them over to
    its transaction (`sql.HAND_OVER`)."""

    keys: list[int]
    exclusive: bool  # WRITERS_LOCK exclusive (a reconciliation), else shared

    def args(self) -> tuple[list[int], int, bool]:
        return self.keys, sql.WRITERS_LOCK, self.exclusive


class EpochMoved(Exception):
    """The log was reset after this writer read its epoch: plan the batch again."""


class Writer:
    """The replica's writing task: batches of jobs, one append each, up to IN_FLIGHT at once.

    After a commit, `committed(events)` hands the events to the fan-out (which publishes them
    in seq order, reading the log for whatever came before them), and the jobs' answers wait
    for `published(last seq)`, so a 200 means this replica's subscribers were handed its events
    (as with SQLite); the next batch does not wait for that.
    """

    def __init__(self, pool: Callable[[], asyncpg.Pool], timeout: float,
                 committed: Callable[[list[Event]], None],
                 published: Callable[[int], Awaitable[Any]]) -> None:
        self._pool, self.timeout = pool, timeout
        self._committed, self._published = committed, published
        self._settling: set[asyncio.Task[None]] = set()
        # Batches in flight at once (IN_FLIGHT); the replicas' writers still overlap, the
        # head being locked by none of them but during its one appending statement.
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._batches: set[asyncio.Task[None]] = set()
        self._queue: list[Job] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._epoch: str | None = None  # the log's, as last read (checked by each append)
        # Why the last transaction failed (None once one succeeds).
        self.error: str | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alerts-pg-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for task in [*self._batches, *self._settling]:
            task.cancel()
        await asyncio.gather(*self._batches, *self._settling, return_exceptions=True)
        for job in self._queue:
            if not job.future.done():
                job.future.set_exception(StorageUnavailable("alert store closing"))
        self._queue.clear()

    async def submit(self, job: Job) -> Any:
        if self._task is None:
            raise StorageUnavailable("alert store is not open")
        if len(self._queue) >= MAX_PENDING:
            raise StorageUnavailable(f"{MAX_PENDING} alert writes already waiting for the "
                                     "database")
        self._queue.append(job)
        self._wake.set()
        return await job.future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._slots.acquire()
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                task = asyncio.create_task(self._in_slot(batch))
                self._batches.add(task)
                task.add_done_callback(self._batches.discard)

    async def _in_slot(self, batch: list[Job]) -> None:
        try:
            await self._commit(batch)
        except asyncio.CancelledError:
            for job in batch:
                _fail(job.future, StorageUnavailable("alert store closing"))
            raise
        finally:
            self._slots.release()
            if self._queue:
                self._wake.set()

    async def _commit(self, batch: list[Job]) -> None:
        try:
            events, results = await self._transaction(batch)
        except FAILURES as exc:
            error = unavailable(exc).detail
            # Each 503 is logged by the HTTP layer; here only the change of state.
            log.log(logging.WARNING if error != self.error else logging.DEBUG,
                    "alert database write failed: %s", error)
            self.error = error
            for job in batch:
                _fail(job.future, StorageUnavailable(self.error))
            return
        except Exception as exc:  # a bug: the batch is not committed, say so to each job
            log.exception("alert database write crashed")
            for job in batch:
                _fail(job.future, exc)
            return
        if self.error is not None:
            log.info("alert database writes succeed again")
        self.error = None
        self._committed(events)
        task = asyncio.create_task(self._settle(batch, results, events))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, batch: list[Job], results: list[Any], events: list[Event]) -> None:
        if events:
            await self._published(events[-1].seq)
        for job, result in zip(batch, results, strict=True):
            if job.future.done():
                continue
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    async def _transaction(self, batch: list[Job]) -> tuple[list[Event], list[Any]]:
        for _ in range(3):
            try:
                return await self._attempt(batch)
            except EpochMoved:
                self._epoch = None  # a reset happened meanwhile: decide again on its log
        raise StorageUnavailable("alert log reset again and again while writing")

    async def _attempt(self, batch: list[Job]) -> tuple[list[Event], list[Any]]:
        reconciling = any(job.fetched_ms is not None for job in batch)
        keys = {n.key for job in batch for n in job.notices}
        pool = self._pool()
        conn = await pool.acquire(timeout=self.timeout)
        will_lock(conn)
        try:
            ordered = sorted(keys)
            clusters, fps = [k[0] for k in ordered], [k[1] for k in ordered]
            if reconciling:
                locks = Locks([sql.WRITERS_LOCK], exclusive=True)
                await conn.execute(sql.LOCK_WRITERS, sql.WRITERS_LOCK)
                rows = await conn.fetch(sql.ALERT_ROWS, clusters, fps)
            else:
                locks = Locks(lock_keys(keys), exclusive=False)
                rows = await conn.fetch(sql.LOCK_AND_READ, locks.keys, sql.WRITERS_LOCK,
                                        clusters, fps)
            if self._epoch is None:  # read after the rows: the append checks it all the same
                self._epoch = str(await conn.fetchval(sql.HEAD_EPOCH))
            reconciled = sorted({job.cluster for job in batch if job.fetched_ms is not None})
            if reconciled:
                rows = [*rows, *await conn.fetch(sql.FIRING_ROWS, reconciled)]
            plan = Plan({(r[0], r[1]): (r[2], r[3], r[4], r[5], r[6]) for r in rows},
                        self._epoch, now_ms())
            results = [_apply(plan, job) for job in batch]
            base = await append(conn, plan, locks)
        except BaseException:
            await pool.release(conn)
            raise
        await _give_back(pool, conn)
        events = plan.events(base)
        return events, [settled(result, events) for result in results]


def _apply(plan: Plan, job: Job) -> Any:
    """The job's planned result, or the exception it raised (the others go on)."""
    try:
        return plan.run(job)
    except Exception as exc:
        log.exception("an alert write job failed")
        return exc


async def append(conn: asyncpg.Connection, plan: Plan, locks: Locks) -> int:
    """The plan's rows (one statement, which also ends `locks` at its commit); the seq before
    its first event."""
    if not plan.dirty:
        return 0  # the locks are released with the connection's return to the pool
    keys = sorted(plan.dirty)
    clusters, fps = [k[0] for k in keys], [k[1] for k in keys]
    columns = [list(col) for col in zip(*(plan.rows[key] for key in keys), strict=True)]
    if not plan.planned:
        _handed_over(conn, await conn.fetchval(sql.WRITE_SEEN, fps, *columns, clusters,
                                               *locks.args()))
        return 0
    planned = plan.planned
    row = await conn.fetchrow(sql.WRITE, [p.alert["fingerprint"] for p in planned], plan.now,
                              plan.epoch, [p.tail for p in planned], fps, *columns,
                              ALERT_FRAME_HEAD, [p.alert["cluster"] for p in planned],
                              clusters, *locks.args())
    if row is None:
        raise EpochMoved
    _handed_over(conn, row["released"])
    return int(row["base"])


def _handed_over(conn: asyncpg.Connection, released: bool) -> None:
    """The append ended the connection's locks with its commit, unless one was not the
    session's to release as `Locks` says (a bug): then the pool's return releases them all."""
    if released:
        locks_released(conn)
    else:
        log.error("alert writer: a lock handed over was not held as expected; released on "
                  "the connection's return to the pool")


async def _give_back(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    """Return a committed batch's connection. Its failure (the pool closes a connection past
    its lifetime, an unlock that failed) ends that connection, and its locks with it, but
    must not turn a committed batch into a 503."""
    try:
        await pool.release(conn)
    except Exception as exc:  # asyncpg terminated the connection
        log.warning("alert writer: returning a connection to the pool failed: %s", exc)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
