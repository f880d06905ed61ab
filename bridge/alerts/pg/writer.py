"""Writes to the shared log: group commit, one ordering point, decisions on committed state.

Jobs (a webhook's notices, a reconciliation) queue up while a transaction runs and go together
into the next one, so N concurrent webhooks on a replica cost one commit. Each transaction
first locks the one `log_head` row (`SELECT ... FOR UPDATE`): writers of every replica queue
there until the one before them commits, so

- each transaction reads the alerts as committed by all earlier ones (READ COMMITTED takes a
  fresh snapshot per statement, after the lock was granted): the same notification posted to
  two replicas, by an HA Alertmanager pair or a retry, is one event, decided by
  `bridge.alerts.store.judge` exactly as the SQLite store decides it;
- seqs are assigned from the head under that lock and committed in seq order: a reader never
  sees seq N+1 before N, and no seq is filled in later (a `bigserial` would allow both);
- the transaction ends with `pg_notify`, delivered to every replica at commit.

A job's future resolves only after COMMIT returned. A failure of the database fails the whole
batch with StorageUnavailable (503): nothing is acknowledged that is not committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bridge.alerts.decide import SEEN, MayResolve, gone_from, judge
from bridge.alerts.model import Notice, now_ms
from bridge.alerts.pg import sql
from bridge.alerts.pg.connect import FAILURES, unavailable
from bridge.alerts.store import Event, Reconciled
from bridge.alerts.wire import alert_frame
from bridge.config import DEFAULT_CLUSTER
from bridge.errors import StorageUnavailable
from bridge.jsonenc import dumps

log = logging.getLogger("bridge.alerts.pg.writer")

MAX_BATCH = 256
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


@dataclass
class Plan:
    """One transaction's decisions, made in Python on the rows it read under the head lock."""

    rows: dict[Key, Row]
    seq: int
    epoch: str
    now: int
    events: list[Event] = field(default_factory=list)
    dirty: set[Key] = field(default_factory=set)

    def run(self, job: Job) -> list[Event] | Reconciled:
        """Apply one job; a job that raises leaves the plan as it found it."""
        undo = (dict(self.rows), self.seq, len(self.events), set(self.dirty))
        try:
            if job.fetched_ms is None:
                return self.record(job.notices, None)
            assert job.may_resolve is not None
            return self.reconcile(job.cluster, job.notices, job.fetched_ms, job.may_resolve)
        except Exception:
            self.rows, self.seq, self.dirty = undo[0], undo[1], undo[3]
            del self.events[undo[2]:]
            raise

    def record(self, notices: list[Notice], fetched_ms: int | None) -> list[Event]:
        events = []
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
            self.seq += 1
            alert = notice.alert(starts, self.now, suppression)
            body = dumps(alert)
            text = alert_frame(self.seq, self.epoch, kind, notice.status, self.now, body)
            self.rows[key] = (notice.status, starts, self.now, body, self.now)
            self.dirty.add(key)
            event = Event(self.seq, self.epoch, kind, notice.source, notice.labels, alert, text)
            events.append(event)
            self.events.append(event)
        return events

    def reconcile(self, cluster: str, notices: list[Notice], fetched_ms: int,
                  may_resolve: MayResolve) -> Reconciled:
        firing = sorted((row[1], fp, row[2], row[3]) for (name, fp), row in self.rows.items()
                        if row[0] == "firing" and name == cluster)
        gone, held = gone_from(((fp, seen, body) for _, fp, seen, body in firing), notices,
                               fetched_ms, may_resolve)
        return Reconciled(self.record([*notices, *gone], fetched_ms), held)


class Writer:
    """The replica's one writing task: batches of jobs, one transaction each.

    After a commit, `committed(events)` hands the events to the fan-out (in commit order), and
    the jobs' answers wait for `published(last seq)`, so a 200 means this replica's subscribers
    were handed its events (as with SQLite); the next batch does not wait for that.
    """

    def __init__(self, pool: Callable[[], asyncpg.Pool], timeout: float,
                 committed: Callable[[list[Event]], None],
                 published: Callable[[int], Awaitable[Any]]) -> None:
        self._pool, self.timeout = pool, timeout
        self._committed, self._published = committed, published
        self._settling: set[asyncio.Task[None]] = set()
        self._queue: list[Job] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
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
        for task in list(self._settling):
            task.cancel()
        await asyncio.gather(*self._settling, return_exceptions=True)
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
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._commit(batch)

    async def _commit(self, batch: list[Job]) -> None:
        results: list[Any] = []
        try:
            plan, results = await self._transaction(batch)
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
        self._committed(plan.events)
        task = asyncio.create_task(self._settle(batch, results, plan.events))
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

    async def _transaction(self, batch: list[Job]) -> tuple[Plan, list[Any]]:
        async with self._pool().acquire(timeout=self.timeout) as conn, conn.transaction():
            head = await conn.fetchrow(sql.LOCK_HEAD)
            keys = list({n.key for job in batch for n in job.notices})
            rows = await conn.fetch(sql.ALERT_ROWS, [k[0] for k in keys], [k[1] for k in keys])
            reconciled = list({job.cluster for job in batch if job.fetched_ms is not None})
            if reconciled:
                rows = [*rows, *await conn.fetch(sql.FIRING_ROWS, reconciled)]
            plan = Plan({(r[0], r[1]): (r[2], r[3], r[4], r[5], r[6]) for r in rows}, head[0],
                        head[1], now_ms())
            results: list[Any] = []
            for job in batch:
                try:
                    results.append(plan.run(job))
                except Exception as exc:
                    log.exception("an alert write job failed")
                    results.append(exc)
            await _write(conn, plan)
        return plan, results


async def _write(conn: asyncpg.Connection, plan: Plan) -> None:
    """The plan's rows in one statement (one round trip while the head is locked): events,
    changed alerts, the head, and the notification."""
    if not plan.dirty:
        return
    keys = sorted(plan.dirty)
    columns = [list(col) for col in zip(*(plan.rows[key] for key in keys), strict=True)]
    events = plan.events
    await conn.execute(sql.WRITE, [e.seq for e in events], [plan.now] * len(events),
                       [e.alert["cluster"] for e in events],
                       [e.alert["fingerprint"] for e in events], [e.text for e in events],
                       [k[0] for k in keys], [k[1] for k in keys], *columns, plan.seq)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
