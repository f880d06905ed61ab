"""Which replica reconciles with Alertmanager and prunes: the holder of a session advisory lock.

Each replica keeps a dedicated session and tries `pg_try_advisory_lock` every
`alerts.leader_retry` seconds until it gets it; the holder writes its name to `leadership`
(what /health shows as the leader). The lock belongs to the session: when the leading replica
dies, PostgreSQL ends its session and releases the lock, and the next replica to try takes
over, within `leader_retry` seconds. The leader checks its session as often; a leader whose
session fails stops leading at once (its lock may already be someone else's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from bridge.alerts.pg import sql
from bridge.alerts.pg.connect import FAILURES, close_quietly, connect
from bridge.config import AlertsConfig

log = logging.getLogger("bridge.alerts.pg.leader")


class Leader:
    """This replica's candidacy; `leading` is True while it holds the lock."""

    def __init__(self, config: AlertsConfig, replica: str,
                 changed: Callable[[bool], None]) -> None:
        self.config, self.replica, self._changed = config, replica, changed
        self.leading = False
        # The replica that last claimed leadership, as read from the database.
        self.current: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alerts-pg-leader")

    async def stop(self) -> None:
        """Give up the lock (closing the session releases it) so another replica leads."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._set(False)

    async def _run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect(self.config, "leader")
                while True:
                    await self._attempt(conn)
                    await asyncio.sleep(self.config.leader_retry if not self.leading
                                        else min(self.config.leader_retry, 1.0))
            except FAILURES as exc:
                if self.leading:
                    log.warning("lost the leader session (%s): no longer leading", exc)
                self._set(False)
            finally:
                await close_quietly(conn)
            await asyncio.sleep(self.config.leader_retry)

    async def _attempt(self, conn: asyncpg.Connection) -> None:
        if not self.leading:
            if await conn.fetchval(sql.TRY_LOCK, sql.LEADER_LOCK):
                await conn.execute(sql.CLAIM_LEADERSHIP, self.replica)
                self._set(True)
        self.current = await conn.fetchval(sql.LEADER)  # also proves the session alive

    def _set(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            if leading:
                log.info("replica %s holds the leader lock", self.replica)
            self._changed(leading)
