"""The alert stores: event decisions, seq/epoch, durability, retention, storage errors.

What both backends promise runs against each (`alert_store`: SQLite and PostgreSQL); what only
the embedded file does (corruption, locks, disk full, WAL) runs on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from bridge.alerts.model import Suppression, now_ms
from bridge.alerts.store import AlertStore
from bridge.config import AlertsConfig
from bridge.errors import StorageUnavailable
from tests.bridge.alerts.helpers import make_store, notice, silenced


@pytest.fixture
def new_store(alert_store, tmp_path):
    """A factory of unopened stores of the test's backend on one log (a file, or a database)."""
    def make(**alerts):
        return make_store(tmp_path, {**alert_store, "busy_timeout": 0.2, **alerts})
    return make


@pytest.fixture
async def store(new_store):
    s = new_store()
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def sqlite_store(tmp_path):
    s = AlertStore(tmp_path, AlertsConfig(busy_timeout=0.2))
    await s.open()
    yield s
    await s.close()


def kinds(events):
    return [(e.kind, e.alert["status"]) for e in events]


async def test_first_firing_then_duplicates_add_nothing(store):
    events = await store.record([notice()])
    assert kinds(events) == [("firing", "firing")] and events[0].seq == 1
    # group_interval re-sends and the HA twin: same fingerprint, status and startsAt.
    assert await store.record([notice()]) == []
    assert await store.record([notice(), notice()]) == []
    assert (await store.bounds()) == (1, 1)


async def test_lifecycle_resolved_refired_updated(store):
    await store.record([notice()])
    assert kinds(await store.record([notice(status="resolved")])) == [("resolved", "resolved")]
    assert await store.record([notice(status="resolved")]) == []
    refired = await store.record([notice(starts="2026-01-01T02:00:00Z")])
    assert kinds(refired) == [("refired", "firing")]
    updated = await store.record([notice(starts="2026-01-01T02:00:00Z",
                                         annotations={"summary": "changed"})])
    assert kinds(updated) == [("updated", "firing")]
    assert updated[0].alert["annotations"] == {"summary": "changed"}
    assert [e.seq for e in (*refired, *updated)] == [3, 4]


async def test_firing_with_a_newer_starts_at_is_a_refire_and_stale_notices_are_ignored(store):
    await store.record([notice(starts="2026-01-01T01:00:00Z")])
    assert await store.record([notice(status="resolved", starts="2026-01-01T00:00:00Z")]) == []
    assert kinds(await store.record([notice(starts="2026-01-01T03:00:00Z")])) == [
        ("refired", "firing")]


async def test_event_frames_have_the_documented_shape(store):
    (event,) = await store.record([notice(severity="critical")])
    frame = json.loads(event.text)
    assert list(frame) == ["type", "seq", "epoch", "event", "status", "timestamp", "alert"]
    assert frame["type"] == "alert" and frame["epoch"] == store.epoch and frame["seq"] == 1
    alert = frame["alert"]
    assert set(alert) == {"fingerprint", "status", "labels", "annotations", "startsAt", "endsAt",
                          "generatorURL", "source", "updatedAt", "cluster", "state", "silencedBy",
                          "inhibitedBy"}
    assert (alert["cluster"], alert["state"], alert["silencedBy"], alert["inhibitedBy"]) == (
        "default", "active", [], [])
    assert alert["startsAt"] == "2026-01-01T00:00:00Z" and alert["endsAt"] is None
    assert alert["source"] == "alertmanager" and alert["labels"]["severity"] == "critical"
    (resolved,) = await store.record([notice(severity="critical", status="resolved")])
    assert json.loads(resolved.text)["alert"]["endsAt"] is not None


async def test_state_survives_reopen_with_the_same_epoch(new_store):
    first = new_store()
    opened = await first.open()
    await first.record([notice("A"), notice("B")])
    await first.record([notice("A", status="resolved")])
    await first.close()
    again = new_store()
    reopened = await again.open()
    try:
        assert reopened.epoch == opened.epoch and reopened.last_seq == 3
        assert [a["labels"]["alertname"] for a in reopened.firing] == ["B"]
        assert [seq for seq, _ in await again.events_after(0, 10)] == [1, 2, 3]
        (event,) = await again.record([notice("C")])
        assert event.seq == 4
    finally:
        await again.close()


