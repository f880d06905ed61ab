"""AlertsClient: the bridge's alert stream, every event exactly once and in order.

The bridge numbers its alert events (`seq`) within an `epoch` (the id of its event log). The
client remembers the last (epoch, seq) it delivered and reconnects with `?since=SEQ&epoch=E`, so
the bridge replays what happened meanwhile; events at or below the remembered seq (the seam
between replay and live, or a re-sent frame) are dropped. When the bridge cannot replay (its
log was reset, or SEQ is older than its retention) it sends `resync` and a fresh snapshot: the
client delivers that snapshot with `"resynced": true` and the bridge's reason, and calls the
resync callback, because events may have been missed and the consumer should rebuild its view.

Alerts are keyed by (cluster, fingerprint), since one fingerprint may fire in two Alertmanager
clusters; a bridge that sends no `cluster` means "default". `silence` frames (same seq log)
move the resume point, are delivered, and mark the alert an ack silence names as acked (its
`ack`), or no longer. `state=` picks which alerts `client.alerts` keeps: the bridge's default
(active only: a `suppressed` event takes the alert out, `unsuppressed` brings it back),
"suppressed", or "all".
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from bridge.client.common import (
    CONNECTED,
    CONNECTING,
    IDLE,
    RECONNECTING,
    Callback,
    Frame,
    call,
)
from bridge.client.reconnect import NETWORK_ERRORS, StreamClient, WebSocketRefused, describe
from bridge.protocol import ALERT, ALERTS_WS_PATH, ERROR, HEARTBEAT, RESYNC, SILENCE, SNAPSHOT

log = logging.getLogger("bridge.client.alerts")

DEFAULT_CLUSTER = "default"
STATES = ("active", "suppressed", "all")
ACK_PREFIX = "ACK! "
AlertKey = tuple[str, str]


def alert_key(alert: dict[str, Any]) -> AlertKey:
    """(cluster, fingerprint): how alerts are told apart across clusters."""
    return str(alert.get("cluster") or DEFAULT_CLUSTER), str(alert.get("fingerprint"))


def ack_of(silence: dict[str, Any]) -> dict[str, Any] | None:
    """The `ack` an ack silence stands for ({by, comment, since, until, silenceID}), or None
    for a silence that is no ack or has expired."""
    if not isinstance(silence.get("ack"), dict) or silence.get("state") == "expired":
        return None
    comment = str(silence.get("comment") or "")
    return {"by": silence.get("createdBy") or "",
            "comment": comment.removeprefix(ACK_PREFIX), "since": silence.get("startsAt"),
            "until": silence.get("endsAt"), "silenceID": silence.get("id")}


class AlertsClient(StreamClient):
    """Follows `/api/ws/ws/alerts` (README: "Python client").

    Delivered frames (callback and `async for`): `snapshot` frames (the first one, and after a
    resync, with `"resynced": true/false` and `"reason"`), `alert` and `silence` event frames
    (one log: each seq once, in order) and `error` frames. `filters` are Alertmanager matchers
    (`severity="critical"`; silence events reach every filter); `state` (active, suppressed,
    all) and `cluster` are the stream's `state=`/`cluster=` filters: `firing` holds the alerts
    in that state, dropping one that a `suppressed` or `unsuppressed` event moves out of it.
    `since`/`epoch` resume from a position saved earlier (`client.position`). `url` is one
    base URL or a list (or `urls=[...]`): each reconnect goes to the next bridge with the
    resume point, and a bridge on another log (epoch) answers with a resync, delivered as such.
    """

    task_name = "promwire-alerts-client"
    ws_path = ALERTS_WS_PATH
    lossless = True

    def __init__(self, url: str | Sequence[str] | None = None, *,
                 urls: Sequence[str] | None = None, filters: Sequence[str] = (),
                 since: int | None = None, epoch: str | None = None,
                 state: str | None = None, cluster: str | None = None,
                 queue_size: int = 1000, **options: Any) -> None:
        super().__init__(queue_size=queue_size, **options)
        if state is not None and state not in STATES:
            raise ValueError(f"state: expected one of {', '.join(STATES)}, got {state!r}")
        self._use_bridges(url, urls)
        self.filters = [filters] if isinstance(filters, str) else list(filters)
        self.seq: int | None = since
        self.epoch: str | None = epoch if since is not None else None
        self.state_filter, self.cluster = state, cluster
        # Current alerts by (cluster, fingerprint): the same labels in two clusters are two.
        self.alerts: dict[AlertKey, dict[str, Any]] = {}
        self.events_delivered = 0
        self.duplicates_dropped = 0
        self.resyncs = 0
        self._resync_reason: str | None = None
        self._opened = False  # this connection has delivered its opening (snapshot or replay)
        self._refused: str | None = None
        self._on_resync: Callback | None = None

    def set_resync_callback(self, callback: Callback | None) -> None:
        """`callback(snapshot_frame)` when the bridge could not replay and sent a fresh
        snapshot instead (events may have been missed: rebuild from the snapshot)."""
        self._on_resync = callback

    @property
    def position(self) -> tuple[str | None, int | None]:
        """(epoch, seq) of the last delivered event; pass them back as `epoch=`/`since=` to
        resume in another process."""
        return self.epoch, self.seq

    @property
    def firing(self) -> list[dict[str, Any]]:
        """The alerts currently firing, as the stream has told so far."""
        return [copy.deepcopy(a) for a in self.alerts.values() if a.get("status") == "firing"]

    @property
    def base_ws_url(self) -> str:
        """The alert stream's WebSocket URL on the bridge in use, without a query."""
        return self.ws_url.split("?", 1)[0]

    def url(self) -> str:
        """The WebSocket URL for the next connection: filters, and the resume position."""
        query: list[tuple[str, str]] = [("filter", f) for f in self.filters]
        query += [(k, v) for k, v in (("state", self.state_filter), ("cluster", self.cluster))
                  if v is not None]
        if self.seq is not None and self.epoch is not None:
            query += [("since", str(self.seq)), ("epoch", str(self.epoch))]
        return self.base_ws_url + ("?" + urlencode(query) if query else "")

    async def _round(self) -> None:
        if self.state == IDLE:
            await self._set_state(CONNECTING, self.base_ws_url)
        try:
            ws = await self._connect(self.url(), "ws")
        except WebSocketRefused as exc:
            if exc.status == 400:
                # A bad filter will not get better by retrying: say so and stop.
                raise ValueError(f"{self.base_ws_url}: {exc}") from None
            await self._backoff_wait(RECONNECTING, str(exc))
            return
        except NETWORK_ERRORS as exc:
            await self._backoff_wait(RECONNECTING, describe(exc))
            return
        await self._set_state(CONNECTED, self.base_ws_url)
        self._opened = False
        self._refused = None
        reason, _ = await self._pump(ws, self._handle)
        if self._refused is not None:
            # The bridge refused the request itself (a bad filter, since without epoch):
            # retrying the same URL cannot work.
            raise ValueError(f"{self.base_ws_url}: {self._refused}")
        if not self._closing:
            await self._backoff_wait(RECONNECTING, reason)

    async def _handle(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind in (ALERT, SNAPSHOT, RESYNC, SILENCE):
            self._opened = True
        if kind in (ALERT, SILENCE):
            await self._event(frame)
        elif kind == SNAPSHOT:
            await self._snapshot(frame)
        elif kind == RESYNC:
            self._resync_reason = str(frame.get("reason") or "resync")
            log.warning("alert stream resync: %s", self._resync_reason)
            # Until the fresh snapshot arrives, a reconnect must ask for one.
            self.seq = self.epoch = None
        elif kind == ERROR:
            if not self._opened and frame.get("error") == "bad_request":
                self._refused = str(frame.get("detail") or "bad request")
            await self._emit(frame)
        elif kind == HEARTBEAT:
            # `seq` in a heartbeat is a valid resume point (everything up to it was sent or
            # filtered out): moving up to it spares a filtered client replays of events it
            # would not get, and a `too_old` resync after a long quiet spell.
            seq = frame.get("seq")
            if isinstance(seq, int) and self.seq is not None and seq > self.seq:
                self.seq = seq

    async def _snapshot(self, frame: Frame) -> None:
        resynced = self._resync_reason is not None
        resuming = self.seq is not None and self.epoch is not None and not resynced
        if resuming and str(frame.get("epoch")) == str(self.epoch):
            # Same log, and the replay after `since` follows: the consumer already has this
            # state, so only events are delivered.
            return
        if resuming:
            # A snapshot from another epoch without a `resync` frame is still a resync.
            self._resync_reason = "epoch_changed"
            resynced = True
        self.epoch = frame.get("epoch")
        seq = frame.get("seq")
        self.seq = int(seq) if isinstance(seq, int) else 0
        self.alerts = {alert_key(a): a for a in frame.get("alerts") or () if isinstance(a, dict)}
        delivered = {**frame, "resynced": resynced}
        if resynced:
            delivered["reason"] = self._resync_reason
            self.resyncs += 1
        self._resync_reason = None
        await self._emit(delivered)
        if resynced:
            await call(self._on_resync, delivered)

    async def _event(self, frame: Frame) -> None:
        seq = frame.get("seq")
        if not isinstance(seq, int):
            log.warning("ignoring an event frame without an integer seq")
            return
        if self.epoch is not None and frame.get("epoch") not in (None, self.epoch):
            log.warning("alert seq %s from epoch %s, expected %s: resubscribing", seq,
                        frame.get("epoch"), self.epoch)
            self.seq = self.epoch = None
            self._resync_reason = "epoch_changed"
            if self._ws is not None:
                await self._ws.close()
            return
        if self.seq is not None and seq <= self.seq:
            self.duplicates_dropped += 1
            return
        self.seq = seq
        if self.epoch is None:
            self.epoch = frame.get("epoch")
        if frame.get("type") == SILENCE:
            self._silence(frame.get("silence"), frame.get("event"))
        else:
            self._alert(frame.get("alert"), frame.get("event"))
        self.events_delivered += 1
        await self._emit(frame)

    def _wanted(self, alert: dict[str, Any]) -> bool:
        """Whether `state=` keeps this firing alert in `self.alerts`."""
        if self.state_filter == "all":
            return True
        suppressed = alert.get("state") == "suppressed"
        return suppressed if self.state_filter == "suppressed" else not suppressed

    def _alert(self, alert: Any, event: Any) -> None:
        if not isinstance(alert, dict):
            return
        key = alert_key(alert)
        if alert.get("status") == "firing" and self._wanted(alert):
            known = self.alerts.get(key)
            if ("ack" not in alert and event != "refired" and known is not None
                    and known.get("ack")):
                alert = {**alert, "ack": known["ack"]}  # an event may come undecorated
            self.alerts[key] = alert
        else:
            self.alerts.pop(key, None)

    def _silence(self, silence: Any, event: Any) -> None:
        """An ack silence created, updated or expired: its alert shows the ack, or not."""
        if not isinstance(silence, dict) or not isinstance(silence.get("ack"), dict):
            return
        key = (str(silence.get("cluster") or DEFAULT_CLUSTER),
               str(silence["ack"].get("fingerprint")))
        alert = self.alerts.get(key)
        if alert is None:
            return
        ack = None if event == "expired" else ack_of(silence)
        current = alert.get("ack") or {}
        if ack is not None or current.get("silenceID") == silence.get("id"):
            self.alerts[key] = {**alert, "ack": ack}
