"""Pages of the alert event log for GET /api/alerts/history, selected off the event loop.

A filtered page is the first `limit` matching events among the next `limit x SCAN_FACTOR` log
rows after `since` (the scan window), so one request reads a bounded number of rows however rare
its match; `next` is where the page stopped: after its last event when the page is full, else at
the end of the window. What used to run on the loop (decoding every row's JSON, applying the
matchers) now runs in a pool of reader threads, and in SQLite where it can:

- `=` and `!=` matchers become SQL on the stored frame (`json_extract` of the label, missing =
  ""), so rows they exclude are never handed to Python. SQLite's JSON strings stop at NUL, so
  rows holding an escaped NUL always pass to the Python check instead;
- every surviving row is then checked in Python against all matchers, on its labels alone
  (`json_extract(frame, '$.alert.labels')`, a small object), so SQL only narrows and the result
  is exactly what the matchers' own semantics say;
- regex matchers (RE2) run only in that Python check.

At most `alerts.history_concurrency` history queries run at once (as many reader threads); a few
more wait up to HISTORY_WAIT seconds, and beyond that the answer is 503 `unavailable`: a flood
of history readers cannot take the whole bridge with them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bridge.alerts.matchers import Matcher, matches_all
from bridge.errors import Unavailable

# With a filter, a history page scans at most this many log rows per returned row.
SCAN_FACTOR = 10
# Seconds a history query waits for a free slot before 503, and waiters allowed per slot.
HISTORY_WAIT = 2.0
WAITERS_PER_SLOT = 4
POOL = "history"
# How a stored silence event begins (`bridge.alerts.silences.silence_frame`).
SILENCE_PREFIX = '{"type":"silence"'
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


def select_page(conn: sqlite3.Connection, since: int, until: int, limit: int,
                matchers: tuple[Matcher, ...]) -> Page:
    """One filtered page (runs on a reader thread, in one read transaction)."""
    conn.execute("BEGIN")
    try:
        end = _window_end(conn, since, until, limit * SCAN_FACTOR)
        if end is None:
            return Page([], since, False)
        where, params = [], []
        for clause in filter(None, map(sql_clause, matchers)):
            where.append(clause[0])
            params.extend(clause[1])
        # Silence events carry no labels: they are in every filtered page, as in the streams.
        rows = conn.execute(
            "SELECT seq, json_extract(frame, '$.alert.labels'), frame FROM events WHERE "
            f"seq > ? AND seq <= ? AND (frame LIKE '{SILENCE_PREFIX}%' OR ("
            + (" AND ".join(where) or "1") + ")) ORDER BY seq", [since, end, *params])
        frames: list[str] = []
        for seq, labels, frame in rows:
            if labels is None or matches_all(matchers, json.loads(labels)):
                frames.append(frame)
                if len(frames) == limit:
                    return Page(frames, seq, True)
        return Page(frames, end, True)
    finally:
        conn.execute("COMMIT")


def _window_end(conn: sqlite3.Connection, since: int, until: int, scan: int) -> int | None:
    """The seq of the `scan`-th row after `since` (at most `until`), or of the last one when
    there are fewer; None when there is none."""
    row = conn.execute("SELECT seq FROM events WHERE seq > ? AND seq <= ? ORDER BY seq "
                       "LIMIT 1 OFFSET ?", (since, until, scan - 1)).fetchone()
    if row is not None:
        return int(row[0])
    (end,) = conn.execute("SELECT max(seq) FROM events WHERE seq > ? AND seq <= ?",
                          (since, until)).fetchone()
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

