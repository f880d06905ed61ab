"""Every SQL statement of the PostgreSQL alert log: the schema (as numbered migrations) and the
queries. A schema change is a new migration here plus the queries it touches, nowhere else.

Tables: `log_head` (one row: the last seq assigned and the epoch; its row lock is the one
ordering point of all writers, held only by the one statement that appends), `alerts` (current
state by (cluster, fingerprint)), `events` (the log: seq -> the frame streams send, byte for
byte, and its alert's cluster and fingerprint), `leadership` (which replica reconciles).
"""

from __future__ import annotations

from bridge.alerts.schema import ADDED_KEYS
from bridge.alerts.wire import SILENCE_FRAME_HEAD
from bridge.config import DEFAULT_CLUSTER

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
    # Clusters (issue 13): alerts keyed by (cluster, fingerprint); rows from before are in
    # "default", their stored alerts and frames get the keys `Notice.alert` now writes last.
    (2, "clusters", f"""
ALTER TABLE alerts ADD COLUMN cluster text NOT NULL DEFAULT '{DEFAULT_CLUSTER}';
ALTER TABLE alerts DROP CONSTRAINT alerts_pkey;
ALTER TABLE alerts ADD PRIMARY KEY (cluster, fingerprint);
UPDATE alerts SET body = left(body, -1) || '{ADDED_KEYS}}}';
DROP INDEX alerts_firing;
CREATE INDEX alerts_firing ON alerts (cluster, starts_ms, fingerprint) WHERE status = 'firing';
ALTER TABLE events ADD COLUMN cluster text NOT NULL DEFAULT '{DEFAULT_CLUSTER}';
UPDATE events SET frame = left(frame, -2) || '{ADDED_KEYS}}}}}';
"""),
    (3, "events by fingerprint", """
CREATE INDEX events_fingerprint ON events (fingerprint, seq);
"""),
    (4, "silences", """
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
    # A writer's locks and its read in one round trip (`LOCK_AND_READ`). VOLATILE: its query
    # takes a fresh snapshot once the locks are granted, where one statement that both locked
    # and read would read from the snapshot of before its wait.
    (5, "writers lock and read in one call", """
CREATE FUNCTION promwire_lock_alerts(locks bigint[], writers bigint, clusters text[],
                                     fingerprints text[]) RETURNS SETOF alerts
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    PERFORM CASE WHEN k = writers THEN pg_advisory_lock_shared(k) ELSE pg_advisory_lock(k) END
    FROM unnest(locks) AS k;
    RETURN QUERY SELECT a.* FROM unnest(clusters, fingerprints) AS k(cluster, fingerprint)
        CROSS JOIN LATERAL (SELECT * FROM alerts WHERE alerts.cluster = k.cluster
                            AND alerts.fingerprint = k.fingerprint LIMIT 1) AS a;
END
$fn$;
"""),
    # A writer's session locks handed over to its appending statement's transaction
    # (`WRITE`, `WRITE_SEEN`): each is taken again at transaction level (a session holding a
    # lock is granted it again at once) and its session hold released, so they end with the
    # commit, after its rows are visible, with no round trip of their own.
    (6, "writers hand their locks over to the append", """
CREATE FUNCTION promwire_hand_over(locks bigint[], writers bigint, exclusive boolean)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    k bigint;
    released boolean := true;
BEGIN
    FOREACH k IN ARRAY locks LOOP
        IF k = writers AND NOT exclusive THEN
            PERFORM pg_advisory_xact_lock_shared(k);
            released := pg_advisory_unlock_shared(k) AND released;
        ELSE
            PERFORM pg_advisory_xact_lock(k);
            released := pg_advisory_unlock(k) AND released;
        END IF;
    END LOOP;
    RETURN released;
END
$fn$;
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
# The payload a reset NOTIFYs: not a seq, so every replica reads the log (and sees the new
# epoch) at once, whatever seq it published last.
RESET_PAYLOAD = "reset"
ASK_RECONCILE = "SELECT pg_notify('" + RECONCILE_CHANNEL + "', $1)"

# --- writers' locks (session advisory locks from the read to the append, which hands them over
# to its transaction; they end with the session too, when a replica dies) -----------------
# $1: WRITERS_LOCK then the batch's fingerprint keys in ascending order, taken in that order
# (unnest yields the array in order): WRITERS_LOCK ($2) shared, each fingerprint exclusive;
# then the ALERT_ROWS of ($3, $4), read once the locks are held. One round trip: migration 5's
# function, whose query takes its snapshot after the locks were granted.
LOCK_AND_READ = ("SELECT cluster, fingerprint, status, starts_ms, seen_ms, body, updated_ms "
                 "FROM promwire_lock_alerts($1::bigint[], $2::bigint, $3::text[], $4::text[])")
LOCK_WRITERS = "SELECT pg_advisory_lock($1)"
LOCK_WRITERS_XACT = "SELECT pg_advisory_xact_lock($1)"
# A writer's appending statement ends its locks with its commit (migration 6): the locks
# ($n), WRITERS_LOCK ($n+1), and whether that one is held exclusive ($n+2). A writer that
# did not get that far has them released when its connection goes back to the pool
# (`connect.release_locks`).
HAND_OVER = "promwire_hand_over(${n}::bigint[], ${n1}::bigint, ${n2}::boolean)"

# --- writes --------------------------------------------------------------------------------
# The rows of the (cluster, fingerprint) pairs $1[i], $2[i]: one primary-key probe per pair
# (LATERAL ... LIMIT 1, which the planner cannot flatten into a join), whatever the table's
# size. A plain join or `IN (SELECT * FROM unnest(...))` is
# planned from the table's statistics: a connection that prepares it while the table is small
# keeps a hash join over a sequential scan as the table grows (3 ms a batch at 2,000 alerts,
# most of PostgreSQL's CPU under ingest).
ALERT_ROWS = ("SELECT a.cluster, a.fingerprint, a.status, a.starts_ms, a.seen_ms, a.body, "
              "a.updated_ms FROM unnest($1::text[], $2::text[]) AS k(cluster, fingerprint) "
              "CROSS JOIN LATERAL (SELECT * FROM alerts WHERE cluster = k.cluster AND "
              "fingerprint = k.fingerprint LIMIT 1) AS a")
# Which of the alerts ($1 clusters, $2 fingerprints) the log holds as resolved (probed so too).
RESOLVED_OF = ("SELECT a.cluster, a.fingerprint, a.body FROM unnest($1::text[], $2::text[]) "
               "AS k(cluster, fingerprint) CROSS JOIN LATERAL (SELECT cluster, fingerprint, body "
               "FROM alerts WHERE cluster = k.cluster AND fingerprint = k.fingerprint AND "
               "status = 'resolved' LIMIT 1) AS a")
# The firing alerts of the clusters in $1 (those being reconciled).
FIRING_ROWS = ("SELECT cluster, fingerprint, status, starts_ms, seen_ms, body, updated_ms "
               "FROM alerts WHERE status = 'firing' AND cluster = ANY($1::text[])")
# The alert rows a write stores (its SELECT in between): a new alert inserted, a known one
# replaced, in the three statements that write alerts.
_ALERTS_INTO = ("INSERT INTO alerts (cluster, fingerprint, status, starts_ms, seen_ms, body, "
                "updated_ms)")
_ALERTS_UPSERT = ("ON CONFLICT (cluster, fingerprint) DO UPDATE SET status = EXCLUDED.status, "
                  "starts_ms = EXCLUDED.starts_ms, seen_ms = EXCLUDED.seen_ms, "
                  "body = EXCLUDED.body, updated_ms = EXCLUDED.updated_ms")
# A batch's append, one statement in its own (implicit) transaction: the head row is locked from
# its UPDATE to the commit, with no round trip to the bridge in between. Seqs are allocated there
# ($1: the events' fingerprints, in order, $12 their clusters; each frame is $11 || seq || its tail
# $4), the events and the changed alerts ($5-$10 of clusters $13) written, and the notification
# sent (with the frames, so that other replicas publish them without reading them back), and the
# writer's locks handed over to the transaction ($14-$16; `released`: every one of them was the
# session's to release). No row back: the epoch is no longer $3 (a reset since the writer read it;
# the locks are then still the session's).
WRITE = """
WITH head AS (
    UPDATE log_head SET seq = seq + cardinality($1::text[]) WHERE id AND epoch = $3
    RETURNING seq - cardinality($1::text[]) AS base
), new_events AS (
    INSERT INTO events (seq, ts_ms, cluster, fingerprint, frame)
    SELECT head.base + e.n, $2::bigint, e.cluster, e.fingerprint,
           $11::text || (head.base + e.n) || e.tail
    FROM head, unnest($1::text[], $4::text[], $12::text[])
        WITH ORDINALITY AS e(fingerprint, tail, cluster, n)
    RETURNING seq, frame
), changed AS (
    """ + _ALERTS_INTO + """
    SELECT a.* FROM head, unnest($13::text[], $5::text[], $6::text[], $7::bigint[],
                                 $8::bigint[], $9::text[], $10::bigint[])
        AS a(cluster, fingerprint, status, starts_ms, seen_ms, body, updated_ms)
    """ + _ALERTS_UPSERT + """
)
SELECT base, pg_notify('""" + CHANNEL + """', coalesce(
    (SELECT string_agg(frame, E'\\n' ORDER BY seq) FROM new_events
     HAVING sum(octet_length(frame) + 1) <= """ + str(NOTIFY_FRAMES_MAX) + """),
    (base + cardinality($1::text[]))::text)),
    """ + HAND_OVER.format(n=14, n1=15, n2=16) + """ AS released FROM head"""
# Events with seqs chosen under the head lock (LOCK_HEAD, in a transaction that holds
# WRITERS_LOCK: backfill): its events ($1-$5), its changed alerts ($6-$12), the head ($13, the
# last seq) and the notification (only when it added events).
APPEND_LOCKED = """
WITH new_events AS (
    INSERT INTO events (seq, ts_ms, cluster, fingerprint, frame)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])
), changed AS (
    """ + _ALERTS_INTO + """
    SELECT * FROM unnest($6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[],
                         $11::text[], $12::bigint[])
    """ + _ALERTS_UPSERT + """
), head AS (
    UPDATE log_head SET seq = $13 WHERE id AND seq < $13
)
SELECT pg_notify('""" + CHANNEL + """', $13::text) WHERE cardinality($1::bigint[]) > 0"""
# Alerts seen again without an event ($1-$6 of clusters $7): no seq, so the head is not touched;
# the locks are handed over ($8-$10).
WRITE_SEEN = """
WITH changed AS (
    """ + _ALERTS_INTO + """
    SELECT * FROM unnest($7::text[], $1::text[], $2::text[], $3::bigint[], $4::bigint[],
                         $5::text[], $6::bigint[])
    """ + _ALERTS_UPSERT + """
)
SELECT """ + HAND_OVER.format(n=8, n1=9, n2=10) + " AS released"
CLEAR_EVENTS = "DELETE FROM events"
CLEAR_ALERTS = "DELETE FROM alerts"

# --- retention -----------------------------------------------------------------------------
AGED_UNTIL = "SELECT max(seq) FROM events WHERE ts_ms < $1"
FIRST_SEQ = "SELECT min(seq) FROM events"
DELETE_EVENTS_UPTO = "DELETE FROM events WHERE seq <= $1"
DELETE_OLD_RESOLVED = "DELETE FROM alerts WHERE status = 'resolved' AND updated_ms < $1"

# --- reads ---------------------------------------------------------------------------------
OPEN_FIRING = ("SELECT body FROM alerts WHERE status = 'firing' "
               "ORDER BY starts_ms, cluster, fingerprint")
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
# Silence events (their frames begin with SILENCE_FRAME_HEAD) are on every page; `where` narrows
# the alert events. The head's braces are doubled for str.format.
HISTORY_ROWS = ("SELECT seq, frame FROM events WHERE seq > $1 AND seq <= $2 AND (frame LIKE '"
                + SILENCE_FRAME_HEAD.replace("{", "{{") + "%' OR (true{where})) ORDER BY seq")
# An `=`/`!=` matcher on the stored frame ($n: the label's JSON path, $n+1: the value). jsonb
# refuses \u0000, so a frame holding that escape passes to the Python check uncast (CASE, not
# OR: only CASE fixes the order of evaluation).
LABEL_CLAUSE = ("CASE WHEN strpos(frame, '\\u0000') > 0 THEN true "
                "ELSE coalesce(frame::jsonb #>> ${path}::text[], '') {op} ${value} END")

# History filters (`bridge.alerts.query`): the windows counting rows stored at or after $3
# (ms), an event kind among $n, the alert's cluster (the events' column).
WINDOW_AT_FROM = ("SELECT seq FROM events WHERE seq > $1 AND seq <= $2 AND ts_ms >= $3 "
                  "ORDER BY seq OFFSET $4 LIMIT 1")
WINDOW_LAST_FROM = "SELECT max(seq) FROM events WHERE seq > $1 AND seq <= $2 AND ts_ms >= $3"
STORED_FROM_CLAUSE = "ts_ms >= ${n}"
# An event kind among $n (LIKE patterns `%"event":"KIND"%`): text, no JSON; it only narrows
# (a label could hold the same text), the exact test runs in Python.
KIND_CLAUSE = "frame LIKE ANY(${n}::text[])"
CLUSTER_CLAUSE = "cluster = ${value}"

# One alert's timeline by the (fingerprint, seq) index ($1): its clusters, its events after $2,
# at most $3, in one cluster ($4).
TIMELINE_CLUSTERS = "SELECT DISTINCT cluster FROM events WHERE fingerprint = $1"
TIMELINE_ROWS = ("SELECT seq, frame FROM events WHERE fingerprint = $1 AND seq > $2 "
                 "ORDER BY seq LIMIT $3")
TIMELINE_CLUSTER_ROWS = ("SELECT seq, frame FROM events WHERE fingerprint = $1 AND seq > $2 "
                         "AND cluster = $4 ORDER BY seq LIMIT $3")

# Backfill (`bridge.alerts.pg.backfill`): every frame of these fingerprints ($1) in cluster $2,
# the oldest kept event (seq, ts_ms).
FRAMES_OF = "SELECT frame FROM events WHERE fingerprint = ANY($1::text[]) AND cluster = $2"
FIRST_EVENT = "SELECT seq, ts_ms FROM events ORDER BY seq LIMIT 1"

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
    INSERT INTO events (seq, ts_ms, cluster, fingerprint, frame)
    SELECT s, $3::bigint, $9::text, '', f FROM unnest($1::bigint[], $2::text[]) AS e(s, f)
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
