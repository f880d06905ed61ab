"""Filtered pages of GET /api/alerts/history on PostgreSQL, with the SQLite store's semantics.

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

from bridge.alerts.history import SCAN_FACTOR, Page
from bridge.alerts.matchers import Matcher
from bridge.alerts.pg import sql
from bridge.alerts.selection import Selection, selection_of


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


async def page(conn: asyncpg.Connection, since: int, until: int, limit: int,
               selection: Selection | tuple[Matcher, ...]) -> Page:
    """One filtered page, read in one snapshot."""
    selection = selection_of(selection)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        end = await conn.fetchval(sql.WINDOW_AT, since, until, limit * SCAN_FACTOR - 1)
        if end is None:
            end = await conn.fetchval(sql.WINDOW_LAST, since, until)
        if end is None:
            return Page([], since, False)
        where, params = clauses(selection, 3)
        rows = await conn.fetch(sql.HISTORY_ROWS.format(where=where), since, end, *params)
    return await asyncio.to_thread(_select, [(r[0], r[1]) for r in rows], limit, end, selection)


def _select(rows: list[tuple[int, str]], limit: int, end: int, selection: Selection) -> Page:
    frames: list[str] = []
    for seq, frame in rows:
        event = json.loads(frame)
        if selection.wants(event["event"], event["alert"]):
            frames.append(frame)
            if len(frames) == limit:
                return Page(frames, seq, True)
    return Page(frames, end, True)
