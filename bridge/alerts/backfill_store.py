"""Writing backfilled episodes into the SQLite log (on its writer thread, in one transaction,
so the decision sees exactly what is committed; `bridge.alerts.episodes` decides).

Each chosen episode is two events, `firing` and `resolved`, stored now (`ts_ms`: retention
and the seq order stay as they are) with the `timestamp` of when they happened. The alert's
row changes only as `episodes.replaces_row` allows (never to or from firing).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from bridge.alerts import episodes as ep
from bridge.alerts.wire import alert_frame
from bridge.config import AlertsConfig
from bridge.jsonenc import dumps


def floor_ms(first: tuple[int, int] | None, now: int, config: AlertsConfig) -> int:
    """The earliest startsAt the log can vouch for: within retention, and not before its
    oldest kept event once anything before it is gone (`first`: its seq and ts_ms)."""
    floor = now - int(config.retention_days * 86_400_000)
    if first is not None and first[0] > 1:
        floor = max(floor, first[1])
    return floor


@dataclass(frozen=True, slots=True)
class Written:
    """One backfilled event as stored (the store makes its `Event` of it)."""

    seq: int
    kind: str
    alert: dict[str, Any]
    text: str


def build_events(chosen: list[ep.Episode], seq: int, epoch: str, cluster: str, now: int
                 ) -> list[Written]:
    """The events of the chosen episodes, numbered after `seq`."""
    events = []
    for episode in chosen:
        for kind, at, alert in ep.episode_alerts(episode, cluster, now):
            seq += 1
            text = alert_frame(seq, epoch, kind, alert["status"], at, dumps(alert))
            events.append(Written(seq, kind, alert, text))
    return events


def write(conn: sqlite3.Connection, found: list[ep.Episode], cluster: str,
          config: AlertsConfig, now: int, last_seq: int, epoch: str) -> list[Written]:
    """Choose and store; the events written (the caller's transaction commits them)."""
    fps = sorted({e.fingerprint for e in found})
    marks = ",".join("?" * len(fps))
    frames = [f for (f,) in conn.execute(
        f"SELECT frame FROM events WHERE cluster = ? AND fingerprint IN ({marks})",
        [cluster, *fps])]
    rows = {fp: (status, starts, body) for fp, status, starts, body in conn.execute(
        "SELECT fingerprint, status, starts_ms, body FROM alerts "
        f"WHERE cluster = ? AND fingerprint IN ({marks})", [cluster, *fps])}
    first = conn.execute("SELECT seq, ts_ms FROM events ORDER BY seq LIMIT 1").fetchone()
    chosen = ep.choose(found, known_lives(frames, [r[2] for r in rows.values()]),
                       floor_ms(first, now, config))
    events = build_events(chosen, last_seq, epoch, cluster, now)
    conn.executemany(
        "INSERT INTO events (seq, ts_ms, fingerprint, frame, cluster) VALUES (?, ?, ?, ?, ?)",
        [(e.seq, now, e.alert["fingerprint"], e.text, cluster) for e in events])
    for episode, event in zip(chosen, events[1::2], strict=True):
        row = rows.get(episode.fingerprint)
        if ep.replaces_row(row[0] if row else None, row[1] if row else None, episode):
            conn.execute(
                "INSERT OR REPLACE INTO alerts (cluster, fingerprint, status, starts_ms, "
                "seen_ms, updated_ms, body) VALUES (?, ?, 'resolved', ?, ?, ?, ?)",
                (cluster, episode.fingerprint, episode.starts_ms, now, now, dumps(event.alert)))
            rows[episode.fingerprint] = ("resolved", episode.starts_ms, "")
    return events


def known_lives(frames: list[str], bodies: list[str]) -> dict[str, list[ep.Life]]:
    """Every life the log knows per fingerprint, from event frames and alert rows' bodies."""
    by_fp: dict[str, list[dict[str, Any]]] = ep.alerts_of(frames)
    for body in bodies:
        alert = json.loads(body)
        by_fp.setdefault(alert["fingerprint"], []).append(alert)
    return {fp: ep.lives(alerts) for fp, alerts in by_fp.items()}
