"""Every SQL statement of the PostgreSQL alert log: the schema (as numbered migrations) and the
queries. A schema change is a new migration here plus the queries it touches, nowhere else.

Tables: `log_head` (one row: the last seq assigned and the epoch; its row lock is the one
ordering point of all writers), `alerts` (current state by fingerprint), `events` (the log:
seq -> the frame streams send, byte for byte), `leadership` (which replica reconciles).
"""

from __future__ import annotations

# NOTIFY channel: the payload is the last seq of the committing transaction.
CHANNEL = "promwire_events"
# Advisory lock keys (any 64-bit numbers no other application on the database uses).
MIGRATION_LOCK = 0x70726F6D77697265  # "promwire"
LEADER_LOCK = 0x70726F6D6C656164  # "promlead"

SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""

# (version, name, statements): applied in order, each in its own transaction, once.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "event log", """
CREATE TABLE log_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq bigint NOT NULL,
    epoch text NOT NULL
);
CREATE TABLE alerts (
    fingerprint text PRIMARY KEY,
    status text NOT NULL,
    starts_ms bigint NOT NULL,
    seen_ms bigint NOT NULL,
    updated_ms bigint NOT NULL,
    body text NOT NULL
);
CREATE INDEX alerts_firing ON alerts (starts_ms, fingerprint) WHERE status = 'firing';
CREATE TABLE events (
    seq bigint PRIMARY KEY,
    ts_ms bigint NOT NULL,
    fingerprint text NOT NULL,
    frame text NOT NULL
);
CREATE INDEX events_ts ON events (ts_ms);
CREATE TABLE leadership (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    replica text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
"""),
    (2, "silences", """
CREATE TABLE silences (
    cluster text NOT NULL,
    id text NOT NULL,
    state text NOT NULL,
    content text NOT NULL,
    body text NOT NULL,
    seq bigint NOT NULL,
    updated_ms bigint NOT NULL,
    PRIMARY KEY (cluster, id)
);
"""),
)

APPLIED = "SELECT version FROM schema_migrations"
MARK_APPLIED = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
LOCK = "SELECT pg_advisory_lock($1)"
UNLOCK = "SELECT pg_advisory_unlock($1)"
TRY_LOCK = "SELECT pg_try_advisory_lock($1)"

# --- the log head --------------------------------------------------------------------------
INIT_HEAD = "INSERT INTO log_head (seq, epoch) VALUES (0, $1) ON CONFLICT (id) DO NOTHING"
HEAD = "SELECT seq, epoch FROM log_head WHERE id"
# Taken first in every writing transaction: writers queue here until the one before commits.
LOCK_HEAD = "SELECT seq, epoch FROM log_head WHERE id FOR UPDATE"
NEW_EPOCH = "UPDATE log_head SET epoch = $1 WHERE id"
NOTIFY = "SELECT pg_notify('" + CHANNEL + "', $1)"

# --- writes --------------------------------------------------------------------------------
ALERT_ROWS = ("SELECT fingerprint, status, starts_ms, seen_ms, body, updated_ms FROM alerts "
              "WHERE fingerprint = ANY($1::text[])")
FIRING_ROWS = ("SELECT fingerprint, status, starts_ms, seen_ms, body, updated_ms FROM alerts "
               "WHERE status = 'firing'")
# A transaction's writes in one statement: its events ($1-$4), its changed alerts ($5-$10),
# the head ($11, the last seq) and the notification (only when it added events).
WRITE = """
WITH new_events AS (
    INSERT INTO events (seq, ts_ms, fingerprint, frame)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[])
), changed AS (
    INSERT INTO alerts (fingerprint, status, starts_ms, seen_ms, body, updated_ms)
    SELECT * FROM unnest($5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[],
                         $10::bigint[])
    ON CONFLICT (fingerprint) DO UPDATE SET status = EXCLUDED.status,
        starts_ms = EXCLUDED.starts_ms, seen_ms = EXCLUDED.seen_ms, body = EXCLUDED.body,
        updated_ms = EXCLUDED.updated_ms
), head AS (
    UPDATE log_head SET seq = $11 WHERE id AND seq < $11
)
SELECT pg_notify('""" + CHANNEL + """', $11::text) WHERE cardinality($1::bigint[]) > 0"""
CLEAR_EVENTS = "DELETE FROM events"
CLEAR_ALERTS = "DELETE FROM alerts"

# --- retention -----------------------------------------------------------------------------
AGED_UNTIL = "SELECT max(seq) FROM events WHERE ts_ms < $1"
FIRST_SEQ = "SELECT min(seq) FROM events"
DELETE_EVENTS_UPTO = "DELETE FROM events WHERE seq <= $1"
DELETE_OLD_RESOLVED = "DELETE FROM alerts WHERE status = 'resolved' AND updated_ms < $1"

# --- reads ---------------------------------------------------------------------------------
OPEN_FIRING = "SELECT body FROM alerts WHERE status = 'firing' ORDER BY starts_ms, fingerprint"
EVENTS_AFTER = ("SELECT seq, frame FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq "
                "LIMIT $3")
BOUNDS = "SELECT (SELECT min(seq) FROM events), (SELECT seq FROM log_head WHERE id)"
WINDOW_AT = ("SELECT seq FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq "
             "OFFSET $3 LIMIT 1")
WINDOW_LAST = "SELECT max(seq) FROM events WHERE seq > $1 AND seq <= $2"
HISTORY_ROWS = ("SELECT seq, frame FROM events WHERE seq > $1 AND seq <= $2 AND (frame LIKE "
                "'{{\"type\":\"silence\"%' OR (true{where})) ORDER BY seq")
# An `=`/`!=` matcher on the stored frame ($n: the label's JSON path, $n+1: the value). jsonb
# refuses \u0000, so a frame holding that escape passes to the Python check uncast (CASE, not
# OR: only CASE fixes the order of evaluation).
LABEL_CLAUSE = ("CASE WHEN strpos(frame, '\\u0000') > 0 THEN true "
                "ELSE coalesce(frame::jsonb #>> ${path}::text[], '') {op} ${value} END")

# --- leadership ----------------------------------------------------------------------------
CLAIM_LEADERSHIP = """
INSERT INTO leadership (replica) VALUES ($1)
ON CONFLICT (id) DO UPDATE SET replica = EXCLUDED.replica, since = now()"""
LEADER = "SELECT replica FROM leadership WHERE id"

# --- silences (bridge.alerts.pg.silences) --------------------------------------------------
SILENCE_ROWS = "SELECT id, state, content, body, updated_ms FROM silences WHERE cluster = $1"
KNOWN_SILENCES = "SELECT seq, body FROM silences ORDER BY cluster, id"
CLEAR_SILENCES = "DELETE FROM silences"
# One cluster's changes in one statement: events (seqs $1, frames $2, at $3), rows to upsert
# ($4-$8) of cluster $9, ids to forget ($10), the head ($11) and the notification.
WRITE_SILENCES = """
WITH new_events AS (
    INSERT INTO events (seq, ts_ms, fingerprint, frame)
    SELECT s, $3::bigint, '', f FROM unnest($1::bigint[], $2::text[]) AS e(s, f)
), forgotten AS (
    DELETE FROM silences WHERE cluster = $9::text AND id = ANY($10::text[])
), changed AS (
    INSERT INTO silences (cluster, id, state, content, body, seq, updated_ms)
    SELECT $9::text, i, st, c, b, q, $3::bigint
    FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
        AS r(i, st, c, b, q)
    ON CONFLICT (cluster, id) DO UPDATE SET state = EXCLUDED.state,
        content = EXCLUDED.content, body = EXCLUDED.body,
        seq = greatest(silences.seq, EXCLUDED.seq), updated_ms = EXCLUDED.updated_ms
), head AS (
    UPDATE log_head SET seq = $11::bigint WHERE id AND seq < $11::bigint
)
SELECT pg_notify('""" + CHANNEL + """', $11::text) WHERE cardinality($1::bigint[]) > 0"""
