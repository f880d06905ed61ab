"""The SQLite store's schema upgrade: a file from before clusters opens with its log intact."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bridge.alerts import schema
from bridge.alerts.store import AlertStore
from bridge.config import AlertsConfig
from tests.bridge.alerts.helpers import notice

# The schema (version 0) bridges wrote before clusters, verbatim.
V0 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE alerts (fingerprint TEXT PRIMARY KEY, status TEXT NOT NULL,
    starts_ms INTEGER NOT NULL, seen_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    body TEXT NOT NULL);
CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, frame TEXT NOT NULL);
CREATE INDEX events_ts ON events (ts_ms);
"""


def old_alert(n, updated_ms=1000):
    alert = n.alert(n.starts_ms, updated_ms)
    for key in ("cluster", "state", "silencedBy", "inhibitedBy"):
        del alert[key]
    return json.dumps(alert, separators=(",", ":"))


def write_v0(path, notices):
    conn = sqlite3.connect(path)
    conn.executescript(V0)
    conn.execute("INSERT INTO meta VALUES ('epoch', 'OLDEPOCH')")
    for seq, n in enumerate(notices, 1):
        body = old_alert(n)
        conn.execute("INSERT OR REPLACE INTO alerts VALUES (?, ?, ?, 1000, 1000, ?)",
                     (n.fingerprint, n.status, n.starts_ms, body))
        frame = (f'{{"type":"alert","seq":{seq},"epoch":"OLDEPOCH","event":"{n.status}",'
                 f'"status":"{n.status}","timestamp":"1970-01-01T00:00:01Z","alert":{body}}}')
        conn.execute("INSERT INTO events (seq, ts_ms, fingerprint, frame) VALUES (?, 1000, ?, ?)",
                     (seq, n.fingerprint, frame))
    conn.commit()
    conn.close()


async def test_a_version_0_file_is_upgraded_with_its_log_and_epoch(tmp_path):
    write_v0(tmp_path / "alerts.db", [notice("Firing"), notice("Done"),
                                      notice("Done", status="resolved")])
    store = AlertStore(tmp_path, AlertsConfig())
    opened = await store.open()
    try:
        assert (opened.epoch, opened.last_seq) == ("OLDEPOCH", 3)
        (alert,) = opened.firing
        assert alert["labels"]["alertname"] == "Firing"
        assert (alert["cluster"], alert["state"], alert["silencedBy"],
                alert["inhibitedBy"]) == ("default", "active", [], [])
        frames = [json.loads(text) for _, text in await store.events_after(0, 10)]
        assert [f["alert"]["cluster"] for f in frames] == ["default"] * 3
        assert [f["event"] for f in frames] == ["firing", "firing", "resolved"]
        # The old alert is the same alert now: its resolution is one event, in "default".
        (event,) = await store.record([notice("Firing", status="resolved")])
        assert (event.seq, event.kind, event.key[0]) == (4, "resolved", "default")
        assert await store.record([notice("Done", status="resolved")]) == []
    finally:
        await store.close()
    conn = sqlite3.connect(tmp_path / "alerts.db")
    try:
        assert schema.version(conn) == schema.VERSION
        columns = [r[1] for r in conn.execute("PRAGMA table_info(alerts)")]
        assert columns[:2] == ["cluster", "fingerprint"]
        assert conn.execute("SELECT DISTINCT cluster FROM events").fetchall() == [("default",)]
    finally:
        conn.close()
    again = AlertStore(tmp_path, AlertsConfig())  # a second open upgrades nothing
    assert (await again.open()).last_seq == 4
    await again.close()


async def test_a_new_file_starts_at_the_current_version(tmp_path):
    store = AlertStore(tmp_path, AlertsConfig())
    await store.open()
    await store.close()
    conn = sqlite3.connect(tmp_path / "alerts.db")
    assert schema.version(conn) == schema.VERSION
    conn.close()


async def test_a_file_from_a_newer_bridge_is_refused_untouched(tmp_path):
    conn = sqlite3.connect(tmp_path / "alerts.db")
    conn.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    conn.close()
    store = AlertStore(tmp_path, AlertsConfig())
    with pytest.raises(schema.SchemaTooNew, match="upgrade the bridge"):
        await store.open()
    await store.close()
    assert not list(tmp_path.glob("alerts.db.corrupt-*"))
