"""Silence events in the one log, on both backends: decided on committed rows (one event per
change, whoever sees it first), numbered with the alert events, replayed and reset alike."""

from __future__ import annotations

import asyncio
import json

import pytest

from bridge.alerts.silences import SilenceEvent
from tests.bridge.alerts.helpers import make_store, notice


@pytest.fixture
async def store(tmp_path, alert_store):
    s = make_store(tmp_path, {**alert_store, "busy_timeout": 0.2})
    published: list = []
    s.on_commit(published.extend)
    await s.open()
    s.published = published
    yield s
    await s.close()


def silence(sid="s1", state="active", comment="maintenance", ends="2030-01-01T00:00:00Z",
            cluster="default", **extra):
    return {"cluster": cluster, "id": sid,
            "matchers": [{"name": "alertname", "value": "X", "isRegex": False,
                          "isEqual": True}],
            "startsAt": "2026-01-01T00:00:00Z", "endsAt": ends, "createdBy": "ann",
            "comment": comment, "state": state, "ack": None, **extra}


async def test_one_event_per_change_whoever_records_it(store):
    created = await store.record_silences("default", [silence()], by="default")
    assert [(e.kind, e.silence["id"]) for e in created] == [("created", "s1")]
    # The watcher reads back what the bridge wrote: nothing new.
    assert await store.record_silences("default", [silence()], by=None) == []
    updated = await store.record_silences("default", [silence(comment="longer")], by=None)
    assert [e.kind for e in updated] == ["updated"]
    expired = await store.record_silences("default", [silence(state="expired",
                                                              comment="longer")], by="bob")
    assert [e.kind for e in expired] == ["expired"]
    assert await store.record_silences("default", [silence(state="expired")], by=None) == []
    frames = [json.loads(e.text) for e in created + updated + expired]
    assert [f["type"] for f in frames] == ["silence"] * 3
    assert [f["by"] for f in frames] == ["default", "ann", "bob"]
    assert [f["silence"]["comment"] for f in frames] == ["maintenance", "longer", "longer"]
    await asyncio.sleep(0.05)
    assert [e.seq for e in store.published] == [f["seq"] for f in frames]


async def test_silence_events_share_the_seq_of_alert_events(store):
    [fired] = await store.record([notice("A")])
    [made] = await store.record_silences("default", [silence()], by="default")
    [resolved] = await store.record([notice("A", status="resolved")])
    assert (fired.seq, made.seq, resolved.seq) == (fired.seq, fired.seq + 1, fired.seq + 2)
    assert isinstance(made, SilenceEvent) and made.id == f"{store.epoch}:{made.seq}"
    rows = await store.events_after(0, 10)
    assert [seq for seq, _ in rows] == [fired.seq, made.seq, resolved.seq]
    assert rows[1][1] == made.text
    _first, last = await store.bounds()
    assert last == resolved.seq


async def test_a_complete_list_forgets_and_expires_what_is_gone(store):
    await store.record_silences("default", [silence("a"), silence("b"), silence("c")],
                                by="default")
    await store.record_silences("default", [silence("c", state="expired")], by=None)
    fetched = await _now_ms(store)
    # a is gone while active, from this read and the previous one of the same peer
    # (Alertmanager lost it): expired; c gone while expired: forgotten.
    events = await store.record_silences("default", [silence("b")], by=None, fetched_ms=fetched,
                                         previous={"b"})
    assert [(e.kind, e.silence["id"], e.silence["state"]) for e in events] == [
        ("expired", "a", "expired")]
    known = {s["id"]: s["state"] for _, s in await store.known_silences()}
    assert known == {"a": "expired", "b": "active"}
    # Another cluster's rows are not touched by this cluster's list.
    await store.record_silences("other", [silence("z", cluster="other")], by=None)
    await store.record_silences("default", [], by=None, fetched_ms=await _now_ms(store))
    assert {s["id"] for _, s in await store.known_silences()} == {"b", "z"}


async def test_a_silence_missing_from_one_read_is_kept_and_a_wrong_expiry_is_undone(store):
    await store.record_silences("default", [silence("a")], by="default")
    # One read lacks it (a peer that has not caught up): no event, the row stays active.
    assert await store.record_silences("default", [], by=None,
                                       fetched_ms=await _now_ms(store), previous=None) == []
    assert {s["id"]: s["state"] for _, s in await store.known_silences()} == {"a": "active"}
    # Two reads of the same peer lack it: expired; then it shows up again: updated, active.
    [gone] = await store.record_silences("default", [], by=None,
                                         fetched_ms=await _now_ms(store), previous=set())
    back = await store.record_silences("default", [silence("a")], by=None,
                                       fetched_ms=await _now_ms(store), previous=set())
    assert [(e.kind, e.silence["state"]) for e in (gone, *back)] == [
        ("expired", "expired"), ("updated", "active")]
    assert {s["id"]: s["state"] for _, s in await store.known_silences()} == {"a": "active"}


async def test_a_list_fetched_before_a_write_does_not_undo_it(store):
    await store.record_silences("default", [silence()], by="default")
    fetched = await _now_ms(store) - 1000
    await store.record_silences("default", [silence(comment="new")], by="default")
    # The watcher's list predates the update (old comment) and lacks nothing else.
    assert await store.record_silences("default", [silence()], by=None,
                                       fetched_ms=fetched) == []
    [(_, body)] = await store.known_silences()
    assert body["comment"] == "new"


async def test_known_silences_carry_the_seq_of_their_last_event(store):
    [made] = await store.record_silences("default", [silence()], by="default")
    await store.record_silences("default", [silence(state="pending")], by=None)  # no event
    [(seq, body)] = await store.known_silences()
    assert seq == made.seq and body["state"] == "pending"


async def test_an_expired_silence_first_seen_is_quiet_unless_the_bridge_expired_it(store):
    assert await store.record_silences("default", [silence("old", state="expired")],
                                       by=None) == []
    [event] = await store.record_silences("default", [silence("mine", state="expired")],
                                          by="default")
    assert event.kind == "expired"


async def test_reset_forgets_silences(store):
    await store.record_silences("default", [silence()], by="default")
    await store.reset()
    assert await store.known_silences() == []
    [again] = await store.record_silences("default", [silence()], by=None)
    assert again.kind == "created" and again.epoch == store.epoch


async def _now_ms(store) -> int:
    from bridge.alerts.model import now_ms
    await asyncio.sleep(0.002)
    return now_ms()


async def test_filtered_history_pages_keep_silence_events(store):
    from bridge.alerts.matchers import parse_filters

    await store.record([notice("A"), notice("B")])
    [made] = await store.record_silences("default", [silence()], by="default")
    _first, last = await store.bounds()
    for text in ('alertname="A"', 'alertname!="A"', 'alertname=~"Z.*"'):
        page = await store.history(0, last, 100, parse_filters([text]))
        kinds = [json.loads(f)["type"] for f in page.frames]
        assert kinds[-1] == "silence" and page.frames[-1] == made.text, text
        assert kinds.count("alert") == {"alertname=\"A\"": 1, "alertname!=\"A\"": 1}.get(text, 0)
