"""Silence events in the SQLite log: the write that decides on the `silences` table (whose DDL
is bridge.alerts.schema's, with the rest of the file's).

Each known silence has a row (its state and content as last recorded, and the seq of its last
event), so `bridge.alerts.silences.decide` runs on committed state inside the writer's
transaction, exactly as alert decisions do: a silence the bridge wrote and the watcher then
reads back is one event, whichever comes first. Events take the next seqs of the one log.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from typing import Any

from bridge.alerts.silences import SilenceEvent, Stored, plan, write_plan


def record(conn: sqlite3.Connection, at: tuple[str, int], now: int, cluster: str,
           silences: list[dict[str, Any]], by: str | None, fetched_ms: int | None,
           previous: Collection[str] | None = None) -> list[SilenceEvent]:
    """Record one cluster's silences (runs on the writer thread); `at` = (epoch, last seq)."""
    rows, removed = {}, {}
    for sid, state, text, body, updated in conn.execute(
            "SELECT id, state, content, body, updated_ms FROM silences WHERE cluster = ?",
            (cluster,)):
        rows[sid] = Stored(state, text, updated)
        if fetched_ms is not None and state != "expired":
            removed[sid] = json.loads(body)
    changes = plan(rows, silences, by is not None, fetched_ms, removed, previous)
    written = write_plan(changes, at[0], at[1], now, by)
    conn.executemany(
        "INSERT INTO events (seq, ts_ms, cluster, fingerprint, frame) VALUES (?, ?, ?, '', ?)",
        [(e.seq, now, cluster, e.text) for e in written.events])
    conn.executemany(
        "INSERT INTO silences VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cluster, id) DO "
        "UPDATE SET state = excluded.state, content = excluded.content, body = excluded.body, "
        "seq = max(silences.seq, excluded.seq), updated_ms = excluded.updated_ms",
        [(cluster, sid, state, text, body, seq, now)
         for sid, state, text, body, seq in written.upserts])
    conn.executemany("DELETE FROM silences WHERE cluster = ? AND id = ?",
                     [(cluster, sid) for sid in written.deletes])
    return written.events


def known(conn: sqlite3.Connection) -> list[tuple[int, dict[str, Any]]]:
    """Every known silence with the seq of its last event (runs on a reader thread)."""
    return [(seq, json.loads(body)) for seq, body in
            conn.execute("SELECT seq, body FROM silences ORDER BY cluster, id")]
