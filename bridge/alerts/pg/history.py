"""Filtered pages of GET /api/alerts/history on PostgreSQL, with the SQLite store's semantics.

The same scan window (`limit x SCAN_FACTOR` rows after `since`), the same `next`, the same
rule that SQL only narrows: `=` and `!=` matchers become SQL on the stored frame (a missing
label is ""), then every surviving row is checked in Python against all matchers, off the
event loop. See `bridge.alerts.history` for why.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from bridge.alerts.history import SCAN_FACTOR, Page
from bridge.alerts.matchers import Matcher, matches_all
from bridge.alerts.pg import sql


def clauses(matchers: tuple[Matcher, ...], first: int) -> tuple[str, list[Any]]:
    """SQL for the `=`/`!=` matchers, numbering parameters from `first`."""
    where, params = [], []
    for matcher in matchers:
        if matcher.op not in ("=", "!="):
            continue
        n = first + len(params)
        where.append(sql.LABEL_CLAUSE.format(path=n, value=n + 1, op=matcher.op))
        params += [["alert", "labels", matcher.name], matcher.value]
    return "".join(f" AND {w}" for w in where), params


async def page(conn: asyncpg.Connection, since: int, until: int, limit: int,
               matchers: tuple[Matcher, ...]) -> Page:
    """One filtered page, read in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        end = await conn.fetchval(sql.WINDOW_AT, since, until, limit * SCAN_FACTOR - 1)
        if end is None:
            end = await conn.fetchval(sql.WINDOW_LAST, since, until)
        if end is None:
            return Page([], since, False)
        where, params = clauses(matchers, 3)
        rows = await conn.fetch(sql.HISTORY_ROWS.format(where=where), since, end, *params)
    return await asyncio.to_thread(_select, [(r[0], r[1]) for r in rows], limit, end, matchers)


def _select(rows: list[tuple[int, str]], limit: int, end: int,
            matchers: tuple[Matcher, ...]) -> Page:
    frames: list[str] = []
    for seq, frame in rows:
        alert = json.loads(frame).get("alert")  # silence events (no alert) are on every page
        if alert is None or matches_all(matchers, alert["labels"]):
            frames.append(frame)
            if len(frames) == limit:
                return Page(frames, seq, True)
    return Page(frames, end, True)
