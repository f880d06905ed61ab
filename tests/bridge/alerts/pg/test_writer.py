"""The writer's locks (bridge/alerts/pg/writer.py): held from the batch's read to its append's
commit, and ended by that commit with no round trip of their own."""

from __future__ import annotations

import asyncio

import asyncpg

from bridge.alerts.model import now_ms
from bridge.alerts.pg import connect, sql
from bridge.alerts.pg.writer import Locks, Plan, append, lock_keys
from bridge.config import AlertsConfig
from tests.bridge.alerts.helpers import notice

HELD = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1"


async def _waits_for_a_lock(observer: asyncpg.Connection, pid: int) -> None:
    for _ in range(200):
        if await observer.fetchval("SELECT wait_event_type = 'Lock' FROM pg_stat_activity "
                                   "WHERE pid = $1", pid):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the second writer never waited for the lock")


async def test_a_writers_locks_end_with_its_appends_commit_not_before(fleet, pg_url):
    """While the append has not committed, a writer of the same alert still waits; it then
    reads the committed row, and the first writer's session holds no lock, unlocked by
    nobody (the append handed its session locks over to its transaction)."""
    (store,) = await fleet(1)
    n = notice("HandedOver")
    locks = Locks(lock_keys({n.key}), exclusive=False)
    read_args = (locks.keys, sql.WRITERS_LOCK, [n.key[0]], [n.key[1]])
    writer, waiter, observer = [await asyncpg.connect(pg_url, command_timeout=20)
                                for _ in range(3)]
    try:
        assert await writer.fetch(sql.LOCK_AND_READ, *read_args) == []
        plan = Plan({}, store.epoch, now_ms())
        plan.record([n], None)
        transaction = writer.transaction()
        await transaction.start()
        base = await append(writer, plan, locks)
        read = asyncio.create_task(waiter.fetch(sql.LOCK_AND_READ, *read_args))
        await _waits_for_a_lock(observer, waiter.get_server_pid())
        # Held still (pg_locks does not say whether by the session or the transaction; the
        # waiter's wait above and the count after the commit do).
        assert await observer.fetchval(HELD, writer.get_server_pid()) == len(locks.keys)
        await transaction.commit()
        rows = await asyncio.wait_for(read, 10)
        assert [(r["fingerprint"], r["status"]) for r in rows] == [(n.key[1], "firing")]
        assert await observer.fetchval(HELD, writer.get_server_pid()) == 0
        assert base == 0 and plan.events(base)[0].seq == 1
    finally:
        for conn in (writer, waiter, observer):
            await conn.close()


async def test_a_batch_seen_again_ends_its_locks_with_its_commit(fleet, pg_url):
    """An append with no event (alerts seen again: `WRITE_SEEN`) hands its locks over too."""
    (store,) = await fleet(1)
    await store.record([notice("Seen")])
    n = notice("Seen")
    locks = Locks(lock_keys({n.key}), exclusive=False)
    writer, observer = [await asyncpg.connect(pg_url, command_timeout=20) for _ in range(2)]
    try:
        rows = await writer.fetch(sql.LOCK_AND_READ, locks.keys, sql.WRITERS_LOCK,
                                  [n.key[0]], [n.key[1]])
        (row,) = rows
        plan = Plan({n.key: (row[2], row[3], row[4], row[5], row[6])}, store.epoch,
                    now_ms() + 1000)
        assert plan.record([n], None) == (0, 0) and plan.dirty == {n.key}
        assert await observer.fetchval(HELD, writer.get_server_pid()) == len(locks.keys)
        assert await append(writer, plan, locks) == 0
        assert await observer.fetchval(HELD, writer.get_server_pid()) == 0
    finally:
        for conn in (writer, observer):
            await conn.close()


async def test_a_reconciliations_exclusive_lock_is_handed_over_too(fleet, pg_url):
    (store,) = await fleet(1)
    await store.record([notice("Reconciled")])
    n = notice("Reconciled")
    locks = Locks([sql.WRITERS_LOCK], exclusive=True)  # what a reconciliation holds
    writer, observer = [await asyncpg.connect(pg_url, command_timeout=20) for _ in range(2)]
    try:
        await writer.execute(sql.LOCK_WRITERS, sql.WRITERS_LOCK)
        (row,) = await writer.fetch(sql.ALERT_ROWS, [n.key[0]], [n.key[1]])
        plan = Plan({n.key: (row[2], row[3], row[4], row[5], row[6])}, store.epoch,
                    now_ms() + 1000)
        plan.record([notice("Reconciled", status="resolved")], None)
        assert await append(writer, plan, locks) > 0
        assert await observer.fetchval(HELD, writer.get_server_pid()) == 0
    finally:
        for conn in (writer, observer):
            await conn.close()


async def test_a_lock_the_append_could_not_hand_over_is_released_by_the_pool(fleet, pg_url):
    """Locks that disagree with what the session holds (WRITERS_LOCK exclusive, said shared):
    the append reports it, and the connection's return to the pool still releases it."""
    (store,) = await fleet(1)
    pool = await connect.create_pool(AlertsConfig(store="postgres", database_url=pg_url))
    observer = await asyncpg.connect(pg_url, command_timeout=20)
    try:
        conn = await pool.acquire()
        pid = conn.get_server_pid()
        connect.will_lock(conn)
        await conn.execute(sql.LOCK_WRITERS, sql.WRITERS_LOCK)
        plan = Plan({}, store.epoch, now_ms())
        plan.record([notice("Mismatched")], None)
        assert await append(conn, plan, Locks([sql.WRITERS_LOCK], exclusive=False)) == 0
        assert await observer.fetchval(HELD, pid) == 1  # not the session's shared hold to end
        await pool.release(conn)
        assert await observer.fetchval(HELD, pid) == 0
    finally:
        await observer.close()
        await pool.close()


async def test_a_replicas_batches_leave_no_lock_and_need_no_unlock(fleet, pg_url, monkeypatch):
    """Through the store: new alerts, alerts seen again, resolutions and a reconciliation; the
    pool's connections hold no advisory lock after them, and none needed the unlock on its
    return (the appends ended them)."""
    unlocks: list[int] = []
    release = connect.release_locks

    async def counting(conn: asyncpg.Connection) -> None:
        if conn.get_server_pid() in connect._LOCKING:
            unlocks.append(conn.get_server_pid())
        await release(conn)
    monkeypatch.setattr(connect, "release_locks", counting)  # before the pool is made
    (store,) = await fleet(1)
    unlocks.clear()  # the migrations' connection (its own unlock is checked on its return)
    names = [f"Batch{i}" for i in range(20)]
    await asyncio.gather(*(store.record([notice(n)]) for n in names))
    await asyncio.gather(*(store.record([notice(n)]) for n in names[::2]))  # seen again
    await store.record([notice(n, status="resolved") for n in names[:5]])
    reconciled = await store.reconcile([notice(n) for n in names[5:15]], now_ms())
    assert {e.alert["labels"]["alertname"] for e in reconciled.events} == set(names[15:])
    observer = await asyncpg.connect(pg_url, command_timeout=20)
    try:
        held = await observer.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE "
            "l.locktype = 'advisory' AND a.application_name = 'promwire-bridge'")
    finally:
        await observer.close()
    assert held == 0 and unlocks == []
