"""Reconciliation never resolves an alert just because a restarted Alertmanager forgot it.

A small fake Alertmanager (its alert list and its `uptime` are what these tests control) and an
injected clock drive `Reconciler.reconcile_once` against a real store, on each backend
(`alert_store`); the store's commits are what subscribers would be streamed. The real restart
is in alerts/test_integration.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from bridge.alerts.model import format_time, now_ms
from bridge.alerts.reconcile import Reconciler
from bridge.config import AlertmanagerConfig, ClusterConfig
from bridge.errors import UpstreamInvalid
from bridge.selfmetrics import BridgeMetrics
from bridge.upstream.alertmanager import Clusters
from tests.bridge.alerts.helpers import ONE_BACKEND, am_alert, make_store, notice, until

RESEND = 60.0


class Clock:
    """Milliseconds since the epoch, moved by hand. It starts a second ahead of the real time
    the store stamps webhooks with, so what a test records comes before its first fetch."""

    def __init__(self) -> None:
        self.ms = now_ms() + 1000

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


class FakeAlertmanager:
    """GET /api/v2/alerts and /api/v2/status with a settable list and start time."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.started_ms = 0
        self.status: Any = None  # overrides the /api/v2/status body when set
        self.app = web.Application()
        self.app.router.add_get("/api/v2/alerts", self._alerts)
        self.app.router.add_get("/api/v2/status", self._status)

    def restart(self, at_ms: int) -> None:
        """What a real restart does to its state: the alerts are gone, uptime starts again."""
        self.alerts, self.started_ms = [], at_ms

    async def _alerts(self, request: web.Request) -> web.Response:
        return web.json_response(self.alerts)

    async def _status(self, request: web.Request) -> web.Response:
        body = self.status if self.status is not None else {
            "uptime": format_time(self.started_ms), "cluster": {"status": "disabled"}}
        return web.json_response(body)


@dataclass
class Rig:
    fake: FakeAlertmanager
    store: Any  # the AlertLog of the test's backend
    clock: Clock
    make: Callable[..., Awaitable[Reconciler]]
    streamed: list[tuple[str, str, str]]  # (alertname, event, source) as committed


@pytest.fixture
async def rig(aiohttp_server, tmp_path, alert_store):
    fake = FakeAlertmanager()
    server = await aiohttp_server(fake.app)
    store = await leading_store(tmp_path, alert_store)
    streamed: list[tuple[str, str, str]] = []
    store.on_commit(lambda events: streamed.extend(
        (e.alert["labels"]["alertname"], e.kind, e.source) for e in events))
    clock = Clock()
    fake.started_ms = clock() - 3_600_000  # up for an hour unless a test restarts it
    made: list[tuple[Reconciler, Clusters]] = []

    async def make(resend: float = RESEND, interval: float = 0.0) -> Reconciler:
        config = AlertmanagerConfig(url=str(server.make_url("")).rstrip("/"),
                                    reconcile_interval=interval, timeout=2.0)
        clusters = Clusters(config, BridgeMetrics())
        await clusters.open()
        reconciler = Reconciler(clusters.get("default"), store, config,
                                resend_interval=resend, clock=clock)
        made.append((reconciler, clusters))
        return reconciler
    yield Rig(fake, store, clock, make, streamed)
    for reconciler, clusters in made:
        await reconciler.stop()
        await clusters.close()
    await store.close()


async def leading_store(data_dir: Any, alerts: dict[str, Any]) -> Any:
    """An opened store that leads (reconciles): at once on SQLite, once its leader session holds
    the lock on PostgreSQL."""
    store = make_store(data_dir, alerts)
    await store.open()
    await until(lambda: store.leader)
    return store


def listed(name: str) -> dict[str, Any]:
    """The alert `firing` recorded, as Alertmanager's list shows it (same annotations)."""
    listed = am_alert(name, annotations={"summary": "s"})
    listed["status"] = {"state": "active", "silencedBy": [], "inhibitedBy": []}  # the API's
    return listed


async def firing(store: Any, *names: str) -> None:
    """The alerts as the webhook reported them: firing."""
    await store.record([notice(name) for name in names])


