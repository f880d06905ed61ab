"""Every SQL statement of the PostgreSQL alert log: the schema (as numbered migrations) and the
queries. A schema change is a new migration here plus the queries it touches, nowhere else.

Tables: `log_head` (one row: the last seq assigned and the epoch; its row lock is the one
ordering point of all writers, held only by the one statement that appends), `alerts` (current
state by fingerprint), `events` (the log: seq -> the frame streams send, byte for byte),
`leadership` (which replica reconciles).
"""

from __future__ import annotations

# NOTIFY channel: the payload is the committing transaction's frames, one a line, when they
# fit in NOTIFY_FRAMES_MAX bytes (the server's limit is 8000), else its last seq.
CHANNEL = "promwire_events"
NOTIFY_FRAMES_MAX = 7800
# NOTIFY channel: a replica asks the leader to reconcile now (payload: the asking replica).
RECONCILE_CHANNEL = "promwire_reconcile"
# Advisory lock keys (any 64-bit numbers no other application on the database uses).
MIGRATION_LOCK = 0x70726F6D77697265  # "promwire"
LEADER_LOCK = 0x70726F6D6C656164  # "promlead"
# Held shared by every writer while it decides and appends, exclusive by what needs every alert
# to itself (a reconciliation, the retention of resolved alerts, a reset).
WRITERS_LOCK = 0x70726F6D77726974  # "promwrit"

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
)

APPLIED = "SELECT version FROM schema_migrations"
MARK_APPLIED = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
LOCK = "SELECT pg_advisory_lock($1)"
UNLOCK = "SELECT pg_advisory_unlock($1)"
TRY_LOCK = "SELECT pg_try_advisory_lock($1)"

# --- the log head --------------------------------------------------------------------------
INIT_HEAD = "INSERT INTO log_head (seq, epoch) VALUES (0, $1) ON CONFLICT (id) DO NOTHING"
HEAD = "SELECT seq, epoch FROM log_head WHERE id"
HEAD_EPOCH = "SELECT epoch FROM log_head WHERE id"
# A reset locks the head after WRITERS_LOCK (the order every writer takes them in).
LOCK_HEAD = "SELECT seq, epoch FROM log_head WHERE id FOR UPDATE"
NEW_EPOCH = "UPDATE log_head SET epoch = $1 WHERE id"
NOTIFY = "SELECT pg_notify('" + CHANNEL + "', $1)"
ASK_RECONCILE = "SELECT pg_notify('" + RECONCILE_CHANNEL + "', $1)"

# --- writers' locks (session advisory locks: they outlive the appending statement's implicit
# transaction, and end with the session when a replica dies) ------------------------------
# $1: WRITERS_LOCK then the batch's fingerprint keys in ascending order, taken in that order
# (unnest yields the array in order): WRITERS_LOCK shared, each fingerprint exclusive.
LOCK_KEYS = ("SELECT CASE WHEN k = $2 THEN pg_advisory_lock_shared(k) ELSE pg_advisory_lock(k) "
             "END FROM unnest($1::bigint[]) AS k")
LOCK_WRITERS = "SELECT pg_advisory_lock($1)"
LOCK_WRITERS_XACT = "SELECT pg_advisory_xact_lock($1)"
# (Released when the connection goes back to the pool: `connect.release_locks`.)

# --- writes --------------------------------------------------------------------------------
ALERT_ROWS = ("SELECT fingerprint, status, starts_ms, seen_ms, body, updated_ms FROM alerts "
              "WHERE fingerprint = ANY($1::text[])")
FIRING_ROWS = ("SELECT fingerprint, status, starts_ms, seen_ms, body, updated_ms FROM alerts "
               "WHERE status = 'firing'")
# A batch's append, one statement in its own (implicit) transaction: the head row is locked from
# its UPDATE to the commit, with no round trip to the bridge in between. Seqs are allocated
# there ($1: the events' fingerprints, in order; each frame is $11 || seq || its tail $4), the
# events and the changed alerts ($5-$10) written, and the notification sent (with the frames,
# so that other replicas publish them without reading them back). No row back: the epoch is no
# longer $3 (a reset since the writer read it).
WRITE = """
WITH head AS (
    UPDATE log_head SET seq = seq + cardinality($1::text[]) WHERE id AND epoch = $3
    RETURNING seq - cardinality($1::text[]) AS base
), new_events AS (
    INSERT INTO events (seq, ts_ms, fingerprint, frame)
    SELECT head.base + e.n, $2::bigint, e.fingerprint, $11::text || (head.base + e.n) || e.tail
    FROM head, unnest($1::text[], $4::text[]) WITH ORDINALITY AS e(fingerprint, tail, n)
    RETURNING seq, frame
), changed AS (
    INSERT INTO alerts (fingerprint, status, starts_ms, seen_ms, body, updated_ms)
    SELECT a.* FROM head, unnest($5::text[], $6::text[], $7::bigint[], $8::bigint[],
                                 $9::text[], $10::bigint[])
        AS a(fingerprint, status, starts_ms, seen_ms, body, updated_ms)
    ON CONFLICT (fingerprint) DO UPDATE SET status = EXCLUDED.status,
        starts_ms = EXCLUDED.starts_ms, seen_ms = EXCLUDED.seen_ms, body = EXCLUDED.body,
        updated_ms = EXCLUDED.updated_ms
)
SELECT base, pg_notify('""" + CHANNEL + """', coalesce(
    (SELECT string_agg(frame, E'\\n' ORDER BY seq) FROM new_events
     HAVING sum(octet_length(frame) + 1) <= """ + str(NOTIFY_FRAMES_MAX) + """),
    (base + cardinality($1::text[]))::text)) FROM head"""
# Alerts seen again without an event: no seq, so the head is not touched.
WRITE_SEEN = """
INSERT INTO alerts (fingerprint, status, starts_ms, seen_ms, body, updated_ms)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                     $6::bigint[])
ON CONFLICT (fingerprint) DO UPDATE SET status = EXCLUDED.status,
    starts_ms = EXCLUDED.starts_ms, seen_ms = EXCLUDED.seen_ms, body = EXCLUDED.body,
    updated_ms = EXCLUDED.updated_ms"""
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
# The head and the events after $1 up to it, in one statement (one snapshot: an epoch change is
# seen together with the events that follow it); the head's columns repeat on every row, and
# come once with NULL events when there are none to read.
CATCH_UP = """
SELECT h.seq, h.epoch, e.seq, e.frame FROM log_head h
LEFT JOIN LATERAL (SELECT seq, frame FROM events WHERE seq > $1 AND seq <= h.seq
                   ORDER BY seq LIMIT $2) e ON true
WHERE h.id ORDER BY e.seq"""
BOUNDS = "SELECT (SELECT min(seq) FROM events), (SELECT seq FROM log_head WHERE id)"
WINDOW_AT = ("SELECT seq FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq "
             "OFFSET $3 LIMIT 1")
WINDOW_LAST = "SELECT max(seq) FROM events WHERE seq > $1 AND seq <= $2"
HISTORY_ROWS = "SELECT seq, frame FROM events WHERE seq > $1 AND seq <= $2{where} ORDER BY seq"
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
