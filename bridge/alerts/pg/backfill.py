"""Writing backfilled episodes into the shared log: one transaction under the head lock, so
the decision (`bridge.alerts.episodes`) sees what every replica committed before it, exactly
as the SQLite store's (`bridge.alerts.backfill_store`, whose event building it shares)."""

from __future__ import annotations

import asyncpg

from bridge.alerts import episodes as ep
from bridge.alerts.backfill_store import build_events, floor_ms, known_lives
from bridge.alerts.pg import sql
from bridge.alerts.store import Event
from bridge.config import AlertsConfig
from bridge.jsonenc import dumps


async def write(conn: asyncpg.Connection, found: list[ep.Episode], cluster: str,
                config: AlertsConfig, now: int) -> list[Event]:
    """Choose and store; the events committed (none: nothing was written)."""
    async with conn.transaction():
        # No writer is between its reads and its append meanwhile (they hold it shared).
        await conn.execute(sql.LOCK_WRITERS_XACT, sql.WRITERS_LOCK)
        seq, epoch = await conn.fetchrow(sql.LOCK_HEAD)
        fps = sorted({e.fingerprint for e in found})
        frames = [r[0] for r in await conn.fetch(sql.FRAMES_OF, fps, cluster)]
        rows = {r[1]: (r[2], r[3], r[5]) for r in
                await conn.fetch(sql.ALERT_ROWS, [cluster] * len(fps), fps)}
        first = await conn.fetchrow(sql.FIRST_EVENT)
        chosen = ep.choose(found, known_lives(frames, [r[2] for r in rows.values()]),
                           floor_ms(tuple(first) if first else None, now, config))
        events = [Event(w.seq, epoch, w.kind, ep.SOURCE, w.alert["labels"], w.alert, w.text)
                  for w in build_events(chosen, seq, epoch, cluster, now)]
        if not events:
            return []
        changed: dict[str, tuple[str, int, int, str, int]] = {}
        for episode, event in zip(chosen, events[1::2], strict=True):
            row = rows.get(episode.fingerprint)
            if ep.replaces_row(row[0] if row else None, row[1] if row else None, episode):
                changed[episode.fingerprint] = ("resolved", episode.starts_ms, now,
                                                dumps(event.alert), now)
                rows[episode.fingerprint] = ("resolved", episode.starts_ms, "")
        keys = sorted(changed)
        columns = [list(c) for c in zip(*(changed[k] for k in keys), strict=True)] or \
            [[], [], [], [], []]
        await conn.execute(sql.APPEND_LOCKED, [e.seq for e in events], [now] * len(events),
                           [cluster] * len(events), [e.alert["fingerprint"] for e in events],
                           [e.text for e in events], [cluster] * len(keys), keys, *columns,
                           events[-1].seq)
    return events