async def test_a_restarted_alertmanager_empty_list_resolves_nothing(rig):
    await firing(rig.store, "HostDown")
    reconciler = await rig.make()
    rig.fake.restart(rig.clock() - 8_000)  # restarted 8 s ago: its list is empty
    rig.streamed.clear()
    assert await reconciler.reconcile_once() == 0
    assert reconciler.status()["held"] == 1
    rig.clock.advance(52)  # Alertmanager up 60 s, but the alert missing for only 52 of them
    assert await reconciler.reconcile_once() == 0
    # Prometheus re-sent it: back in the list, no longer held, and nothing was ever streamed.
    rig.fake.alerts = [listed("HostDown")]
    rig.clock.advance(10)
    assert await reconciler.reconcile_once() == 0
    assert reconciler.status()["held"] == 0 and rig.streamed == []


async def test_missing_across_the_interval_of_uptime_is_resolved(rig):
    await firing(rig.store, "HostDown")
    reconciler = await rig.make()
    rig.fake.restart(rig.clock() - 8_000)
    rig.streamed.clear()
    await reconciler.reconcile_once()
    rig.clock.advance(59.9)
    assert await reconciler.reconcile_once() == 0
    rig.clock.advance(0.1)  # missing for the whole 60 s, Alertmanager up 68 s
    assert await reconciler.reconcile_once() == 1
    assert rig.streamed == [("HostDown", "resolved", "reconcile")]
    assert reconciler.status()["held"] == 0


async def test_missing_from_a_long_running_alertmanager_waits_the_interval_too(rig):
    """Only after it has been missing across the interval: one empty answer is not enough."""
    await firing(rig.store, "HostDown", "DiskFull")
    rig.fake.alerts = [listed("DiskFull")]
    reconciler = await rig.make()
    rig.streamed.clear()
    assert await reconciler.reconcile_once() == 0
    rig.clock.advance(30)
    assert await reconciler.reconcile_once() == 0
    rig.clock.advance(30)
    assert await reconciler.reconcile_once() == 1
    assert rig.streamed == [("HostDown", "resolved", "reconcile")]


async def test_an_alert_seen_again_starts_its_interval_afresh(rig):
    await firing(rig.store, "HostDown")
    reconciler = await rig.make()
    rig.streamed.clear()
    await reconciler.reconcile_once()  # missing (first seen so)
    rig.clock.advance(40)
    rig.fake.alerts = [listed("HostDown")]
    await reconciler.reconcile_once()  # present again
    rig.fake.alerts = []
    rig.clock.advance(40)
    assert await reconciler.reconcile_once() == 0  # missing 80 s ago, but only since 0 s
    rig.clock.advance(59)
    assert await reconciler.reconcile_once() == 0
    rig.clock.advance(1)
    assert await reconciler.reconcile_once() == 1
    assert rig.streamed == [("HostDown", "resolved", "reconcile")]


async def test_a_restart_inside_the_interval_restarts_it(rig):
    await firing(rig.store, "HostDown")
    reconciler = await rig.make()
    rig.streamed.clear()
    await reconciler.reconcile_once()  # missing from a long-running Alertmanager
    rig.clock.advance(50)
    rig.fake.restart(rig.clock())
    rig.clock.advance(11)  # missing for 61 s, but Alertmanager up for only 11 s
    assert await reconciler.reconcile_once() == 0
    rig.clock.advance(48)
    assert await reconciler.reconcile_once() == 0
    rig.clock.advance(1)  # up for 60 s, missing all of them
    assert await reconciler.reconcile_once() == 1
    assert rig.streamed == [("HostDown", "resolved", "reconcile")]


async def test_webhook_resolved_notices_are_not_delayed(rig):
    await firing(rig.store, "HostDown")
    reconciler = await rig.make()
    rig.fake.restart(rig.clock())
    await reconciler.reconcile_once()
    assert reconciler.status()["held"] == 1
    rig.streamed.clear()
    (event,) = await rig.store.record([notice("HostDown", status="resolved")])
    assert (event.kind, event.source) == ("resolved", "alertmanager")
    rig.clock.advance(120)
    assert await reconciler.reconcile_once() == 0  # nothing left to resolve
    assert reconciler.status()["held"] == 0
    assert rig.streamed == [("HostDown", "resolved", "alertmanager")]


