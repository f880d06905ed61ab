"""Silence events on replicas sharing one PostgreSQL log: a silence one replica wrote and
another read back is one event, even when both record it at the same instant, and every replica
publishes it once, in seq order with the alert events."""

from __future__ import annotations

import asyncio

import pytest

from tests.bridge.alerts.helpers import notice, until
from tests.bridge.alerts.test_silence_store import silence


@pytest.fixture
async def pair(fleet):
    """Two replicas, and the (type, seq) of every event each published."""
    stores = await fleet(2)
    seen: list[list[tuple[str, int]]] = [[], []]
    for store, log in zip(stores, seen, strict=True):
        store.on_commit(lambda events, log=log: log.extend((e.type, e.seq) for e in events))
    return stores, seen


async def test_concurrent_recordings_on_two_replicas_are_one_event(pair):
    (a, b), seen = pair
    results = await asyncio.gather(
        a.record_silences("ha", [silence("s1")], by="default"),
        b.record_silences("ha", [silence("s1")], by=None),
        a.record([notice("A")]),
        b.record_silences("ha", [silence("s2")], by=None))
    events = [e for result in results for e in result]
    assert sorted((e.type, getattr(e, "kind", "")) for e in events) == [
        ("alert", "firing"), ("silence", "created"), ("silence", "created")]
    seqs = sorted(e.seq for e in events)
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    await until(lambda: len(seen[0]) == 3 and len(seen[1]) == 3)
    assert seen[0] == seen[1] == sorted(seen[0], key=lambda t: t[1])
    assert sorted(t for t, _ in seen[0]) == ["alert", "silence", "silence"]


async def test_a_replica_that_did_not_write_replays_and_knows_it(pair):
    (a, b), seen = pair
    [made] = await a.record_silences("ha", [silence("s1")], by="default")
    await until(lambda: ("silence", made.seq) in seen[1])
    [(seq, body)] = await b.known_silences()
    assert seq == made.seq and body["id"] == "s1"
    rows = await b.events_after(made.seq - 1, 10)
    assert rows == [(made.seq, made.text)]
