"""The hub on its own: filter groups, bounded queues, the direct path's ordering, heartbeats."""

from __future__ import annotations

import asyncio

import pytest

from bridge.alerts.hub import AlertHub, SubscriptionClosed
from bridge.alerts.matchers import parse_filters
from bridge.alerts.store import Event, Opened
from bridge.errors import Unavailable
from bridge.selfmetrics import BridgeMetrics


def event(seq: int, name: str = "A", status: str = "firing", **labels: str) -> Event:
    all_labels = {"alertname": name, **labels}
    alert = {"fingerprint": name, "status": status, "labels": all_labels, "annotations": {},
             "startsAt": "2026-01-01T00:00:00Z", "cluster": "default", "state": "active"}
    return Event(seq, "E", status, "alertmanager", all_labels, alert, f'{{"seq":{seq}}}')


def make_hub(limit: int = 100, max_subscribers: int = 10) -> AlertHub:
    hub = AlertHub(BridgeMetrics(), heartbeat=0.01, queue_limit=limit,
                   max_subscribers=max_subscribers)
    hub.load(Opened("E", 0, []))
    return hub


async def test_events_reach_matching_subscribers_in_order_and_update_the_live_view():
    hub = make_hub()
    everyone = hub.subscribe(())
    critical = hub.subscribe(parse_filters(['severity="critical"']))
    hub.publish([event(1, "A", severity="critical"), event(2, "B", severity="warning")])
    hub.publish([event(3, "A", status="resolved", severity="critical")])
    assert [e.seq for e in await everyone.get()] == [1, 2, 3]
    assert [e.seq for e in await critical.get()] == [1, 3]
    assert hub.last_seq == 3 and set(hub.firing) == {("default", "B")}
    snap = hub.snapshot(())
    assert snap.seq == 3 and snap.id == "E:3" and '"B"' in snap.text


async def test_a_full_queue_closes_the_subscriber_instead_of_dropping():
    hub = make_hub(limit=3)
    sub = hub.subscribe(())
    hub.publish([event(i) for i in range(1, 5)])
    with pytest.raises(SubscriptionClosed) as info:
        await sub.get()
    assert info.value.reason == "overflow"


async def test_direct_path_only_when_nothing_is_queued_or_in_flight():
    hub = make_hub()
    sub = hub.subscribe(())
    written: list[int] = []
    accept = [True]

    def direct(item):
        if accept[0]:
            written.append(item.seq)
        return accept[0]
    sub.direct = direct
    hub.publish([event(1)])
    assert written == [] and [e.seq for e in await sub.get()] == [1]  # not live yet: queued
    sub.live = True
    hub.publish([event(2)])               # the sender holds a batch (sending): queued
    assert written == []
    assert [e.seq for e in await sub.get()] == [2]
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)                # the sender waits again: idle
    hub.publish([event(3)])
    assert written == [3]
    accept[0] = False                     # the socket backs up: queued, in order
    hub.publish([event(4)])
    accept[0] = True
    hub.publish([event(5)])               # something is queued, so 5 waits behind 4
    assert written == [3]
    assert [e.seq for e in await getter] == [4, 5]


async def test_heartbeats_go_to_idle_live_subscribers_only():
    hub = make_hub()
    live, opening = hub.subscribe(()), hub.subscribe(())
    live.live = True
    task = asyncio.create_task(hub.run_heartbeats())
    try:
        (beat,) = await asyncio.wait_for(live.get(), 5)
        assert beat.type == "heartbeat" and beat.id == "E:0"
        assert opening.idle
    finally:
        task.cancel()


async def test_subscriber_limit_and_unsubscribe():
    hub = make_hub(max_subscribers=2)
    a, _b = hub.subscribe(()), hub.subscribe(())
    with pytest.raises(Unavailable):
        hub.subscribe(())
    hub.unsubscribe(a)
    assert hub.subscribers == 1
    hub.subscribe(())


async def test_reset_closes_everyone_with_epoch_changed():
    hub = make_hub()
    sub = hub.subscribe(())
    hub.publish([event(1)])
    hub.reset("F")
    assert hub.epoch == "F" and hub.firing == {}
    with pytest.raises(SubscriptionClosed, match="epoch_changed"):
        await sub.get()


async def test_a_big_batch_is_fanned_out_in_slices_without_breaking_the_seam(monkeypatch):
    from bridge.alerts import hub as hub_module

    monkeypatch.setattr(hub_module, "FANOUT_SLICE", 5)
    hub = make_hub()
    early = hub.subscribe(())
    hub.publish([event(i, f"A{i}") for i in range(1, 21)])
    assert 1 <= hub.last_seq < 20  # only the first slice so far: the loop was not held
    late = hub.subscribe(())  # joins between slices
    snapshot_seq = hub.last_seq
    assert len(hub.current(())) == snapshot_seq
    for _ in range(100):  # each slice runs in its own loop iteration
        if hub.last_seq == 20:
            break
        await asyncio.sleep(0)
    assert hub.last_seq == 20
    assert [e.seq for e in await early.get()] == list(range(1, 21))
    assert [e.seq for e in await late.get()] == list(range(snapshot_seq + 1, 21))


async def test_store_status_frames_reach_live_subscribers_once_per_change():
    import json

    hub = make_hub()
    live, opening = hub.subscribe(()), hub.subscribe(())
    live.live = True
    hub.store_status(None)  # reachable and already so: nothing
    assert live.idle and hub.store_down is None
    hub.store_status("alert database unreachable: refused")
    hub.store_status("alert database cannot be read: refused")  # still down: nothing new
    (down,) = await live.get()
    frame = json.loads(down.text)
    assert (frame["type"], frame["store"]) == ("status", "down") and down.id is None
    assert "unreachable" in frame["detail"] and hub.store_down is down
    assert opening.idle  # it gets `store_down` after its opening frames instead
    hub.store_status(None)
    (up,) = await live.get()
    assert json.loads(up.text)["store"] == "up" and hub.store_down is None
