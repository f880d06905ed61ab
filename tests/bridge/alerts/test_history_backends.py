"""History filters, timelines and backfill writes, on both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from bridge.alerts.episodes import Episode
from bridge.alerts.hub import AlertHub
from bridge.alerts.model import Notice, fingerprint, format_time, now_ms, parse_time
from bridge.alerts.query import EventQuery
from bridge.alerts.selection import Selection
from bridge.selfmetrics import BridgeMetrics
from tests.bridge.alerts.helpers import make_store, notice, until


@pytest.fixture
async def store(tmp_path, alert_store):
    made = make_store(tmp_path, alert_store)
    await made.open()
    yield made
    await made.close()


def frames(page) -> list[dict]:
    return [json.loads(f) for f in page.frames]


async def fill(store) -> list:
    events = []
    for i in range(6):
        events += await store.record([notice(f"A{i % 2}", starts=f"2026-01-01T00:0{i}:00Z")])
    events += await store.record([notice("A0", status="resolved",
                                         starts="2026-01-01T00:04:00Z")])
    return events


async def test_kinds_and_times_filter_history(store):
    events = await fill(store)
    last = events[-1].seq
    page = await store.history(0, last, 100, EventQuery(kinds=frozenset({"resolved"})))
    assert [f["event"] for f in frames(page)] == ["resolved"]
    stamps = [parse_time(json.loads(e.text)["timestamp"]) for e in events]
    query = EventQuery(start_ms=stamps[2], end_ms=stamps[4])
    got = [f["seq"] for f in frames(await store.history(0, last, 100, query))]
    assert got == [e.seq for e, at in zip(events, stamps, strict=True)
                   if stamps[2] <= at <= stamps[4]]
    none = EventQuery(start_ms=stamps[-1] + 1)
    assert (await store.history(0, last, 100, none)).frames == []


async def test_cluster_filter_defaults_alerts_without_one_to_default(store):
    events = await fill(store)
    last = events[-1].seq
    def of(cluster):
        return EventQuery(Selection(state="all", cluster=cluster))
    assert len(frames(await store.history(0, last, 100, of("default")))) == 7
    assert frames(await store.history(0, last, 100, of("other"))) == []


async def test_pagination_by_seq_still_holds_with_filters(store):
    events = await fill(store)
    query = EventQuery(kinds=frozenset({"firing", "refired"}))
    seen, since = [], 0
    while True:
        page = await store.history(since, events[-1].seq, 2, query)
        seen += [f["seq"] for f in frames(page)]
        if page.cut >= events[-1].seq or not page.scanned:
            break
        since = page.cut
    assert seen == [e.seq for e in events if e.kind in ("firing", "refired")]


async def test_timeline_is_one_alerts_events_in_seq_order_paged(store):
    events = await fill(store)
    fp = fingerprint({"alertname": "A0", "instance": "h1:9100"})
    mine = [e.seq for e in events if e.alert["fingerprint"] == fp]
    assert len(mine) == 4
    whole = await store.timeline(events[0].alert["fingerprint"], None, 0, 1000)
    assert whole.clusters == ["default"] and whole.next is None
    assert [json.loads(f)["seq"] for f in whole.frames] == mine
    first = await store.timeline(events[0].alert["fingerprint"], None, 0, 2)
    assert [json.loads(f)["seq"] for f in first.frames] == [
        json.loads(f)["seq"] for f in whole.frames][:2]
    rest = await store.timeline(events[0].alert["fingerprint"], "default", first.next, 1000)
    assert [json.loads(f)["seq"] for f in first.frames + rest.frames] == [
        json.loads(f)["seq"] for f in whole.frames]
    assert (await store.timeline(events[0].alert["fingerprint"], "other", 0, 10)).frames == []
    assert (await store.timeline("nope", None, 0, 10)).clusters == []


def old_episode(name: str, hours_ago: float, minutes: float = 10) -> Episode:
    labels = {"alertname": name, "instance": "h1:9100"}
    starts = now_ms() - int(hours_ago * 3_600_000)
    return Episode(fingerprint(labels), labels, starts, starts + int(minutes * 60_000))


async def test_backfill_writes_history_once_and_never_state(store):
    hub = AlertHub(BridgeMetrics(), heartbeat=60, queue_limit=100, max_subscribers=10)
    store.on_commit(hub.publish)
    firing = Notice(fingerprint=fingerprint({"alertname": "Now", "instance": "h1:9100"}),
                    status="firing", labels={"alertname": "Now", "instance": "h1:9100"},
                    annotations={}, starts_ms=now_ms() - 3_600_000 * 5, ends_ms=None,
                    generator_url="", source="alertmanager")
    live = await store.record([firing])
    hub.epoch, hub.last_seq = live[0].epoch, live[0].seq
    hub.firing = {firing.fingerprint: live[0].alert}
    fresh = old_episode("Gone", 3)
    during = Episode(firing.fingerprint, firing.labels, firing.starts_ms + 60_000,
                     firing.starts_ms + 120_000)  # inside the life the log knows
    before = Episode(firing.fingerprint, firing.labels, firing.starts_ms - 7_200_000,
                     firing.starts_ms - 3_600_000)  # an earlier life of a firing alert
    written = await store.backfill([fresh, during, before], "default")
    kinds = [(e.alert["fingerprint"], e.kind) for e in written]
    assert kinds == [(before.fingerprint, "firing"), (before.fingerprint, "resolved"),
                     (fresh.fingerprint, "firing"), (fresh.fingerprint, "resolved")]
    for event in written:
        frame = json.loads(event.text)
        assert frame["alert"]["source"] == "prometheus" and frame["alert"]["cluster"] == "default"
        assert frame["timestamp"] == format_time(
            before.starts_ms if event.alert["fingerprint"] == before.fingerprint
            and event.kind == "firing" else parse_time(frame["timestamp"]))
    assert await store.backfill([fresh, during, before], "default") == []  # idempotent
    await until(lambda: hub.last_seq == written[-1].seq)
    assert set(hub.firing) == {firing.fingerprint}  # the firing alert is still firing
    # A late duplicate resolved webhook for the backfilled life is no event.
    late = Notice(fingerprint=fresh.fingerprint, status="resolved", labels=fresh.labels,
                  annotations={}, starts_ms=fresh.starts_ms, ends_ms=fresh.ends_ms,
                  generator_url="", source="alertmanager")
    assert await store.record([late]) == []
    # The firing alert's row is untouched: a resolved webhook for it still resolves it.
    done = await store.record([Notice(**{**_fields(firing), "status": "resolved"})])
    assert [e.kind for e in done] == ["resolved"]
    timeline = await store.timeline(firing.fingerprint, None, 0, 100)
    assert [json.loads(f)["event"] for f in timeline.frames] == [
        "firing", "firing", "resolved", "resolved"]


def _fields(n: Notice) -> dict:
    return {k: getattr(n, k) for k in n.__slots__}
