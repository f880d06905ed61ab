"""Silence events in the shared log: one transaction per recording, ordered on the log head.

A recording locks the `log_head` row first, as the alert writer's transactions do
(`bridge.alerts.pg.writer`), so it reads the `silences` rows as every earlier transaction of
every replica committed them, decides with `bridge.alerts.silences.plan`, and takes the next
seqs: a silence written through one replica and read back by the leader's watcher is one event.
Recordings are rare (a user's action, a watcher poll that found a change), so they do not share
the alert writer's group commit.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import asyncpg

from bridge.alerts.model import now_ms
from bridge.alerts.pg import sql
from bridge.alerts.silences import Stored, Written, plan, write_plan


async def record(conn: asyncpg.Connection, cluster: str, silences: list[dict[str, Any]],
                 by: str | None, fetched_ms: int | None,
                 previous: Collection[str] | None = None) -> Written:
    """Decide and write one cluster's silences in one transaction; what was written."""
    async with conn.transaction():
        seq, epoch = await conn.fetchrow(sql.LOCK_HEAD)
        rows, removed = {}, {}
        for sid, state, text, body, updated in await conn.fetch(sql.SILENCE_ROWS, cluster):
            rows[sid] = Stored(state, text, updated)
            if fetched_ms is not None and state != "expired":
                removed[sid] = json.loads(body)
        now = now_ms()
        written = write_plan(plan(rows, silences, by is not None, fetched_ms, removed, previous),
                             epoch, seq, now, by)
        if written.upserts or written.deletes:
            columns = [list(c) for c in zip(*written.upserts, strict=True)] or [[]] * 5
            events = written.events
            await conn.execute(sql.WRITE_SILENCES, [e.seq for e in events],
                               [e.text for e in events], now, *columns, cluster,
                               written.deletes, written.last_seq or seq)
    return written


async def known(conn: asyncpg.Connection) -> list[tuple[int, dict[str, Any]]]:
    return [(r[0], json.loads(r[1])) for r in await conn.fetch(sql.KNOWN_SILENCES)]
