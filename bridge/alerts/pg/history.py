"""Filtered pages of GET /api/alerts/history on PostgreSQL, with the SQLite store's semantics.

Filters are an `EventQuery` (matchers, kinds, cluster, start/end: `bridge.alerts.query`).

The same scan window (`limit x SCAN_FACTOR` rows after `since`), the same `next`, the same
rule that SQL only narrows: `=` and `!=` matchers become SQL on the stored frame (a missing
label is ""), `cluster=` the `cluster` column, then every surviving row is checked in Python
against the whole selection, off the event loop. See `bridge.alerts.history` for why.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from bridge.alerts.history import SCAN_FACTOR, Page, Timeline, timeline_page
from bridge.alerts.matchers import Matcher
from bridge.alerts.pg import sql
from bridge.alerts.query import EventQuery, as_query
from bridge.alerts.selection import Selection


def clauses(selection: Selection, first: int) -> tuple[str, list[Any]]:
    """SQL for the `=`/`!=` matchers and the cluster, numbering parameters from `first`."""
    where: list[str] = []
    params: list[Any] = []
    for matcher in selection.matchers:
        if matcher.op not in ("=", "!="):
            continue
        n = first + len(params)
        where.append(sql.LABEL_CLAUSE.format(path=n, value=n + 1, op=matcher.op))
        params += [["alert", "labels", matcher.name], matcher.value]
    if selection.cluster is not None:
        where.append(sql.CLUSTER_CLAUSE.format(value=first + len(params)))
        params.append(selection.cluster)
    return "".join(f" AND {w}" for w in where), params


def query_clauses(query: EventQuery, first: int) -> tuple[str, list[Any]]:
    """SQL narrowing the whole query (matchers, cluster, kinds, stored at or after start)."""
    where, params = clauses(query.selection, first)
    extra: list[str] = []

    def add(template: str, value: Any) -> None:
        extra.append(template.format(n=first + len(params)))
        params.append(value)
    if query.kinds is not None:
        add(sql.KIND_CLAUSE, [f'%"event":"{kind}"%' for kind in sorted(query.kinds)])
    if query.start_ms is not None:
        add(sql.STORED_FROM_CLAUSE, query.start_ms)
    return where + "".join(f" AND {w}" for w in extra), params


async def _window(conn: asyncpg.Connection, since: int, until: int, scan: int,
                  start_ms: int | None) -> int | None:
    if start_ms is None:
        end = await conn.fetchval(sql.WINDOW_AT, since, until, scan - 1)
        return end if end is not None else await conn.fetchval(sql.WINDOW_LAST, since, until)
    end = await conn.fetchval(sql.WINDOW_AT_FROM, since, until, start_ms, scan - 1)
    if end is None:
        end = await conn.fetchval(sql.WINDOW_LAST_FROM, since, until, start_ms)
    return end


async def page(conn: asyncpg.Connection, since: int, until: int, limit: int,
               query: EventQuery | Selection | tuple[Matcher, ...]) -> Page:
    """One filtered page, read in one snapshot."""
    query = as_query(query)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        end = await _window(conn, since, until, limit * SCAN_FACTOR, query.start_ms)
        if end is None:
            return Page([], since, False)
        where, params = query_clauses(query, 3)
        rows = await conn.fetch(sql.HISTORY_ROWS.format(where=where), since, end, *params)
    return await asyncio.to_thread(_select, [(r[0], r[1]) for r in rows], limit, end, query)


def _select(rows: list[tuple[int, str]], limit: int, end: int, query: EventQuery) -> Page:
    frames: list[str] = []
    for seq, frame in rows:
        if query.accepts_frame(json.loads(frame)):
            frames.append(frame)
            if len(frames) == limit:
                return Page(frames, seq, True)
    return Page(frames, end, True)


async def timeline(conn: asyncpg.Connection, fingerprint: str, cluster: str | None,
                   since: int, limit: int) -> Timeline:
    """One alert's events by the (fingerprint, seq) index, read in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        found = await conn.fetch(sql.TIMELINE_CLUSTERS, fingerprint)
        if cluster is None:
            rows = await conn.fetch(sql.TIMELINE_ROWS, fingerprint, since, limit + 1)
        else:
            rows = await conn.fetch(sql.TIMELINE_CLUSTER_ROWS, fingerprint, since, limit + 1,
                                    cluster)
    return timeline_page([(r[0], r[1]) for r in rows], limit, sorted(r[0] for r in found))
