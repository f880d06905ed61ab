"""Writing silences to Alertmanager, and logging what the write did.

Every write goes to one peer of the cluster (`Cluster.send`: the active one, or the next when a
peer refused the connection); the peers gossip it to the rest. The silence is then read back
from that same peer (the active one) and recorded with who made the change, so the log's event
is exactly Alertmanager's new state. Should recording fail (the store unreachable) after
Alertmanager accepted, the answer is still the silence: the change is made, and the watcher
logs it when the store is back (without the author of an expiry, which it cannot know).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bridge.alerts.backend import AlertLog
from bridge.alerts.model import now_ms
from bridge.alerts.silencerequest import SilenceRequest, postable
from bridge.alerts.silences import from_am
from bridge.errors import BadRequest, StorageUnavailable, UpstreamInvalid
from bridge.upstream.alertmanager import SILENCE_ENDPOINT, SILENCES_ENDPOINT, Cluster

log = logging.getLogger("bridge.alerts.silences")

# Alertmanager's silence ids are UUIDs; anything else never reaches its URL path.
_SILENCE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def check_id(sid: str) -> str:
    if not _SILENCE_ID.fullmatch(sid):
        raise BadRequest(f"id: {sid!r:.80} is not a silence id")
    return sid


async def fetch(cluster: Cluster, sid: str) -> dict[str, Any]:
    """One silence as its cluster's active peer has it (Alertmanager's 4xx: a 400)."""
    try:
        data = await cluster.send("GET", f"{SILENCE_ENDPOINT}/{check_id(sid)}")
    except BadRequest as exc:  # 404: unknown here (Alertmanager's text is empty)
        raise BadRequest(f"id: cluster {cluster.name!r} has no silence {sid!r} "
                         f"({exc.detail})") from None
    try:
        return from_am(cluster.name, data)
    except ValueError as exc:
        raise UpstreamInvalid(f"Alertmanager's silence {sid}: {exc}") from None


async def save(cluster: Cluster, store: AlertLog, req: SilenceRequest, by: str
               ) -> dict[str, Any]:
    """Create or update; the silence as Alertmanager now has it.

    An update Alertmanager cannot make in place (other matchers, a new start of an active
    silence) expires the old silence and creates another: both are recorded.
    """
    base = await fetch(cluster, req.id) if req.id is not None else None
    return await write(cluster, store, req, base, by)


async def write(cluster: Cluster, store: AlertLog, req: SilenceRequest,
                base: dict[str, Any] | None, by: str, author: str | None = None
                ) -> dict[str, Any]:
    """`save` over `base`, the silence `req.id` names as just fetched (None: a new one), for
    a caller that looks at it first. `by` is logged as who made the change, `author` (unset or
    empty: `by`) is the silence's createdBy: the bridge extending an ack keeps its acker's name."""
    body = postable(req, base, author or by, now_ms())
    answer = await cluster.send("POST", SILENCES_ENDPOINT, body)
    new_id = answer.get("silenceID") if isinstance(answer, dict) else None
    if not isinstance(new_id, str):
        raise UpstreamInvalid("Alertmanager's answer to a new silence has no silenceID")
    silence = await fetch(cluster, new_id)
    changed = [silence]
    if base is not None and base["id"] != new_id:
        changed.insert(0, await fetch(cluster, base["id"]))
    await _record(store, cluster.name, changed, by)
    return silence


async def expire(cluster: Cluster, store: AlertLog, sid: str, by: str) -> dict[str, Any]:
    """Expire a silence (already expired: nothing to do); the silence, expired."""
    current = await fetch(cluster, sid)
    if current["state"] == "expired":
        await _record(store, cluster.name, [current], None)
        return current
    await cluster.send("DELETE", f"{SILENCE_ENDPOINT}/{sid}")
    expired = await fetch(cluster, sid)
    await _record(store, cluster.name, [expired], by)
    return expired


async def _record(store: AlertLog, cluster: str, silences: list[dict[str, Any]],
                  by: str | None) -> None:
    try:
        await store.record_silences(cluster, silences, by)
    except StorageUnavailable as exc:
        log.warning("silence %s changed in Alertmanager but not logged yet (%s); the watcher "
                    "logs it once the store is back", silences[-1]["id"], exc.detail)
