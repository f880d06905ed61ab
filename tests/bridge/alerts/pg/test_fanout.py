"""Publication on each replica (bridge/alerts/pg/fanout.py): a replica's own commit that other
replicas' commits precede is published from the notifications, in order, without reading the
log back."""

from __future__ import annotations

import asyncio
from collections import Counter

from bridge.alerts.pg.fanout import Fanout
from tests.bridge.alerts.helpers import notice, until
from tests.bridge.alerts.pg.test_store import watch


async def test_own_commits_behind_other_replicas_are_published_without_reading_the_log(
        fleet, monkeypatch):
    reads: Counter[int] = Counter()
    behind: Counter[int] = Counter()
    read, committed = Fanout._catch_up, Fanout.committed

    async def counting_read(self: Fanout) -> None:
        reads[id(self)] += 1
        await read(self)

    def counting_commit(self: Fanout, events: list) -> None:  # type: ignore[type-arg]
        if events and events[0].seq != self.last + 1:
            behind[id(self)] += 1
        committed(self, events)
    monkeypatch.setattr(Fanout, "_catch_up", counting_read)
    monkeypatch.setattr(Fanout, "committed", counting_commit)
    stores = await fleet(3, poll_interval=60.0)  # no safety-net reads during the test
    await until(lambda: all(s.fanout.listening for s in stores))
    await asyncio.sleep(0.3)  # the reads of the LISTEN sessions' start are done
    seen = [watch(s) for s in stores]
    reads.clear()
    for i in range(30):
        await asyncio.gather(*(s.record([notice(f"F{k}-{i}")]) for k, s in enumerate(stores)))
    await until(lambda: all(len(s) == 90 for s in seen))
    assert seen[0] == seen[1] == seen[2]
    assert [seq for _, seq, _ in seen[0]] == list(range(seen[0][0][1], seen[0][0][1] + 90))
    assert sum(behind.values()) >= 5  # the case happened (26 to 45 of the 90 commits, seen)
    assert sum(reads.values()) <= sum(behind.values()) // 4
