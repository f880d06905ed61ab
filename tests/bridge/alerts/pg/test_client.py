"""The Python client on replicas of one PostgreSQL log: given every replica's URL, it outlives
the SIGKILL of the one it follows by resuming on the next with `since` and `epoch`, and gets
every event exactly once, in order, with no resync (one log, one epoch). Between bridges on
separate SQLite logs the same rotation must resync instead: tests/bridge/client/test_rotation.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bridge.client import RECONNECTING, AlertsClient
from tests.bridge.alerts.helpers import am_alert
from tests.bridge.alerts.pg.replicas import current_names, post_alerts, replica, running
from tests.bridge.alerts.test_integration import Follower
from tests.bridge.client.helpers import until
from tests.servers import Process

pytestmark = pytest.mark.integration


class WebhookChurn:
    """Alert changes posted as webhooks to one replica until stopped: a new alert fires every
    step and every third step resolves the oldest still firing. `seqs` are the replies' seqs
    (the last event each post stored)."""

    def __init__(self, writer: Process) -> None:
        self.writer = writer
        self.count = 0
        self.seqs: list[int] = []
        self._firing: list[str] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def post(self, *alerts: dict[str, Any]) -> int:
        status, body = await asyncio.to_thread(post_alerts, self.writer, *alerts)
        assert status == 200, body
        self.seqs.append(body["seq"])
        return int(body["seq"])

    async def _run(self) -> None:
        while not self._stop.is_set():
            self.count += 1
            name = f"Churn{self.count:03d}"
            self._firing.append(name)
            alerts = [am_alert(name)]
            if self.count % 3 == 0:
                alerts.append(am_alert(self._firing.pop(0), status="resolved"))
            await self.post(*alerts)
            await asyncio.sleep(0.1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


async def test_the_client_resumes_on_another_replica_exactly_once_without_resync(
        tmp_path: Path, pg_url: str) -> None:
    procs = [replica(tmp_path, f"r{i}", pg_url) for i in range(3)]
    with running(procs) as (doomed, survivor, writer):
        # The client follows r0 first (its first URL), then hops to r1; webhooks go to r2.
        client = AlertsClient([p.url for p in procs], backoff_base=0.2, backoff_cap=1.0,
                              heartbeat_timeout=10)
        churn = WebhookChurn(writer)
        sub = Follower()
        others: list[dict[str, Any]] = []
        resynced: list[dict[str, Any]] = []
        gap: list[int] = []
        killed = False

        def deliver(frame: dict[str, Any]) -> None:
            (sub.apply if frame["type"] == "alert" else others.append)(frame)

        async def on_state(state: str, _detail: str) -> None:
            # The client awaits this before it reconnects: a change stored now is one it can
            # only get from the replay after `since` on the next replica.
            if state == RECONNECTING and killed and not gap:
                gap.append(await churn.post(am_alert("DuringTheGap")))

        client.set_callback(deliver)
        client.set_resync_callback(resynced.append)
        client.set_state_callback(on_state)
        try:
            async with client:
                await until(lambda: client.epoch is not None)
                epoch = client.epoch
                churn.start()
                await until(lambda: len(sub.received) >= 8)
                assert client.http_base == doomed.url
                killed = True
                await asyncio.to_thread(doomed.kill)  # no goodbye, alerts still changing
                before = len(sub.received)
                await until(lambda: gap and len(sub.received) > before + 8)
                await churn.stop()
                last = max(churn.seqs)
                await until(lambda: client.seq == last)
        finally:
            await churn.stop()
        assert client.http_base == survivor.url
        assert [a.bridge for a in client.attempts if a.ok] == [doomed.url, survivor.url]
        # One snapshot, the first, and never a resync: the hop was a resume on the same log.
        assert [(f["type"], f["epoch"], f["resynced"]) for f in others] == \
            [("snapshot", epoch, False)]
        assert resynced == [] and client.resyncs == 0 and client.epoch == epoch
        # Every event of the log once, in seq order, from the first after the snapshot.
        assert {f["epoch"] for f in sub.received} == {epoch}
        assert sub.received[0]["seq"] == others[0]["seq"] + 1
        log = await asyncio.to_thread(sub.check_exactly_once, survivor)
        assert log[-1]["seq"] == last and gap[0] <= last
        assert {f["alert"]["labels"]["alertname"] for f in sub.received
                if f["seq"] == gap[0]} == {"DuringTheGap"}
        firing = {a["labels"]["alertname"] for a in client.firing}
        assert firing == sub.state == await asyncio.to_thread(current_names, writer)