async def test_zero_interval_resolves_at_once(rig):
    await firing(rig.store, "HostDown")
    reconciler = await rig.make(resend=0)
    rig.fake.restart(rig.clock())
    rig.streamed.clear()
    assert await reconciler.reconcile_once() == 1
    assert rig.streamed == [("HostDown", "resolved", "reconcile")]


@ONE_BACKEND
async def test_a_webhook_report_after_the_first_miss_moves_the_interval(rig):
    """seen_ms (a webhook re-send proves Alertmanager had it) counts as present."""
    reconciler = await rig.make()
    fetched = rig.clock()
    reconciler.missing = {"fp": fetched - 60_000}  # first seen missing 60 s ago
    may_resolve = reconciler._policy(fetched, rig.fake.started_ms)
    assert may_resolve("fp", fetched - 3_600_000) is True  # last webhook an hour ago
    assert may_resolve("fp", fetched - 59_999) is False  # a webhook had it since
    assert may_resolve("other", 0) is False  # missing for the first time now


@ONE_BACKEND
@pytest.mark.parametrize("status", [{}, {"uptime": 5}, {"uptime": "yesterday"}, []])
async def test_a_status_without_uptime_fails_the_run_and_changes_nothing(rig, status):
    await firing(rig.store, "HostDown")
    rig.fake.status = status
    reconciler = await rig.make(resend=0)
    rig.streamed.clear()
    with pytest.raises(UpstreamInvalid, match="uptime"):
        await reconciler.reconcile_once()
    assert rig.streamed == []


async def test_a_held_alert_gets_its_own_run_when_due(rig):
    """With periodic reconciliation off (interval 0), a held alert is still resolved when its
    interval has passed: the reconciler schedules that run itself (real clock here)."""
    await firing(rig.store, "HostDown")
    reconciler = await rig.make(resend=0.3, interval=0)
    reconciler.clock = now_ms
    rig.fake.restart(now_ms())
    rig.streamed.clear()
    committed = asyncio.Event()
    # Runs finished when the resolution was committed: read in the commit itself, since a run
    # is counted once its write returns, which on PostgreSQL is after the event is published.
    finished: list[int] = []
    rig.store.on_commit(lambda events: (finished.append(reconciler.runs), committed.set()))
    await reconciler.start()
    await asyncio.wait_for(committed.wait(), timeout=10)
    assert rig.streamed == [("HostDown", "resolved", "reconcile")]
    assert finished[0] >= 1  # the start-up run held it, a later one resolved it


class FailingStatus(FakeAlertmanager):
    """A peer that answers the list, then dies before its /api/v2/status (500 from then on)."""

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="going down")


async def test_list_and_uptime_always_come_from_the_same_peer(aiohttp_server, tmp_path,
                                                              alert_store):
    """Peer 1 restarted a moment ago (empty list) and fails before its uptime is read; peer 2,
    up for an hour, answers the uptime. Its uptime must not vouch for peer 1's empty list:
    the list is read again from peer 2, which has the alert."""
    first, second = FailingStatus(), FakeAlertmanager()
    clock = Clock()
    second.started_ms = clock() - 3_600_000
    second.alerts = [listed("HostDown")]
    urls = [str((await aiohttp_server(f.app)).make_url("")).rstrip("/") for f in (first, second)]
    store = await leading_store(tmp_path, alert_store)
    config = AlertmanagerConfig(clusters=(ClusterConfig("ha", tuple(urls)),), timeout=2.0)
    clusters = Clusters(config, BridgeMetrics())
    await clusters.open()
    try:
        (event,) = await store.record([notice("HostDown", cluster="ha")])
        reconciler = Reconciler(clusters.get("ha"), store, config, RESEND, clock=clock)
        clock.advance(120)
        reconciler.missing = {event.key[1]: clock() - 120_000}  # missing for 2 min already
        assert await reconciler.reconcile_once() == 0
        assert reconciler.status()["held"] == 0  # present in peer 2's list
        assert clusters.get("ha").active_url == urls[1]
        # Both answers from one peer: peer 2's empty list, its long uptime: resolved.
        second.alerts = []
        reconciler.missing = {event.key[1]: clock() - 120_000}
        assert await reconciler.reconcile_once() == 1
    finally:
        await clusters.close()
        await store.close()
