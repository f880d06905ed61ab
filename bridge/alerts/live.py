"""WS /api/ws/ws/alerts and GET /api/sse/alerts: snapshot or replay, then live, with no gap.

The seam: a `Feed` subscribes to the hub and captures the snapshot and the last seq L in the same
synchronous step (no await in between), so everything <= L is in the log and everything > L will
be in the subscriber's queue. Replay reads (since, L] from the log; live frames are then sent
from the queue, skipping anything <= the last seq already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from bridge.alerts.backend import STORE_KEY, AlertLog
from bridge.alerts.episodes import backfilled
from bridge.alerts.hub import HUB_KEY, AlertHub, Item, SubscriptionClosed
from bridge.alerts.selection import Selection, parse_selection
from bridge.alerts.silences import SilenceEvent
from bridge.alerts.store import Event
from bridge.alerts.wire import SILENCE_FRAME_HEAD, Frame, error_frame
from bridge.errors import BadRequest, BridgeError
from bridge.http import check_origin, require_read_access, start_stream
from bridge.jsonenc import dumps
from bridge.keys import CONFIG_KEY
from bridge.params import parse_uint
from bridge.protocol import (
    ALERT,
    ALERTS_SSE_PATH,
    ALERTS_WS_PATH,
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_RESTART,
    CLOSE_TRY_AGAIN,
    RESYNC,
    SILENCE,
)
from bridge.streams.connection import SseWriter, WebSocketWriter
from bridge.upstream.alertmanager import CLUSTERS_KEY

log = logging.getLogger("bridge.alerts.stream")
routes = web.RouteTableDef()

REPLAY_PAGE = 500
# Why the hub closed a subscription -> WebSocket close code and reason.
CLOSE_CODES = {
    "overflow": (CLOSE_TRY_AGAIN, "too slow: reconnect with since and epoch"),
    "shutdown": (CLOSE_GOING_AWAY, "bridge shutting down: reconnect with since and epoch"),
    "epoch_changed": (CLOSE_RESTART, "alert log reset: reconnect"),
}


@dataclass(frozen=True)
class StreamParams:
    selection: Selection
    since: int | None = None
    epoch: str | None = None


def parse_params(query: Mapping[str, str], last_event_id: str | None = None,
                 max_matchers: int = 20, clusters: Collection[str] = ()) -> StreamParams:
    """`filter=` (repeatable), `state=`, `cluster=`, `since` + `epoch`, or an SSE
    `Last-Event-ID` of `EPOCH:SEQ`."""
    selection = parse_selection(query, max_matchers, clusters)
    if last_event_id:
        epoch, _, since_text = last_event_id.strip().rpartition(":")
        if not epoch:
            raise BadRequest(f"Last-Event-ID: expected EPOCH:SEQ, got {last_event_id!r:.80}")
        return StreamParams(selection, parse_uint(since_text, "Last-Event-ID"), epoch)
    since_text, epoch = query.get("since"), query.get("epoch")
    if since_text is None and epoch is None:
        return StreamParams(selection)
    if since_text is None or not epoch:
        raise BadRequest("since and epoch go together: resume with ?since=SEQ&epoch=EPOCH "
                         "as received in the last frame")
    return StreamParams(selection, parse_uint(since_text, "since"), epoch)


class Feed:
    """One subscriber's ordered frames: opening (snapshot, or replay after `since`), then live."""

    def __init__(self, hub: AlertHub, store: AlertLog, params: StreamParams) -> None:
        self.hub, self.store, self.params = hub, store, params
        # Same synchronous step: the subscription sees exactly the events after `upto`.
        self.sub = hub.subscribe(params.selection)
        self.snapshot = hub.snapshot(params.selection)
        self.epoch, self.upto = hub.epoch, hub.last_seq
        self.last_sent = self.upto

    def close(self) -> None:
        self.sub.close("done")
        self.hub.unsubscribe(self.sub)

    async def frames(self) -> AsyncIterator[Item]:
        async for frame in self._opening():
            yield frame
        self.sub.live = True
        if self.hub.store_down is not None:  # later changes reach the (now live) queue
            yield self.hub.store_down
        while True:
            for item in await self.sub.get():
                if isinstance(item, Event | SilenceEvent):
                    if item.seq <= self.last_sent:
                        continue
                    self.last_sent = item.seq
                yield item

    async def _opening(self) -> AsyncIterator[Frame]:
        since, epoch = self.params.since, self.params.epoch
        if since is None:
            yield self.snapshot
            return
        if epoch != self.epoch:
            yield from_resync(self, "epoch_changed")
            yield self.snapshot
            return
        if since > self.upto:
            yield from_resync(self, "seq_ahead")
            yield self.snapshot
            return
        cursor = since
        while cursor < self.upto:
            rows = await self.store.events_after(cursor, REPLAY_PAGE, until=self.upto)
            if not rows or rows[0][0] != cursor + 1:  # pruned before (or while) we read
                yield from_resync(self, "too_old")
                yield self.snapshot
                return
            for seq, text in rows:
                if is_silence(text):
                    if self._wanted_silence(text):
                        yield Frame(SILENCE, text, seq, f"{self.epoch}:{seq}")
                elif self._wanted(text):
                    yield Frame(ALERT, text, seq, f"{self.epoch}:{seq}")
            cursor = rows[-1][0]

    def _wanted_silence(self, text: str) -> bool:
        """Whether a replayed silence event is this stream's: of its `cluster=`, as live."""
        selection = self.params.selection
        return selection.cluster is None or selection.wants_silence(json.loads(text)["silence"])

    def _wanted(self, text: str) -> bool:
        """Whether a replayed event is this stream's: its selection's, and never a backfilled
        one (history only, as the hub's live fan-out leaves them out)."""
        if backfilled(text):
            return False
        selection = self.params.selection
        if selection.everything:
            return True
        frame = json.loads(text)
        return selection.wants(frame["event"], frame["alert"])


