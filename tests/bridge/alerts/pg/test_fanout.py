"""Publication on each replica (bridge/alerts/pg/fanout.py): a replica's own commit that other
replicas' commits precede is published from the notifications, in order, without reading the
log back."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from bridge.alerts.pg import fanout as fanout_module
from bridge.alerts.pg import sql
from bridge.alerts.pg.fanout import Fanout, event_from_frame
from bridge.config import AlertsConfig
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
    # A slow machine's LISTEN session may take longer than the grace to bring the commits
    # before an own one: what is counted is reads that the notifications made needless.
    monkeypatch.setattr(fanout_module, "NOTIFY_GRACE", 5.0)
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


def _frame(seq: int, epoch: str) -> str:
    return json.dumps({"type": "alert", "seq": seq, "epoch": epoch, "event": "firing",
                       "alert": {"source": "webhook", "labels": {"alertname": "A"}}},
                      separators=(",", ":"))


async def test_an_own_commit_in_a_new_epoch_waits_for_the_read_that_announces_the_reset():
    """A reset on another replica, then this replica's commit in the new epoch, heard before
    the read that brings the reset: nothing of the new epoch is published before the reset."""
    published: list[tuple[str, int]] = []
    fanout = Fanout(AlertsConfig(), lambda: None,  # type: ignore[arg-type,return-value]
                    lambda events: published.extend((e.epoch, e.seq) for e in events),
                    lambda epoch: None, lambda reason: None, lambda: None)
    fanout.last, fanout.epoch, fanout.listening = 10, "old", True
    text = _frame(11, "new")
    fanout.committed([event_from_frame(text)])  # type: ignore[list-item]
    fanout._notified(None, 0, sql.CHANNEL, text)
    assert published == []
    assert fanout._wake.is_set()  # the read publishes the reset, then these events


async def test_a_reset_wakes_every_replica_at_once(fleet):
    a, b = await fleet(2, poll_interval=60.0)  # no safety-net read would bring it in time
    await until(lambda: a.fanout.listening and b.fanout.listening)
    seen = watch(b)
    await a.record([notice("Before")])
    await until(lambda: len(seen) == 1)
    new = await a.reset()
    await until(lambda: b.epoch == new)
