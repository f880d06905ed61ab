"""The alert store: current alerts by (cluster, fingerprint) and an append-only event log, in
SQLite.

Events are decided inside the write transaction, so the rules (`bridge.alerts.decide`, shared
with the PostgreSQL store) see exactly what is committed. Each event gets the next `seq` (never
reused, AUTOINCREMENT) and is stored as the exact frame JSON that streams send, so replay is
byte-identical to live. The `epoch` is a random id made with the database; it changes only when
the log is reset (`reset()`, or a corrupt file set aside). The schema is versioned and upgraded
on open (`bridge.alerts.schema`).
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.alerts import backfill_store, history, schema, silencelog
from bridge.alerts.db import Database, Outcome
from bridge.alerts.decide import SEEN, MayResolve, Row, decide, gone_from, judge
from bridge.alerts.episodes import SOURCE, Episode
from bridge.alerts.history import Page, Timeline
from bridge.alerts.listeners import StoreEvents
from bridge.alerts.matchers import Matcher
from bridge.alerts.model import Notice, ended_ms, now_ms
from bridge.alerts.query import EventQuery, as_query
from bridge.alerts.selection import Selection
from bridge.alerts.silences import SilenceEvent
from bridge.alerts.wire import Encoded, alert_frame
from bridge.config import DEFAULT_CLUSTER, AlertsConfig
from bridge.errors import StorageUnavailable
from bridge.jsonenc import dumps

log = logging.getLogger("bridge.alerts.store")

DB_NAME = "alerts.db"
PRUNE_CHUNK = 5000

@dataclass(eq=False)
class Event(Encoded):
    """A committed log entry: the frame text (encoded once) and what filters need."""

    seq: int
    epoch: str
    kind: str
    source: str
    labels: dict[str, str]
    alert: dict[str, Any]
    text: str
    type = "alert"

    @property
    def id(self) -> str:
        """The SSE id: this event is a resume point."""
        return f"{self.epoch}:{self.seq}"

    @property
    def key(self) -> tuple[str, str]:
        """The alert's (cluster, fingerprint)."""
        return self.alert["cluster"], self.alert["fingerprint"]


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What one reconciliation did: its events, and the alerts missing from Alertmanager that
    it did not resolve yet (`held`: firing here, absent there, within the resend interval)."""

    events: list[Event]
    held: dict[str, int]  # fingerprint -> seen_ms


# Re-exported: what the other modules and backends took from here before `decide` existed.
__all__ = ["SEEN", "MayResolve", "Row", "decide", "gone_from", "judge"]


def _always(_fingerprint: str, _seen_ms: int) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Opened:
    epoch: str
    last_seq: int
    firing: list[dict[str, Any]]


class AlertStore(StoreEvents):
    """Records notices as events; every write goes through the one writer thread."""

    def __init__(self, data_dir: str | Path, config: AlertsConfig) -> None:
        super().__init__()
        self.config = config
        self.path = Path(data_dir) / DB_NAME
        self.where = str(self.path)
        self.db = Database(self.path, sync=config.sync, busy_timeout=config.busy_timeout,
                           init=self._init)
        # History queries' own reader threads (one per slot of the history Gate).
        self.db.add_pool(history.POOL, config.history_concurrency)
        self.epoch = ""

    async def open(self) -> Opened:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        opened: Opened = await self.db.open(self._settle)
        self.epoch = opened.epoch
        return opened

    async def close(self) -> None:
        await self.db.close()

    def status(self) -> dict[str, Any]:
        """What /health shows about this backend."""
        return {"backend": "sqlite", "path": self.where}

    def _settle(self, outcomes: list[Outcome]) -> None:
        events: list[Event] = []
        for o in outcomes:
            if isinstance(o.error, StorageUnavailable):
                self.write_error = o.error.detail
            elif o.error is None:
                self.write_error = None
            if o.error is not None:
                continue
            if o.tag == "events":
                events.extend(o.result)
            elif o.tag == "reconciled":
                events.extend(o.result.events)
            elif o.tag == "reset":
                self._publish(events)
                events = []
                self.epoch = o.result
                self._announce_reset(o.result)
        self._publish(events)
        for o in outcomes:
            if o.future.done():
                continue
            if o.error is None:
                o.future.set_result(o.result)
            else:
                o.future.set_exception(o.error)

    # --- opening (writer thread) -----------------------------------------------------------

    def _init(self, connect: Callable[[], sqlite3.Connection]
              ) -> tuple[sqlite3.Connection, Opened]:
        try:
            conn = _create(connect)
        except sqlite3.DatabaseError as exc:
            if "not a database" not in str(exc) and "malformed" not in str(exc):
                raise
            aside = self.path.with_name(f"{DB_NAME}.corrupt-{int(time.time())}")
            log.error("alert store %s is corrupt (%s); moved to %s, starting a new epoch",
                      self.path, exc, aside)
            self.path.rename(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            conn = _create(connect)
        epoch = _epoch(conn) or _new_epoch(conn)
        firing = [json.loads(body) for (body,) in conn.execute(
            "SELECT body FROM alerts WHERE status = 'firing' "
            "ORDER BY starts_ms, cluster, fingerprint")]
        return conn, Opened(epoch, _last_seq(conn), firing)

    # --- writes ----------------------------------------------------------------------------

    async def record(self, notices: list[Notice]) -> list[Event]:
        """Store notices (webhook or manual); the events they caused, once committed."""
        return await self.db.write(lambda conn: self._record(conn, notices, None), "events")

    async def reconcile(self, notices: list[Notice], fetched_ms: int,
                        may_resolve: MayResolve = _always,
                        cluster: str = DEFAULT_CLUSTER) -> Reconciled:
        """Make `cluster`'s alerts agree with its Alertmanager's, as fetched at `fetched_ms`.

        Alerts a webhook touched after the fetch started are left alone: the webhook is newer.
        A firing alert missing from the answer is resolved only when `may_resolve` says so (it
        runs on the writer thread, so it must only read what it was built with); the others
        are returned as `held`, with when a webhook last reported them.
        """
        def run(conn: sqlite3.Connection) -> Reconciled:
            return self._reconcile(conn, cluster, notices, fetched_ms, may_resolve)
        reconciled: Reconciled = await self.db.write(run, "reconciled")
        return reconciled

    async def prune(self, now: int | None = None) -> int:
        """Delete events past retention (age and rows), one chunk per transaction."""
        now = now_ms() if now is None else now
        total = 0
        while True:
            deleted, more = await self.db.write(lambda conn: self._prune(conn, now), "prune")
            total += deleted
            if not more:
                return total

    async def reset(self) -> str:
        """Empty the log and the current alerts and start a new epoch (clients resync)."""
        def reset(conn: sqlite3.Connection) -> str:
            conn.execute("DELETE FROM events")
            conn.execute("DELETE FROM alerts")
            conn.execute("DELETE FROM silences")
            return _new_epoch(conn)
        epoch: str = await self.db.write(reset, "reset")
        return epoch

    async def record_silences(self, cluster: str, silences: list[dict[str, Any]],
                              by: str | None, fetched_ms: int | None = None,
                              previous: Collection[str] | None = None
                              ) -> list[SilenceEvent]:
        """Record silences of `cluster` as Alertmanager shows them; the `silence` events they
        caused, once committed (`bridge.alerts.silences.plan`: `by` = who made the change
        through the bridge, None for the watcher; `fetched_ms` = a complete list, `previous` =
        the ids of the previous one read from the same peer)."""
        def run(conn: sqlite3.Connection) -> list[SilenceEvent]:
            return silencelog.record(conn, (_epoch(conn), _last_seq(conn)), now_ms(),
                                     cluster, silences, by, fetched_ms, previous)
        return await self.db.write(run, "events")

    async def known_silences(self) -> list[tuple[int, dict[str, Any]]]:
        """Every silence the log knows, with the seq of its last event."""
        return await self.db.read(silencelog.known)

    def _record(self, conn: sqlite3.Connection, notices: list[Notice],
                fetched_ms: int | None) -> list[Event]:
        now = now_ms()
        seq = _last_seq(conn)
        epoch = _epoch(conn)
        events = []
        for notice in notices:
            event = self._apply(conn, notice, now, (epoch, seq + 1), fetched_ms)
            if event is not None:
                events.append(event)
                seq += 1
        return events

    def _reconcile(self, conn: sqlite3.Connection, cluster: str, notices: list[Notice],
                   fetched_ms: int, may_resolve: MayResolve) -> Reconciled:
        gone, held = gone_from(conn.execute(
            "SELECT fingerprint, seen_ms, body FROM alerts WHERE status = 'firing' "
            "AND cluster = ? ORDER BY starts_ms, fingerprint", (cluster,)), notices, fetched_ms,
            may_resolve)
        return Reconciled(self._record(conn, [*notices, *gone], fetched_ms), held)

    def _apply(self, conn: sqlite3.Connection, notice: Notice, now: int, at: tuple[str, int],
               fetched_ms: int | None) -> Event | None:
        row: Row | None = conn.execute(
            "SELECT status, starts_ms, seen_ms, body FROM alerts WHERE cluster = ? AND "
            "fingerprint = ?", notice.key).fetchone()
        kind, starts, suppression = judge(notice, row, now, fetched_ms)
        if kind == SEEN:
            conn.execute("UPDATE alerts SET seen_ms = ? WHERE cluster = ? AND fingerprint = ?",
                         (now, *notice.key))
        if kind is None or kind == SEEN:
            return None
        epoch, seq = at
        alert = notice.alert(starts, now, suppression)
        body = dumps(alert)
        text = alert_frame(seq, epoch, kind, notice.status, now, body)
        conn.execute("INSERT OR REPLACE INTO alerts (cluster, fingerprint, status, starts_ms, "
                     "seen_ms, updated_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (*notice.key, notice.status, starts, now, now, body))
        conn.execute("INSERT INTO events (seq, ts_ms, cluster, fingerprint, frame) "
                     "VALUES (?, ?, ?, ?, ?)", (seq, now, *notice.key, text))
        return Event(seq, epoch, kind, notice.source, notice.labels, alert, text)

    def _prune(self, conn: sqlite3.Connection, now: int) -> tuple[int, bool]:
        cutoff_ms = now - int(self.config.retention_days * 86_400_000)
        cut = _last_seq(conn) - self.config.retention_rows
        (aged,) = conn.execute("SELECT max(seq) FROM events WHERE ts_ms < ?",
                               (cutoff_ms,)).fetchone()
        cut = max(cut, aged or 0)
        (first,) = conn.execute("SELECT min(seq) FROM events").fetchone()
        deleted, more = 0, False
        if first is not None and cut >= first:
            upto = min(cut, first + PRUNE_CHUNK - 1)
            deleted = conn.execute("DELETE FROM events WHERE seq <= ?", (upto,)).rowcount
            more = upto < cut
        if not more:
            conn.execute("DELETE FROM alerts WHERE status = 'resolved' AND updated_ms < ?",
                         (cutoff_ms,))
        return deleted, more

    async def backfill(self, found: list[Episode], cluster: str) -> list[Event]:
        """Store the episodes read from Prometheus that the log lacks, as history events
        (`bridge.alerts.episodes` decides, `bridge.alerts.backfill_store` writes)."""
        def run(conn: sqlite3.Connection) -> list[Event]:
            epoch = _epoch(conn)
            return [Event(w.seq, epoch, w.kind, SOURCE, w.alert["labels"], w.alert, w.text)
                    for w in backfill_store.write(conn, found, cluster, self.config, now_ms(),
                                                  _last_seq(conn), epoch)]
        events: list[Event] = await self.db.write(run, "events")
        return events

    # --- reads (reader thread) -------------------------------------------------------------

    async def events_after(self, since: int, limit: int, until: int | None = None
                           ) -> list[tuple[int, str]]:
        """Up to `limit` (seq, frame) after `since` (and up to `until`), in seq order."""
        bound = until if until is not None else 2**63 - 1

        def read(conn: sqlite3.Connection) -> list[tuple[int, str]]:
            return conn.execute("SELECT seq, frame FROM events WHERE seq > ? AND seq <= ? "
                                "ORDER BY seq LIMIT ?", (since, bound, limit)).fetchall()
        return await self.db.read(read)

    async def bounds(self) -> tuple[int | None, int]:
        """(oldest kept seq or None when the log is empty, last seq ever assigned)."""
        def read(conn: sqlite3.Connection) -> tuple[int | None, int]:
            (first,) = conn.execute("SELECT min(seq) FROM events").fetchone()
            return first, _last_seq(conn)
        return await self.db.read(read)

    async def history(self, since: int, until: int, limit: int,
                      query: EventQuery | Selection | tuple[Matcher, ...]) -> Page:
        """A page of GET /api/alerts/history (see `bridge.alerts.history`); bare matchers
        are the default selection with them."""
        chosen = as_query(query)
        if chosen.empty:
            return history.unfiltered(await self.events_after(since, limit, until=until), since)
        page: Page = await self.db.read(
            lambda conn: history.select_page(conn, since, until, limit, chosen), history.POOL)
        return page

    async def resolved(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Of these alerts (cluster, fingerprint), those the log holds as resolved, with when
        their last life ended (ms)."""
        def read(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
            found = {}
            for key in keys:
                row = conn.execute("SELECT body FROM alerts WHERE cluster = ? AND "
                                   "fingerprint = ? AND status = 'resolved'", key).fetchone()
                if row is not None:
                    found[key] = ended_ms(row[0])
            return found
        return await self.db.read(read)

    async def timeline(self, fingerprint: str, cluster: str | None, since: int, limit: int
                       ) -> Timeline:
        """One alert's events after `since` (see `bridge.alerts.history.select_timeline`)."""
        found: Timeline = await self.db.read(
            lambda conn: history.select_timeline(conn, fingerprint, cluster, since, limit),
            history.POOL)
        return found


def _create(connect: Callable[[], sqlite3.Connection]) -> sqlite3.Connection:
    conn = connect()
    try:
        upgraded = schema.migrate(conn)
    except sqlite3.Error:
        conn.close()
        raise
    if upgraded is not None:
        log.info("alert store upgraded from schema version %d to %d", upgraded, schema.VERSION)
    return conn


def _last_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0]) if row else 0


def _epoch(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
    return str(row[0]) if row else ""


def _new_epoch(conn: sqlite3.Connection) -> str:
    epoch = secrets.token_hex(8)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
    return epoch

