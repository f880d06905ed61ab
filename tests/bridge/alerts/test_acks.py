"""The ack keeper (bridge.alerts.acks): which acks end with their alert's life, what the
sweep expires and what it leaves, and expiries of one cluster not holding back another's."""

from __future__ import annotations

import asyncio

import pytest

from bridge.alerts.acks import MAX_PENDING, AckKeeper
from bridge.alerts.model import fingerprint
from bridge.alerts.silences import from_am, silence_event
from bridge.alerts.silenceview import SilenceView
from bridge.alerts.store import Event
from bridge.errors import UpstreamUnavailable
from tests.bridge.alerts.test_silences import HOUR, NOW, am_silence


class _Leader:
    """What AckKeeper asks of the store: whether this replica leads."""

    leader = True


# The ack (k) starts at 11:00:00.123.
@pytest.mark.parametrize(("kind", "status", "source", "at", "expired"), [
    ("resolved", "resolved", "alertmanager", "2026-06-01T11:30:00Z", True),
    # The old life ended unlogged (its new one started after the ack): its ack goes.
    ("refired", "firing", "reconcile", "2026-06-01T11:30:00Z", True),
    # An ack made after the life the event ends (in Alertmanager, while the bridge was down)
    # is of the next life: it stays.
    ("resolved", "resolved", "reconcile", "2026-06-01T10:30:00Z", False),
    ("refired", "firing", "reconcile", "2026-06-01T10:30:00Z", False),
    ("resolved", "resolved", "prometheus", "2026-06-01T11:30:00Z", False),  # backfilled history
    ("updated", "firing", "alertmanager", "2026-06-01T11:30:00Z", False),
])
def test_the_ack_keeper_expires_acks_when_a_life_ends(kind, status, source, at, expired):
    labels = {"alertname": "A"}
    fp = fingerprint(labels)
    ack = from_am("ha", am_silence("k", comment="ACK! mine", endsAt="2099-01-01T00:00:00Z",
                                   matchers=[{"name": "alertname", "value": "A",
                                              "isRegex": False, "isEqual": True}]))
    view = SilenceView()
    view.load([(1, ack)])
    keeper = AckKeeper(view, _Leader(), expire=None)  # type: ignore[arg-type]
    alert = {"fingerprint": fp, "labels": labels, "status": status, "cluster": "ha",
             "source": source, "updatedAt": "2026-06-01T12:00:00Z",
             "startsAt": at if status == "firing" else "2026-06-01T09:00:00Z",
             "endsAt": at if status == "resolved" else None}
    keeper.on_commit([Event(2, "E", kind, source, labels, alert, "{}")])
    assert keeper.pending == ({("ha", "k"): (0.0, 0)} if expired else {})


def _ack(sid, labels, cluster="ha", starts="2026-06-01T11:00:00Z"):
    matchers = [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in labels.items()]
    return from_am(cluster, am_silence(sid, comment="ACK! mine", startsAt=starts,
                                       endsAt="2099-01-01T00:00:00Z", matchers=matchers))


class _ResolvedLog(_Leader):
    """A leading log that holds `ended` (key -> when the life ended) as resolved, and knows
    no other alert."""

    def __init__(self, ended: dict[tuple[str, str], int]) -> None:
        self.ended = ended

    async def resolved(self, keys):
        return {key: self.ended[key] for key in keys if key in self.ended}


async def _swept(keeper: AckKeeper, hub, clusters) -> int:
    asked = keeper.sweep(hub, clusters)
    await asyncio.gather(*keeper._tasks)
    return asked


async def test_the_sweep_expires_acks_whose_alert_resolved_once_they_are_not_new():
    gone, firing, new = {"alertname": "Gone"}, {"alertname": "Up"}, {"alertname": "New"}
    view = SilenceView()
    view.load([(1, _ack("g", gone)), (2, _ack("f", firing)),
               (3, _ack("o", gone, cluster="other"))])
    clock = [NOW]
    store = _ResolvedLog({("ha", fingerprint(gone)): NOW, ("ha", fingerprint(new)): NOW + HOUR})
    keeper = AckKeeper(view, store, expire=None, clock=lambda: clock[0])  # type: ignore
    hub = {("ha", fingerprint(firing)): {}}
    # The first sweep only notes when it ran: nothing is known of the hub's past yet.
    assert await _swept(keeper, hub, ["ha"]) == 0 and keeper.pending == {}
    # An ack made after that sweep (its alert maybe not in the hub yet) is left for the next.
    view.on_commit([silence_event(4, "E", "created", "{}",
                                  _ack("n", new, starts="2026-06-01T12:00:01Z"))])
    clock[0] = NOW + HOUR
    assert await _swept(keeper, hub, ["ha"]) == 1
    assert set(keeper.pending) == {("ha", "g")}  # not f (firing), o (other cluster), n (new)
    assert await _swept(keeper, hub, ["ha"]) == 1 and ("ha", "n") in keeper.pending
    assert await _swept(keeper, hub, ["ha"]) == 0  # queued once