async def test_concurrent_writes_get_distinct_gapless_seqs_in_commit_order(store):
    published = []
    store.on_commit(published.extend)
    results = await asyncio.gather(*(store.record([notice(f"A{i}")]) for i in range(200)))
    seqs = sorted(e.seq for events in results for e in events)
    assert seqs == list(range(1, 201))
    assert [e.seq for e in published] == seqs  # published once each, in seq order


async def test_reset_starts_a_new_epoch_and_empties_the_log(store):
    resets = []
    store.on_reset(resets.append)
    old = store.epoch
    await store.record([notice()])
    new = await store.reset()
    assert new != old and resets == [new] and store.epoch == new
    assert await store.events_after(0, 10) == []
    (event,) = await store.record([notice()])
    assert event.epoch == new and event.kind == "firing"


async def test_a_corrupt_file_is_set_aside_with_a_new_epoch(tmp_path):
    (tmp_path / "alerts.db").write_bytes(b"this is not a database" * 100)
    s = AlertStore(tmp_path, AlertsConfig())
    opened = await s.open()
    try:
        assert opened.epoch and opened.last_seq == 0
        assert list(tmp_path.glob("alerts.db.corrupt-*"))
    finally:
        await s.close()


async def test_retention_by_rows_and_age(new_store):
    s = new_store(retention_rows=5, retention_days=1)
    await s.open()
    try:
        for i in range(12):
            await s.record([notice(f"A{i}")])
        assert await s.prune() == 7
        assert await s.bounds() == (8, 12)
        # Two days later every event is past a one-day retention.
        assert await s.prune(now_ms() + 2 * 86_400_000) == 5
        assert await s.bounds() == (None, 12)
        (event,) = await s.record([notice("new")])
        assert event.seq == 13  # never reused
    finally:
        await s.close()


def names(events):
    return {(e.alert["labels"]["alertname"], e.kind, e.source) for e in events}


async def test_reconcile_adds_missing_and_resolves_gone_but_leaves_manual_alerts(store):
    await store.record([notice("Gone"), notice("Stays")])
    await store.record([notice("Manual", source="manual")])
    result = await store.reconcile([notice("Stays", source="reconcile"),
                                    notice("New", source="reconcile")], now_ms() + 1)
    assert names(result.events) == {("New", "firing", "reconcile"),
                                    ("Gone", "resolved", "reconcile")}
    assert result.held == {}
    again = await store.reconcile([notice("Stays", source="reconcile"),
                                   notice("New", source="reconcile")], now_ms() + 1)
    assert again.events == [] and again.held == {}


async def test_reconcile_holds_missing_alerts_its_policy_refuses(store):
    (gone, _) = await store.record([notice("Gone"), notice("Stays")])
    fp = gone.alert["fingerprint"]
    asked = []

    def refuse(fingerprint, seen_ms):
        asked.append((fingerprint, seen_ms))
        return False
    present = [notice("Stays", source="reconcile")]
    result = await store.reconcile(present, now_ms() + 1, refuse)
    assert result.events == [] and [f for f, _ in asked] == [fp]
    assert result.held == {fp: asked[0][1]} and asked[0][1] > 0  # with its seen_ms
    # It is still firing: a policy that allows it resolves it now.
    result = await store.reconcile(present, now_ms() + 1)
    assert names(result.events) == {("Gone", "resolved", "reconcile")} and result.held == {}


async def test_reconcile_does_not_undo_a_webhook_newer_than_its_fetch(store):
    await store.record([notice("Old")])
    fetched = now_ms()
    await asyncio.sleep(0.01)
    await store.record([notice("Late"), notice("Old", status="resolved")])
    # Alertmanager's answer (fetched before those webhooks) knew neither change.
    result = await store.reconcile([notice("Old", source="reconcile")], fetched)
    assert result.events == [] and result.held == {}


