"""SQLite off the event loop: one writer thread with group commit, one reader thread.

Every write is a job run by the single writer thread. Jobs that queue up while a transaction
commits are run together in the next one (each inside its own SAVEPOINT), so N concurrent webhooks
cost one fsync, not N. A job's future resolves only after COMMIT returns: a caller that answers
2xx after awaiting it has its data on disk (per `synchronous`). Results are handed back to the
loop in one callback per batch, in commit order, which is what keeps sequence numbers and
publication order identical.

Storage failures (locked past busy_timeout, disk full, read-only file) become
`StorageUnavailable` (503: Alertmanager retries those); anything else is a bug and propagates.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import StorageUnavailable

log = logging.getLogger("bridge.alerts.db")

MAX_BATCH = 256
WriteFn = Callable[[sqlite3.Connection], Any]
Settle = Callable[[list["Outcome"]], None]


@dataclass(slots=True)
class _Job:
    fn: WriteFn
    future: asyncio.Future[Any]
    tag: str


@dataclass(slots=True)
class Outcome:
    """One job's result after its batch committed (or failed)."""

    future: asyncio.Future[Any]
    tag: str
    result: Any = None
    error: BaseException | None = None


def storage_error(exc: BaseException, busy_timeout: float) -> StorageUnavailable:
    """A clear 503 detail for the SQLite failures an operator can act on."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        detail = f"alert store locked for more than {busy_timeout:g}s"
    elif "full" in text:
        detail = "alert store cannot write: disk full"
    elif "readonly" in text or "read-only" in text:
        detail = "alert store cannot write: database is read-only"
    else:
        detail = f"alert store cannot write: {text}"
    return StorageUnavailable(detail)


class _ReadPool:
    """Reader threads, each with its own connection: WAL readers wait neither for the writer
    nor for each other, so a slow read in one pool never delays another pool's reads."""

    def __init__(self, path: Path, busy_timeout: float, name: str, workers: int) -> None:
        self.path, self.busy_timeout = path, busy_timeout
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return fn(conn)

    def close(self) -> None:
        """Wait for running reads, then close every connection (from any thread: allowed)."""
        self.executor.shutdown(wait=True)
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()


class Database:
    """A SQLite file with a dedicated writer thread (group commit) and reader thread pools:
    "read" (one thread, for stream replays and small reads) and any added with `add_pool`."""

    def __init__(self, path: Path, *, sync: str, busy_timeout: float,
                 init: Callable[[Callable[[], sqlite3.Connection]],
                                tuple[sqlite3.Connection, Any]]) -> None:
        self.path, self.sync, self.busy_timeout = path, sync.upper(), busy_timeout
        self._init = init
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pools = {"read": _ReadPool(path, busy_timeout, "alerts-read", 1)}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._settle: Settle | None = None

    def add_pool(self, name: str, workers: int) -> None:
        """A separate pool of `workers` reader threads for `read(..., pool=name)`."""
        self._pools[name] = _ReadPool(self.path, self.busy_timeout, f"alerts-{name}", workers)

    # --- lifecycle -------------------------------------------------------------------------

    async def open(self, settle: Settle) -> Any:
        """Start the writer thread and run `init(connect)` there; it returns the writer's
        connection and a result, which this returns."""
        self._loop = asyncio.get_running_loop()
        self._settle = settle
        opened: asyncio.Future[Any] = self._loop.create_future()
        self._thread = threading.Thread(target=self._main, args=(opened,),
                                        name="alerts-write", daemon=True)
        self._thread.start()
        return await opened

    async def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
        for pool in self._pools.values():
            await asyncio.to_thread(pool.close)

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.sync}")
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    # --- writing ---------------------------------------------------------------------------

    async def write(self, fn: WriteFn, tag: str = "") -> Any:
        """Run `fn(conn)` in a write transaction; its result once committed."""
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            raise StorageUnavailable("alert store is not open")
        future = self._loop.create_future()
        self._queue.put(_Job(fn, future, tag))
        return await future

    def _main(self, opened: asyncio.Future[Any]) -> None:
        assert self._loop is not None
        try:
            conn, result = self._init(self.connect)
        except Exception as exc:
            self._loop.call_soon_threadsafe(_set_exception, opened, exc)
            return
        self._loop.call_soon_threadsafe(_set_result, opened, result)
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    break
                batch, stop = [job], False
                while len(batch) < MAX_BATCH:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                self._deliver(self._run_batch(conn, batch))
                if stop:
                    break
        finally:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[Outcome]:
        outcomes = [Outcome(job.future, job.tag) for job in batch]
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return self._fail_all(outcomes, exc)
        for job, outcome in zip(batch, outcomes, strict=True):
            try:
                conn.execute("SAVEPOINT job")
                outcome.result = job.fn(conn)
                conn.execute("RELEASE job")
            except Exception as exc:
                outcome.error = exc
                try:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                except sqlite3.Error:
                    _rollback(conn)
                    return self._fail_all(outcomes, exc)
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            return self._fail_all(outcomes, exc)
        return outcomes

    def _fail_all(self, outcomes: list[Outcome], exc: BaseException) -> list[Outcome]:
        log.warning("alert store write failed: %s", exc)
        for outcome in outcomes:
            outcome.result, outcome.error = None, exc
        return outcomes

    def _deliver(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome.error, sqlite3.Error):
                outcome.error = storage_error(outcome.error, self.busy_timeout)
        assert self._loop is not None and self._settle is not None
        try:
            self._loop.call_soon_threadsafe(self._settle, outcomes)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    # --- reading ---------------------------------------------------------------------------

    async def read(self, fn: Callable[[sqlite3.Connection], Any], pool: str = "read") -> Any:
        """Run `fn(conn)` on a thread of `pool` (WAL: never waits for the writer)."""
        if self._thread is None or not self._thread.is_alive():
            raise StorageUnavailable("alert store is not open")
        readers = self._pools[pool]
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(readers.executor, readers.run, fn)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.busy_timeout) from None


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
