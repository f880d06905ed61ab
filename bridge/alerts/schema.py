"""The SQLite alert store's schema and its upgrades, versioned with `PRAGMA user_version`.

Version 0 is the schema before clusters (alerts keyed by fingerprint); version 1 keys alerts by
(cluster, fingerprint) and gives events a `cluster` column. A new file gets the latest schema
at once; an older one is upgraded in one transaction when the store opens (a crash midway
leaves it as it was). A file of a newer version than this bridge knows is refused: an older
bridge must not write to a schema it predates.
"""

from __future__ import annotations

import sqlite3

from bridge.config import DEFAULT_CLUSTER

VERSION = 1

# What version 1 adds to every alert stored before it, in the key order `Notice.alert` writes:
# appended as text, so old frames stay byte-for-byte what they were plus these keys.
ADDED_KEYS = (f',"cluster":"{DEFAULT_CLUSTER}","state":"active","silencedBy":[],'
              '"inhibitedBy":[]')

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    cluster TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    starts_ms INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (cluster, fingerprint)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    frame TEXT NOT NULL,
    cluster TEXT NOT NULL DEFAULT 'default'
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts_ms);
CREATE INDEX IF NOT EXISTS events_fingerprint ON events (fingerprint, seq);
CREATE TABLE IF NOT EXISTS silences (
    cluster TEXT NOT NULL,
    id TEXT NOT NULL,
    state TEXT NOT NULL,
    content TEXT NOT NULL,
    body TEXT NOT NULL,
    seq INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (cluster, id)
);
"""

# Version 0 -> 1. The alerts table is rebuilt (SQLite cannot change a primary key in place);
# events get the column (old rows: "default") and the keys appended to their frame's alert.
TO_1 = f"""
ALTER TABLE alerts RENAME TO alerts_v0;
CREATE TABLE alerts (
    cluster TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    starts_ms INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (cluster, fingerprint)
);
INSERT INTO alerts (cluster, fingerprint, status, starts_ms, seen_ms, updated_ms, body)
    SELECT '{DEFAULT_CLUSTER}', fingerprint, status, starts_ms, seen_ms, updated_ms,
           substr(body, 1, length(body) - 1) || '{ADDED_KEYS}}}'
    FROM alerts_v0;
DROP TABLE alerts_v0;
ALTER TABLE events ADD COLUMN cluster TEXT NOT NULL DEFAULT '{DEFAULT_CLUSTER}';
UPDATE events SET frame = substr(frame, 1, length(frame) - 2) || '{ADDED_KEYS}}}}}';
"""


class SchemaTooNew(sqlite3.DatabaseError):
    """The file was written by a newer bridge."""


def version(conn: sqlite3.Connection) -> int:
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    return int(found)


def migrate(conn: sqlite3.Connection) -> int | None:
    """Bring the file to VERSION; the version it was upgraded from (None: it was current or
    new). `conn` is in autocommit mode (the writer's connection)."""
    found = version(conn)
    if found > VERSION:
        raise SchemaTooNew(f"the alert store has schema version {found}; this bridge knows up "
                           f"to {VERSION}: upgrade the bridge")
    if found == VERSION:
        conn.executescript(SCHEMA)  # idempotent; repairs nothing, creates nothing new
        return None
    old = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerts'"
                       ).fetchone() is not None
    conn.execute("BEGIN IMMEDIATE")
    try:
        if old:
            for statement in _statements(TO_1):
                conn.execute(statement)
        for statement in _statements(SCHEMA):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found if old else None


def _statements(script: str) -> list[str]:
    """A script's statements (none of ours has a `;` inside a literal)."""
    return [s.strip() for s in script.split(";") if s.strip()]
