"""Pages of the alert event log for GET /api/alerts/history, selected off the event loop.

A filtered page is the first `limit` matching events among the next `limit x SCAN_FACTOR` log
rows after `since` (the scan window), so one request reads a bounded number of rows however rare
its match; `next` is where the page stopped: after its last event when the page is full, else at
the end of the window. What used to run on the loop (decoding every row's JSON, applying the
matchers) now runs in a pool of reader threads, and in SQLite where it can:

- `=` and `!=` matchers become SQL on the stored frame (`json_extract` of the label, missing =
  ""), so rows they exclude are never handed to Python. SQLite's JSON strings stop at NUL, so
  rows holding an escaped NUL always pass to the Python check instead;
- `cluster=` is the events' `cluster` column;
- every surviving row is then checked in Python against the whole selection (matchers,
  `state=`, cluster), on its labels, event kind, state and cluster alone (`json_extract`s, small
  values), so SQL only narrows and the result is exactly what `Selection.wants` says;
- regex matchers (RE2) run only in that Python check.

At most `alerts.history_concurrency` history queries run at once (as many reader threads); a few
more wait up to HISTORY_WAIT seconds, and beyond that the answer is 503 `unavailable`: a flood
of history readers cannot take the whole bridge with them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bridge.alerts.matchers import Matcher
from bridge.alerts.query import EventQuery, as_query
from bridge.alerts.selection import Selection
from bridge.alerts.wire import SILENCE_FRAME_HEAD
from bridge.errors import Unavailable

# With a filter, a history page scans at most this many log rows per returned row.
SCAN_FACTOR = 10
# Seconds a history query waits for a free slot before 503, and waiters allowed per slot.
HISTORY_WAIT = 2.0
WAITERS_PER_SLOT = 4
POOL = "history"
# How a stored silence event begins (`bridge.alerts.silences.silence_frame`).
# How an escaped NUL looks in a stored frame (JSON with \u escapes).
_NUL_ESCAPE = "\\u0000"


@dataclass(frozen=True, slots=True)
class Page:
    frames: list[str]
    cut: int  # the last seq this page accounts for (its `next` when more follow)
    scanned: bool  # whether any row was in the window


def sql_clause(matcher: Matcher) -> tuple[str, list[str]] | None:
    """SQL on `frame` that every row `matcher` accepts satisfies (None: not expressible).

    Label names are `[a-zA-Z_:][a-zA-Z0-9_:]*` (the matcher grammar), so quoting them in the JSON
    path needs no escaping.
    """
    if matcher.op not in ("=", "!="):
        return None
    path = f'$.alert.labels."{matcher.name}"'
    return (f"(coalesce(json_extract(frame, ?), '') {matcher.op} ? "
            "OR instr(json_extract(frame, '$.alert.labels'), ?) > 0)",
            [path, matcher.value, _NUL_ESCAPE])


def query_clauses(query: EventQuery) -> tuple[list[str], list[Any]]:
    """SQL narrowing `query`'s alert events (see `bridge.alerts.query`): the matchers that SQL
    can express, the kinds, the cluster."""
    where: list[str] = []
    params: list[Any] = []
    for clause in filter(None, map(sql_clause, query.matchers)):
        where.append(clause[0])
        params.extend(clause[1])
    if query.kinds is not None:
        where.append(f"json_extract(frame, '$.event') IN ({','.join('?' * len(query.kinds))})")
        params.extend(sorted(query.kinds))
    if query.cluster is not None:
        where.append("cluster = ?")
        params.append(query.cluster)
    return where, params


def select_page(conn: sqlite3.Connection, since: int, until: int, limit: int,
                query: EventQuery | Selection | tuple[Matcher, ...]) -> Page:
    """One filtered page (runs on a reader thread, in one read transaction). With `start`,
    the scan window counts only rows stored at or after it (`ts_ms`, see EventQuery)."""
    query = as_query(query)
    conn.execute("BEGIN")
    try:
        end = _window_end(conn, since, until, limit * SCAN_FACTOR, query.start_ms)
        if end is None:
            return Page([], since, False)
        clauses, values = query_clauses(query)
        where, params = ["seq > ?", "seq <= ?"], [since, end]
        if query.start_ms is not None:
            where.append("ts_ms >= ?")
            params.append(query.start_ms)
        # Silence events carry no labels: every page may hold them, as the streams do (the
        # exact test, cluster, kinds and time, is accepts_frame's).
        where.append("(frame LIKE ? OR (" + (" AND ".join(clauses) or "1") + "))")
        params += [SILENCE_FRAME_HEAD + "%", *values]
        rows = conn.execute(
            "SELECT seq, json_extract(frame, '$.event'), json_extract(frame, '$.timestamp'), "
            "cluster, json_extract(frame, '$.alert.labels'), json_extract(frame, '$.alert.state'), "
            "frame FROM events WHERE " + " AND ".join(where) + " ORDER BY seq", params)
        frames: list[str] = []
        for seq, kind, timestamp, cluster, labels, state, frame in rows:
            if labels is None:
                wanted = query.accepts_frame(json.loads(frame))
            else:
                wanted = query.accepts(kind, timestamp, {"labels": json.loads(labels),
                                                         "state": state, "cluster": cluster})
            if wanted:
                frames.append(frame)
                if len(frames) == limit:
                    return Page(frames, seq, True)
        return Page(frames, end, True)
    finally:
        conn.execute("COMMIT")


def _window_end(conn: sqlite3.Connection, since: int, until: int, scan: int,
                start_ms: int | None = None) -> int | None:
    """The seq of the `scan`-th row after `since` (at most `until`, stored at or after
    `start_ms`), or of the last one when there are fewer; None when there is none."""
    stored = "" if start_ms is None else " AND ts_ms >= ?"
    bound: tuple[int, ...] = (since, until) if start_ms is None else (since, until, start_ms)
    row = conn.execute("SELECT seq FROM events WHERE seq > ? AND seq <= ?" + stored
                       + " ORDER BY seq LIMIT 1 OFFSET ?", (*bound, scan - 1)).fetchone()
    if row is not None:
        return int(row[0])
    (end,) = conn.execute("SELECT max(seq) FROM events WHERE seq > ? AND seq <= ?" + stored,
                          bound).fetchone()
    return None if end is None else int(end)


def unfiltered(rows: list[tuple[int, str]], since: int) -> Page:
    """An unfiltered page: the (seq, frame) rows after `since` as the log holds them."""
    return Page([text for _, text in rows], rows[-1][0] if rows else since, bool(rows))


class Gate:
    """At most `slots` holders at once; up to `slots x WAITERS_PER_SLOT` more wait at most
    `wait` seconds; anyone else gets `Unavailable` (503) at once."""

    def __init__(self, slots: int, wait: float = HISTORY_WAIT) -> None:
        self.slots, self.wait = slots, wait
        self.max_waiting = slots * WAITERS_PER_SLOT
        self.waiting = 0
        self._sem = asyncio.Semaphore(slots)

    @asynccontextmanager
    async def enter(self) -> AsyncIterator[None]:
        if self._sem.locked():
            if self.waiting >= self.max_waiting:
                raise self._busy()
            self.waiting += 1
            try:
                async with asyncio.timeout(self.wait):
                    await self._sem.acquire()
            except TimeoutError:
                raise self._busy() from None
            finally:
                self.waiting -= 1
        else:
            await self._sem.acquire()
        try:
            yield
        finally:
            self._sem.release()

    def _busy(self) -> Unavailable:
        return Unavailable(f"too many alert history queries at once (limit {self.slots}); "
                           "retry shortly")



# --- one alert's timeline (GET /api/alerts/{fingerprint}/timeline) ---------------------------

_CLUSTER_OF = "cluster"  # the events table's column (migrated rows hold `default`)


@dataclass(frozen=True, slots=True)
class Timeline:
    clusters: list[str]  # every cluster with events of this fingerprint, sorted
    frames: list[str]  # its events after `since` (in the cluster asked for), in seq order
    next: int | None  # the `since` of the next page; None: no more


def timeline_page(rows: list[tuple[int, str]], limit: int, clusters: list[str],
                  keep: Callable[[str], bool] = lambda _frame: True) -> Timeline:
    """A page from up to `limit + 1` candidate rows (one more than a page: more follow)."""
    page = rows[:limit]
    more = len(rows) > limit and bool(page)
    return Timeline(sorted(clusters), [f for _, f in page if keep(f)],
                    page[-1][0] if more else None)


def select_timeline(conn: sqlite3.Connection, fingerprint: str, cluster: str | None,
                    since: int, limit: int) -> Timeline:
    """An alert's events by the (fingerprint, seq) index, in one read transaction."""
    conn.execute("BEGIN")
    try:
        clusters = [c for (c,) in conn.execute(
            f"SELECT DISTINCT {_CLUSTER_OF} FROM events WHERE fingerprint = ?", (fingerprint,))]
        where, params = "fingerprint = ? AND seq > ?", [fingerprint, since]
        if cluster is not None:
            where += f" AND {_CLUSTER_OF} = ?"
            params.append(cluster)
        rows = conn.execute(f"SELECT seq, frame FROM events WHERE {where} ORDER BY seq LIMIT ?",
                            (*params, limit + 1)).fetchall()
        return timeline_page(rows, limit, clusters)
    finally:
        conn.execute("COMMIT")