async def test_the_sweep_keeps_an_ack_made_after_the_life_the_log_holds_resolved():
    """Resolved here, the alert fired again and was acked in Alertmanager while the bridge was
    down; the sweep runs before reconciliation has the new life: the ack stays."""
    again = {"alertname": "Again"}
    view = SilenceView()
    view.load([(1, _ack("a", again, starts="2026-06-01T11:00:00Z"))])
    clock = [NOW]
    keeper = AckKeeper(view, _ResolvedLog({("ha", fingerprint(again)): NOW - 2 * HOUR}),
                       expire=None, clock=lambda: clock[0])  # type: ignore[arg-type]
    await _swept(keeper, {}, ["ha"])
    clock[0] = NOW + HOUR
    assert await _swept(keeper, {}, ["ha"]) == 1 and keeper.pending == {}


async def test_the_sweep_never_expires_an_ack_of_an_alert_the_log_does_not_hold_resolved():
    """An "ACK! " silence of part of a label set (made with amtool: every DiskFull), or an ack
    whose alert a new log does not know, or whose alert the log still has firing, stays."""
    partial = from_am("ha", am_silence("m", comment="ACK! replacing disks",
                                       startsAt="2026-06-01T11:00:00Z",
                                       endsAt="2099-01-01T00:00:00Z",
                                       matchers=[{"name": "alertname", "value": "DiskFull",
                                                  "isRegex": False, "isEqual": True}]))
    view = SilenceView()
    view.load([(1, partial), (2, _ack("u", {"alertname": "Unknown"})),
               (3, _ack("s", {"alertname": "StillFiring"}))])
    clock = [NOW]
    keeper = AckKeeper(view, _ResolvedLog({}), expire=None,  # type: ignore[arg-type]
                       clock=lambda: clock[0])
    hub = {("ha", fingerprint({"alertname": "DiskFull", "host": "h1"})): {}}
    await _swept(keeper, hub, ["ha"])
    clock[0] = NOW + HOUR
    assert await _swept(keeper, hub, ["ha"]) == 3  # asked about, none resolved
    assert keeper.pending == {}


class _AskedLog(_ResolvedLog):
    """A leading log that knows no alert and notes which acks' alerts it was asked about."""

    def __init__(self) -> None:
        super().__init__({})
        self.asked: list[tuple[str, str]] = []

    async def resolved(self, keys):
        self.asked.extend(keys)
        return {}


async def test_the_sweep_looks_at_every_candidate_in_turn_beyond_its_cut():
    """More candidates than a sweep takes (MAX_PENDING): the next sweeps take the others, in
    turn, rather than the same first ones each time."""
    count = MAX_PENDING * 2 + MAX_PENDING // 2
    view = SilenceView()
    view.load([(i, _ack(f"k{i:05d}", {"alertname": "Gone", "n": str(i)}))
               for i in range(count)])
    view.load([(count, _ack("other", {"alertname": "Gone"}, cluster="other"))])
    clock = [NOW]
    store = _AskedLog()
    keeper = AckKeeper(view, store, expire=None, clock=lambda: clock[0])  # type: ignore
    await _swept(keeper, {}, ["ha", "other"])
    clock[0] = NOW + HOUR
    assert await _swept(keeper, {}, ["ha"]) == MAX_PENDING
    assert await _swept(keeper, {}, ["other"]) == 1  # its own turn, not the other cluster's
    assert await _swept(keeper, {}, ["ha"]) == MAX_PENDING
    assert await _swept(keeper, {}, ["ha"]) == MAX_PENDING
    every = {("ha", fingerprint({"alertname": "Gone", "n": str(i)})) for i in range(count)}
    ha = [key for key in store.asked if key[0] == "ha"]
    assert set(ha) == every  # three sweeps of 1,000 saw all 2,500
    assert len(set(ha[:count])) == count  # each once before any again


async def test_an_unreachable_cluster_does_not_hold_back_the_others_expiries():
    view = SilenceView()
    view.load([])
    calls: list[tuple[str, str]] = []

    async def expire(cluster, sid):
        calls.append((cluster, sid))
        if cluster == "down":
            raise UpstreamUnavailable("unreachable")

    keeper = AckKeeper(view, _Leader(), expire)
    keeper.enqueue(_ack("d", {"alertname": "A"}, cluster="down"))
    keeper.start()
    try:
        for _ in range(200):  # the down cluster's first attempt fails and is put back
            if calls:
                break
            await asyncio.sleep(0.01)
        keeper.enqueue(_ack("u", {"alertname": "B"}, cluster="up"))
        for _ in range(200):
            if keeper.expired:
                break
            await asyncio.sleep(0.01)
        assert keeper.expired == 1 and ("up", "u") not in keeper.pending
        due, attempt = keeper.pending[("down", "d")]
        assert attempt == 1 and due > asyncio.get_running_loop().time()
    finally:
        await keeper.stop()