def is_silence(text: str) -> bool:
    """Whether a stored frame is a silence event (they reach every subscriber of their
    cluster)."""
    return text.startswith(SILENCE_FRAME_HEAD)


def from_resync(feed: Feed, reason: str) -> Frame:
    """Tells the client its resume point is unusable; a fresh snapshot follows."""
    return Frame(RESYNC, dumps({"type": RESYNC, "reason": reason, "epoch": feed.epoch,
                                  "seq": feed.upto, "since": feed.params.since}))


async def pump(feed: Feed, send: Callable[[Item], Awaitable[None]]) -> str:
    """Send the feed until it ends; returns why (a hub close reason, "error", "disconnected")."""
    try:
        async for item in feed.frames():
            await send(item)
    except SubscriptionClosed as exc:
        return exc.reason
    except ConnectionError:
        return "disconnected"
    except TimeoutError:
        return "stuck"
    except BridgeError as exc:  # the log could not be read for a replay
        with contextlib.suppress(ConnectionError):
            await send(error_frame(exc.body()))
        return "error"
    return "done"  # pragma: no cover - frames() only ends by SubscriptionClosed


async def _stop(feed: Feed, sender: asyncio.Task[str]) -> str:
    """Unsubscribe and stop the sender; the reason the stream ended."""
    reason = feed.sub.closed
    if sender.done() and not sender.cancelled() and sender.exception() is None:
        reason = reason or sender.result()
    feed.close()
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)
    return reason or "done"


def _open_feed(request: web.Request, params: StreamParams) -> Feed:
    return Feed(request.app[HUB_KEY], request.app[STORE_KEY], params)


@routes.get(ALERTS_WS_PATH)
async def alerts_ws(request: web.Request) -> web.StreamResponse:
    """Alert stream over WebSocket; see the README's alerts section for the frames."""
    require_read_access(request)
    check_origin(request)
    request.app[HUB_KEY].check_capacity()
    ws = web.WebSocketResponse(compress=False, max_msg_size=4096)
    await start_stream(request, ws)
    writer = WebSocketWriter(request, ws)
    config = request.app[CONFIG_KEY]
    try:
        params = parse_params(request.query, max_matchers=config.alerts.max_matchers,
                              clusters=request.app[CLUSTERS_KEY].names)
        feed = _open_feed(request, params)
    except BridgeError as exc:  # bad parameters, or the subscriber limit reached meanwhile
        await writer.send_text(error_frame(exc.body()).data)
        code = CLOSE_POLICY if isinstance(exc, BadRequest) else CLOSE_TRY_AGAIN
        await writer.close(code, exc.error.replace("_", " "))
        return ws

    async def send(item: Item) -> None:
        await writer.send_text(item.data)

    feed.sub.direct = writer.offer
    sender = asyncio.create_task(pump(feed, send))
    # A stuck peer can block the sender inside a write: cancel it when the hub gives up on it.
    feed.sub.on_close(lambda reason: reason == "overflow" and sender.cancel())
    reader = asyncio.create_task(_read_until_closed(ws))
    try:
        await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reason = await _stop(feed, sender)
        fallback = (CLOSE_INTERNAL, "stream error") if reason == "error" else (CLOSE_NORMAL, "")
        code, message = CLOSE_CODES.get(reason, fallback)
        await writer.close(code, message)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return ws


async def _read_until_closed(ws: web.WebSocketResponse) -> None:
    """The stream takes no input; reading notices the client closing (and answers pings)."""
    async for _msg in ws:
        pass


@routes.get(ALERTS_SSE_PATH)
async def alerts_sse(request: web.Request) -> web.StreamResponse:
    """The same frames as server-sent events (`event:` = type, `id:` = EPOCH:SEQ)."""
    require_read_access(request)
    check_origin(request)
    config = request.app[CONFIG_KEY]
    params = parse_params(request.query, request.headers.get("Last-Event-ID"),
                          config.alerts.max_matchers, request.app[CLUSTERS_KEY].names)
    request.app[HUB_KEY].check_capacity()
    feed = _open_feed(request, params)
    resp = EventSourceResponse(ping_interval=config.alerts.heartbeat * 4,
                               send_timeout=config.streams.stuck_timeout)
    try:
        await start_stream(request, resp)
    except BaseException:
        feed.close()
        raise

    writer = SseWriter(resp, config.streams.stuck_timeout)

    async def send(item: Item) -> None:
        await writer.send(item.sse)

    sender = asyncio.create_task(pump(feed, send))
    feed.sub.on_close(lambda reason: reason == "overflow" and sender.cancel())
    try:
        await asyncio.wait({sender})
    finally:
        reason = await _stop(feed, sender)
        resp.stop_streaming()
        if reason in ("overflow", "stuck") and request.transport is not None:
            request.transport.abort()
    return resp
