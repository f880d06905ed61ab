"""What every replica knows of the silences: loaded from the log's silence rows, then kept
current from committed `silence` events (the same on every replica, as the alert view is).

It serves GET /api/silences (no Alertmanager round trip: the watcher and the bridge's own
writes keep it within a reconcile interval of Alertmanager) and the `ack` of each alert that
REST and snapshots answer with. States are computed at answer time from the silence's times,
so a silence whose end passed reads `expired` before the watcher's `expired` event arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from bridge.alerts.model import now_ms, parse_time
from bridge.alerts.silences import ACK_PREFIX, STATES, SilenceEvent, matching, state_at

Key = tuple[str, str]  # (cluster, id)
# Expired silences are dropped from the view this long after their end (Alertmanager's own
# default retention, --data.retention=120h), checked whenever the view grows past PRUNE_AT.
KEEP_EXPIRED_MS = 120 * 3_600_000
PRUNE_AT = 1000


class SilenceView:
    """Known silences by (cluster, id), each with the seq of the event that last changed it."""

    def __init__(self) -> None:
        self.loaded = False
        self._by_key: dict[Key, tuple[int, dict[str, Any]]] = {}
        self._acks: dict[str, set[Key]] = {}  # alert fingerprint -> ack silences
        self._pruned_at = PRUNE_AT

    def __len__(self) -> int:
        return len(self._by_key)

    def load(self, rows: Iterable[tuple[int, dict[str, Any]]]) -> None:
        """The log's rows; an event applied meanwhile (a higher seq) is kept over its row."""
        for seq, silence in rows:
            self._put(seq, silence)
        self.loaded = True

    def on_commit(self, events: list[Any]) -> None:
        """`AlertLog.on_commit` listener: apply the silence events."""
        for event in events:
            if isinstance(event, SilenceEvent):
                self._put(event.seq, event.silence)

    def reset(self, _epoch: str) -> None:
        """The log was reset: it knows no silence until the watcher sees them again."""
        self._by_key.clear()
        self._acks.clear()

    def _put(self, seq: int, silence: dict[str, Any]) -> None:
        key = (silence["cluster"], silence["id"])
        old = self._by_key.get(key)
        if old is not None and old[0] > seq:
            return
        self._by_key[key] = (seq, silence)
        if silence.get("ack"):
            self._acks.setdefault(silence["ack"]["fingerprint"], set()).add(key)
        if len(self._by_key) > self._pruned_at:
            self._prune(now_ms())

    def _prune(self, now: int) -> None:
        for key, (_, silence) in list(self._by_key.items()):
            if parse_time(silence["endsAt"]) < now - KEEP_EXPIRED_MS:
                self._forget(key, silence)
        self._pruned_at = max(PRUNE_AT, 2 * len(self._by_key))

    def _forget(self, key: Key, silence: Mapping[str, Any]) -> None:
        del self._by_key[key]
        if silence.get("ack"):
            keys = self._acks.get(silence["ack"]["fingerprint"], set())
            keys.discard(key)
            if not keys:
                self._acks.pop(silence["ack"]["fingerprint"], None)

    def get(self, cluster: str, sid: str) -> dict[str, Any] | None:
        found = self._by_key.get((cluster, sid))
        return None if found is None else {**found[1], "state": state_at(found[1], now_ms())}

    # --- answers ---------------------------------------------------------------------------

    def listing(self, alerts: list[Mapping[str, Any]], cluster: str | None = None,
                state: str | None = None) -> list[dict[str, Any]]:
        """GET /api/silences: each silence as of now, with the `alerts` it matches."""
        now = now_ms()
        found = []
        for (name, _), (_, silence) in self._by_key.items():
            current = state_at(silence, now)
            if (cluster is not None and name != cluster) or (state is not None
                                                             and current != state):
                continue
            matches = matching(silence, alerts)
            found.append({**silence, "state": current, "matches": matches,
                          "matchesNothing": not matches})
        found.sort(key=lambda s: (STATES.index(s["state"]), s["endsAt"], s["cluster"], s["id"]))
        return found

    def active_acks(self, fingerprint: str, cluster: str | None) -> list[dict[str, Any]]:
        """The active ack silences of the alert `fingerprint` (of `cluster`; None: any),
        latest end first."""
        now = now_ms()
        found = [self._by_key[key][1] for key in self._acks.get(fingerprint, ())
                 if cluster is None or key[0] == cluster]
        found = [s for s in found if state_at(s, now) == "active" and s.get("ack")
                 and s["ack"]["fingerprint"] == fingerprint]
        found.sort(key=lambda s: s["endsAt"], reverse=True)
        return found

    def every_active_ack(self, cluster: str | None = None, now: int | None = None
                         ) -> list[dict[str, Any]]:
        """Every ack silence active at `now` (default: now) of `cluster` (None: any)."""
        now = now_ms() if now is None else now
        found = [self._by_key[key][1] for keys in self._acks.values() for key in keys
                 if cluster is None or key[0] == cluster]
        return [s for s in found if s.get("ack") and state_at(s, now) == "active"]

    def ack(self, alert: Mapping[str, Any]) -> dict[str, Any] | None:
        """The Alert's `ack`: who acknowledged it, since when, until when, and why."""
        acks = self.active_acks(alert["fingerprint"], alert.get("cluster"))
        if not acks:
            return None
        silence = acks[0]
        return {"by": silence["createdBy"], "comment": silence["comment"].removeprefix(ACK_PREFIX),
                "since": silence["startsAt"], "until": silence["endsAt"],
                "silenceID": silence["id"]}

    def decorate(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Alerts as answered: each with its `ack` (null when none)."""
        if not self._acks:
            return [{**a, "ack": None} for a in alerts]
        return [{**a, "ack": self.ack(a)} for a in alerts]


SILENCE_VIEW_KEY = web.AppKey("silence_view", SilenceView)