async def test_locked_database_is_storage_unavailable_and_loses_nothing(sqlite_store, tmp_path):
    store = sqlite_store
    blocker = sqlite3.connect(tmp_path / "alerts.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageUnavailable, match="locked"):
            await store.record([notice()])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    (event,) = await store.record([notice()])  # the retry (as Alertmanager does) is stored
    assert event.seq == 1


async def test_disk_full_is_storage_unavailable(sqlite_store):
    store = sqlite_store
    def fill(conn):
        conn.execute("PRAGMA max_page_count = " + str(
            conn.execute("PRAGMA page_count").fetchone()[0]))
    await store.db.write(fill)
    big = {"summary": "x" * 200_000}
    with pytest.raises(StorageUnavailable, match="full"):
        await store.record([notice(annotations=big)])
    assert await store.bounds() == (None, 0)


@pytest.mark.parametrize(("sync", "level"), [("FULL", 2), ("NORMAL", 1), ("extra", 3)])
async def test_writes_commit_in_wal_with_the_configured_synchronous(tmp_path, sync, level):
    """What "a 2xx only after the notification is durably stored" rests on: the writer's
    COMMIT goes to a write-ahead log, synced as `alerts.sync` says."""
    s = AlertStore(tmp_path, AlertsConfig(sync=sync))
    await s.open()
    try:
        mode, synchronous = await s.db.write(lambda conn: (
            conn.execute("PRAGMA journal_mode").fetchone()[0],
            conn.execute("PRAGMA synchronous").fetchone()[0]))
    finally:
        await s.close()
    assert (mode, synchronous) == ("wal", level)


async def test_the_same_labels_in_two_clusters_are_two_alerts(store):
    (a,) = await store.record([notice(cluster="a")])
    (b,) = await store.record([notice(cluster="b")])
    assert (a.key, b.key) == (("a", a.alert["fingerprint"]), ("b", a.alert["fingerprint"]))
    assert json.loads(b.text)["alert"]["cluster"] == "b"
    # Reconciling cluster a (which no longer has it) resolves a's, never b's.
    result = await store.reconcile([], now_ms() + 1, cluster="a")
    assert [(e.kind, e.key[0]) for e in result.events] == [("resolved", "a")]
    assert (await store.reconcile([], now_ms() + 1, cluster="a")).events == []
    (again,) = await store.record([notice(cluster="b", status="resolved")])
    assert again.key[0] == "b"


async def test_suppression_from_reconciliation_is_an_event_webhooks_keep_it(store):
    await store.record([notice()])
    hushed = notice(source="reconcile", suppression=silenced("s1"))
    (event,) = (await store.reconcile([hushed], now_ms() + 1)).events
    alert = json.loads(event.text)["alert"]
    assert (event.kind, alert["state"], alert["silencedBy"]) == ("suppressed", "suppressed",
                                                                 ["s1"])
    # A silenced alert is in Alertmanager's list: reconciliation never resolves it.
    assert (await store.reconcile([hushed], now_ms() + 1)).events == []
    assert await store.record([notice()]) == []  # the webhook's re-send: nothing changed
    back = notice(source="reconcile", suppression=Suppression())
    (event,) = (await store.reconcile([back], now_ms() + 1)).events
    assert event.kind == "unsuppressed" and event.alert["silencedBy"] == []
    reopened = await store.record([notice(status="resolved")])
    assert kinds(reopened) == [("resolved", "resolved")]


async def test_an_ha_pair_notifying_one_life_is_one_firing_and_one_resolved(store):
    """Both peers notify firing and resolved, the second peer's firing arriving late."""
    first = [notice(), notice(), notice(status="resolved"), notice(), notice(status="resolved")]
    events = [e for n in first for e in await store.record([n])]
    assert kinds(events) == [("firing", "firing"), ("resolved", "resolved")]


async def test_resolved_names_the_alerts_the_log_holds_as_resolved(store):
    """What the ack keeper asks before it expires a stale ack: only alerts the log has and
    holds resolved; one it never had, or one still firing, is not."""
    gone, up = notice("Gone"), notice("Up")
    await store.record([gone, up])
    await store.record([notice("Gone", status="resolved")])
    asked = [gone.key, up.key, ("default", "0123456789abcdef"), ("other", gone.fingerprint)]
    ended = await store.resolved(asked)
    assert list(ended) == [gone.key] and abs(ended[gone.key] - now_ms()) < 60_000
    assert await store.resolved([]) == {}
