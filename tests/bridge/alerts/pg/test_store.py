"""The PostgreSQL store as several replicas see it: stores in one process sharing one database
(the `fleet` fixture) behave as bridges on several machines do."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from bridge.alerts.model import Notice, fingerprint, now_ms
from bridge.alerts.pg import sql
from bridge.alerts.pg.store import PgAlertStore
from bridge.alerts.pg.writer import lock_keys
from bridge.config import AlertsConfig
from tests.bridge.alerts.helpers import notice, until


def watch(store: PgAlertStore) -> list[tuple[str, int, str]]:
    seen: list[tuple[str, int, str]] = []
    store.on_commit(lambda events: seen.extend((e.epoch, e.seq, e.text) for e in events))
    return seen


def unique(name: str, i: int) -> Notice:
    return notice(f"{name}{i}")


async def test_migrations_run_once_when_replicas_open_at_once(fleet, pg_url):
    a, b, c = await fleet(3)
    assert a.epoch and a.epoch == b.epoch == c.epoch
    conn = await asyncpg.connect(pg_url)
    try:
        assert [tuple(r) for r in await conn.fetch(
            "SELECT version, name FROM schema_migrations ORDER BY version")] == [
            (1, "event log"), (2, "clusters"), (3, "events by fingerprint"), (4, "silences"),
            (5, "writers lock and read in one call"),
            (6, "writers hand their locks over to the append")]
    finally:
        await conn.close()
    (d,) = await fleet(1)  # a later start applies nothing and finds the same log
    assert d.epoch == a.epoch


async def test_every_replica_publishes_every_event_once_in_order(fleet):
    a, b, c = await fleet(3)
    seen = [watch(s) for s in (a, b, c)]
    writes = [s.record([unique(f"W{k}-", i)]) for i in range(40) for k, s in enumerate((a, b))]
    results = await asyncio.gather(*writes)
    total = sum(len(r) for r in results)
    assert total == 80
    await until(lambda: all(len(s) == total for s in seen))
    assert seen[0] == seen[1] == seen[2]
    assert [seq for _, seq, _ in seen[0]] == list(range(1, total + 1))
    assert {epoch for epoch, _, _ in seen[0]} == {a.epoch}
    # What a replica publishes is the stored frame, byte for byte.
    stored = await c.events_after(0, 1000)
    assert [(seq, text) for _, seq, text in seen[2]] == stored


async def test_the_same_notification_on_two_replicas_at_once_is_one_event(fleet):
    a, b = await fleet(2)
    for i in range(20):
        same = unique("Twin", i)
        first, second = await asyncio.gather(a.record([same]), b.record([same]))
        assert len(first) + len(second) == 1
        resolved = notice(f"Twin{i}", status="resolved")
        first, second = await asyncio.gather(b.record([resolved]), a.record([resolved]))
        assert len(first) + len(second) == 1
    assert await a.bounds() == (1, 40)


async def test_overlapping_writers_in_opposite_orders_and_a_reconcile_store_each_alert_once(
        fleet):
    """Writers lock each alert before deciding on it and the head only to append: batches on
    three replicas naming the same alerts in opposite orders, one of them a reconciliation,
    neither deadlock nor store an alert twice; the frames a writer publishes itself, and those
    another replica publishes from a NOTIFY or from the log, are the stored ones, byte for byte
    (the seq is spliced in by SQL there)."""
    a, b, c = await fleet(3)
    published, elsewhere = watch(a), watch(c)
    notices = [unique("Over", i) for i in range(30)]
    for _ in range(3):
        await asyncio.gather(a.record(notices), b.record(notices[::-1]),
                             c.reconcile(notices[10:] + notices[:10], now_ms()),
                             *(a.record([n]) for n in notices[::7]))
    first, last = await a.bounds()
    assert (first, last) == (1, 30)
    stored = await b.events_after(0, 100)
    assert sorted(json.loads(text)["alert"]["labels"]["alertname"] for _, text in stored) \
        == sorted(n.labels["alertname"] for n in notices)
    await until(lambda: len(published) == len(elsewhere) == 30)
    assert [text for _, _, text in published] == [text for _, text in stored]
    assert [text for _, _, text in elsewhere] == [text for _, text in stored]
    # Commits small enough carry their frames in the NOTIFY, larger ones only their seq: a
    # replica publishes both, in order.
    await a.record([unique("Small", 0)])
    await b.record([unique("Large", i) for i in range(40)])
    await until(lambda: len(elsewhere) == 71)
    assert [seq for _, seq, _ in elsewhere] == list(range(1, 72))
    assert [text for _, _, text in elsewhere] == [text for _, text in await b.events_after(0, 100)]


async def test_readers_never_see_a_gap_or_a_late_seq(fleet, pg_url):
    """Concurrent writers on three replicas; a reader polling `seq > last` sees every run
    start right after `last`, with no hole, never a seq below one it already read."""
    writers = await fleet(3)
    (reader,) = await fleet(1)
    done = asyncio.Event()
    reads: list[list[int]] = []

    async def read() -> None:
        last = 0
        while not done.is_set() or last < (await reader.bounds())[1]:
            seqs = [seq for seq, _ in await reader.events_after(last, 10_000)]
            if seqs:
                reads.append(seqs)
                assert seqs == list(range(last + 1, last + 1 + len(seqs))), (last, seqs[:5])
                last = seqs[-1]
    async def write(k: int, store: PgAlertStore) -> None:
        for batch in range(15):
            await asyncio.gather(*(store.record([unique(f"G{k}-{batch}-", i)])
                                   for i in range(8)))
    reader_task = asyncio.create_task(read())
    await asyncio.gather(*(write(k, s) for k, s in enumerate(writers)))
    done.set()
    await reader_task
    assert sum(len(r) for r in reads) == 3 * 15 * 8 and len(reads) > 1


async def test_a_reset_on_one_replica_reaches_every_replica(fleet):
    a, b = await fleet(2)
    resets: list[str] = []
    b.on_reset(resets.append)
    seen = watch(b)
    await a.record([notice("Before")])
    await until(lambda: len(seen) == 1)
    new = await a.reset()
    await until(lambda: resets == [new])
    assert b.epoch == new
    (event,) = await a.record([notice("Before")])
    assert event.epoch == new and event.seq == 2 and event.kind == "firing"  # seq not reused
    await until(lambda: len(seen) == 2)
    assert seen[-1][:2] == (new, 2)


async def test_one_leader_at_a_time_and_a_successor_when_it_goes(fleet):
    stores = await fleet(3)
    changes: list[tuple[str, bool]] = []
    for s in stores:
        s.on_leader(lambda leading, s=s: changes.append((s.replica, leading)))
    await until(lambda: sum(s.leader for s in stores) == 1)
    first = next(s for s in stores if s.leader)
    await until(lambda: all(s.status()["leader_replica"] == first.replica for s in stores))
    await first.close()  # its session ends: the lock is free
    rest = [s for s in stores if s is not first]
    await until(lambda: sum(s.leader for s in rest) == 1)
    second = next(s for s in rest if s.leader)
    await until(lambda: second.status()["leader_replica"] == second.replica)
    assert (first.replica, False) in changes and (second.replica, True) in changes


async def test_history_filters_as_the_sqlite_store_does(fleet, tmp_path):
    from bridge.alerts.matchers import parse_matcher
    from bridge.alerts.store import AlertStore

    (pg,) = await fleet(1)
    lite = AlertStore(tmp_path, AlertsConfig())
    await lite.open()
    try:
        values = ["", "a", "b", "a\x00", "é", 'q"', "\\u0000"]
        notices = []
        for i in range(120):
            labels = {"alertname": f"A{i % 5}"}
            if i % 4:
                labels["team"] = values[i % len(values)]
            notices.append(Notice(fingerprint(labels) + str(i), "firing", labels, {},
                                  1_700_000_000_000 + i, None, "", "alertmanager"))
        for start in range(0, 120, 30):
            await pg.record(notices[start:start + 30])
            await lite.record(notices[start:start + 30])
        for text in ('team="a"', 'team!="a"', 'team=""', 'team="a\\u0000"', 'team=~"a.*"',
                     'team="é"', 'team="q\\""', 'absent=""'):
            matchers = (parse_matcher(text),)
            for since, limit in ((0, 1000), (0, 3), (37, 5), (115, 10)):
                ours = await pg.history(since, 120, limit, matchers)
                theirs = await lite.history(since, 120, limit, matchers)
                assert [json.loads(f)["seq"] for f in ours.frames] == \
                    [json.loads(f)["seq"] for f in theirs.frames], (text, since, limit)
                assert (ours.cut, ours.scanned) == (theirs.cut, theirs.scanned)
    finally:
        await lite.close()


async def test_a_version_1_database_is_migrated_to_clusters_with_its_log(pg_url):
    """A database a bridge from before clusters wrote: alerts and frames without `cluster`."""
    from bridge.alerts.pg import sql

    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(sql.SCHEMA_MIGRATIONS)
        version, name, statements = sql.MIGRATIONS[0]
        await conn.execute(statements)
        await conn.execute(sql.MARK_APPLIED, version, name)
        n = notice("Old")
        alert = n.alert(n.starts_ms, 1000)
        for key in ("cluster", "state", "silencedBy", "inhibitedBy"):
            del alert[key]
        body = json.dumps(alert, separators=(",", ":"))
        await conn.execute("INSERT INTO log_head (seq, epoch) VALUES (1, 'OLD')")
        await conn.execute("INSERT INTO alerts VALUES ($1, 'firing', $2, 1000, 1000, $3)",
                           n.fingerprint, n.starts_ms, body)
        await conn.execute("INSERT INTO events VALUES (1, 1000, $1, $2)", n.fingerprint,
                           '{"type":"alert","seq":1,"alert":' + body + "}")
    finally:
        await conn.close()
    store = PgAlertStore(AlertsConfig(store="postgres", database_url=pg_url), "m")
    opened = await store.open()
    try:
        assert (opened.epoch, opened.last_seq) == ("OLD", 1)
        (alert,) = opened.firing
        assert (alert["cluster"], alert["state"], alert["silencedBy"]) == ("default", "active", [])
        ((_, frame),) = await store.events_after(0, 10)
        assert json.loads(frame)["alert"]["cluster"] == "default"
        (event,) = await store.record([notice("Old", status="resolved")])
        assert (event.seq, event.kind, event.key[0]) == (2, "resolved", "default")
        (other,) = await store.record([notice("Old", cluster="b")])
        assert (other.kind, other.key[0]) == ("firing", "b")
    finally:
        await store.close()


async def test_the_writers_alert_lookups_probe_the_key_even_planned_on_an_empty_table(
        fleet, pg_url):
    """A pooled connection keeps the generic plan it made first, often while `alerts` is still
    empty: the lookups must probe the primary key whatever the table's statistics, or every
    batch scans the whole table as it grows."""
    await fleet(1)  # migrated, `alerts` empty
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        for i, query in enumerate((sql.ALERT_ROWS, sql.RESOLVED_OF)):
            await conn.execute(f"PREPARE lookup{i}(text[], text[]) AS {query}")
            plan = "\n".join(r[0] for r in await conn.fetch(
                f"EXPLAIN EXECUTE lookup{i}('{{default}}', '{{abc}}')"))
            assert "Index Scan using alerts_pkey" in plan and "Seq Scan" not in plan, plan
    finally:
        await conn.close()


async def test_a_writer_that_waited_for_the_locks_reads_what_their_holder_committed(
        fleet, pg_url):
    """The writers' lock-and-read is one statement: its read must see the rows committed by
    the writer it waited for (a read from the statement's own snapshot, taken before the
    wait, would not, and the same alert would be judged new twice)."""
    await fleet(1)
    key = ("default", fingerprint({"alertname": "Waited"}))
    locks = lock_keys({key})
    # A bounded wait on each: a lock that is never granted fails the test, never hangs it.
    holder, waiter, observer = [await asyncpg.connect(pg_url, command_timeout=20)
                                for _ in range(3)]
    try:
        args = (locks, sql.WRITERS_LOCK, [key[0]], [key[1]])
        assert await holder.fetch(sql.LOCK_AND_READ, *args) == []
        read = asyncio.create_task(waiter.fetch(sql.LOCK_AND_READ, *args))
        pid = waiter.get_server_pid()
        for _ in range(200):  # until the waiter waits for the holder's lock
            if await observer.fetchval("SELECT wait_event_type = 'Lock' FROM pg_stat_activity "
                                       "WHERE pid = $1", pid):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the second writer never waited for the lock")
        await holder.execute(
            "INSERT INTO alerts (cluster, fingerprint, status, starts_ms, seen_ms, body, "
            "updated_ms) VALUES ($1, $2, 'firing', 1, 1, '{}', 1)", *key)
        await holder.execute("SELECT pg_advisory_unlock_all()")
        rows = await asyncio.wait_for(read, 10)
        assert [(r["cluster"], r["fingerprint"], r["status"]) for r in rows] == [(*key, "firing")]
    finally:
        for conn in (holder, waiter, observer):
            await conn.close()
