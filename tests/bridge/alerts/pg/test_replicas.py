"""Bridge replicas as real processes sharing one PostgreSQL log: migrations at once, one event
per notification whichever replica gets it, every event on every replica's streams with the same
(epoch, seq), gapless reads under concurrent writers, and one leader at a time."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from bridge.alerts.pg import sql
from tests import servers
from tests.bridge.alerts.helpers import am_alert, payload
from tests.bridge.alerts.pg.replicas import (
    Subscriber,
    alerts_check,
    current_names,
    eventually,
    post,
    post_alerts,
    replica,
    running,
)
from tests.pg import PASSWORD

pytestmark = pytest.mark.integration


def fleet(tmp_path, url, count, **alerts):
    return [replica(tmp_path, f"r{i}", url, **alerts) for i in range(count)]


def test_two_replicas_starting_at_once_both_migrate(tmp_path, pg_url, pg_server):
    with running(fleet(tmp_path, pg_url, 2)) as (a, b):
        first, second = alerts_check(a), alerts_check(b)
        assert first["store"]["ok"] and second["store"]["ok"]
        assert first["store"]["epoch"] == second["store"]["epoch"]
        assert first["store"]["database"].startswith("postgresql://postgres@127.0.0.1:")
        assert PASSWORD not in str(first) and PASSWORD not in a.log() + b.log()
        assert post_alerts(a, am_alert("Migrated"))[0] == 200
    database = pg_url.rsplit("/", 1)[1]
    # Each migration once, whichever replica ran it.
    assert pg_server.psql("SELECT version, name FROM schema_migrations ORDER BY version",
                          database).splitlines() == \
        [f"{version}|{name}" for version, name, _ in sql.MIGRATIONS]


def test_the_same_webhook_posted_to_two_replicas_at_once_is_stored_once(tmp_path, pg_url):
    with running(fleet(tmp_path, pg_url, 2)) as (a, b), ThreadPoolExecutor(8) as pool:
        for i in range(25):
            body = am_alert(f"Twin{i}", severity="critical")
            barrier = threading.Barrier(2)

            def send(proc, body=body, barrier=barrier):
                barrier.wait()
                return post_alerts(proc, body)
            answers = list(pool.map(send, (a, b)))
            assert [status for status, _ in answers] == [200, 200]
            assert sum(reply["events"] for _, reply in answers) == 1
        _, history = servers.http_json(b.url + "/api/alerts/history?limit=1000")
        assert [e["seq"] for e in history["events"]] == list(range(1, 26))
        assert len({e["alert"]["fingerprint"] for e in history["events"]}) == 25


async def test_writers_on_three_replicas_reach_every_subscriber_in_order(tmp_path, pg_url):
    """Webhooks on three replicas at once; subscribers on all three get every event, once, in
    seq order, with the same (epoch, seq) and frame; a reader paging the history of one replica
    meanwhile never finds a hole it later sees filled."""
    with running(fleet(tmp_path, pg_url, 3)) as procs:
        subs = [await Subscriber(p).ready() for p in procs for _ in range(2)]
        stop = threading.Event()
        pages: list[list[int]] = []

        def read() -> None:
            since = 0
            while True:
                finished = stop.is_set()
                _, body = servers.http_json(f"{procs[2].url}/api/alerts/history?since={since}"
                                            "&limit=1000")
                seqs = [e["seq"] for e in body["events"]]
                if seqs:
                    assert seqs == list(range(since + 1, since + 1 + len(seqs))), seqs[:3]
                    pages.append(seqs)
                    since = seqs[-1]
                elif finished:
                    return

        def write(k: int) -> int:
            stored = 0
            for i in range(30):
                status, reply = post_alerts(procs[k], am_alert(f"W{k}-{i}"),
                                            am_alert(f"V{k}-{i}"))
                assert status == 200
                stored += reply["events"]
            return stored
        reader = asyncio.create_task(asyncio.to_thread(read))
        with ThreadPoolExecutor(3) as pool:
            total = sum(await asyncio.gather(*(asyncio.wrap_future(pool.submit(write, k))
                                               for k in range(3))))
        stop.set()
        await reader
        assert total == 180 and sum(map(len, pages)) == 180
        await eventually(lambda: all(len(s.alerts()) == total for s in subs), 30,
                         "every subscriber to get every event")
        reference = subs[0].alerts()
        assert [f["seq"] for f in reference] == list(range(1, total + 1))
        for sub in subs[1:]:
            assert sub.alerts() == reference
        for sub in subs:
            await sub.stop()


async def test_killing_the_leader_hands_reconciliation_to_another_replica(tmp_path, pg_url):
    am_port = servers.free_port()
    am = servers.alertmanager(tmp_path / "am", {
        "route": {"receiver": "none"}, "receivers": [{"name": "none"}]}, port=am_port).start()
    try:
        procs = fleet(tmp_path, pg_url, 3, leader_retry=1.0)
        for proc in procs:
            proc.argv += ["--alertmanager-url", am.url]
        with running(procs):
            def leaders():
                checks = {p.name: alerts_check(p) for p in procs if p.running}
                leading = [name for name, c in checks.items() if c["leader"]]
                named = {c["store"]["leader_replica"] for c in checks.values()}
                return leading if len(leading) == 1 and named == set(leading) else None
            (first,) = await eventually(leaders, 30, "one leader named by every replica")
            leader = next(p for p in procs if p.name == first)
            await eventually(lambda: alerts_check(leader)["reconcile"]["runs"] > 0, 30,
                             "the leader to reconcile")
            others = [p for p in procs if p is not leader]
            assert all(alerts_check(p)["reconcile"]["running"] is False for p in others)
            leader.kill()  # SIGKILL: its session, and so its lock, end with it
            (second,) = await eventually(leaders, 30, "a new leader")
            assert second != first
            successor = next(p for p in procs if p.name == second)
            await eventually(lambda: alerts_check(successor)["reconcile"]["runs"] > 0, 30,
                             "the successor to reconcile")
            assert alerts_check(successor)["reconcile"]["ok"] is True
    finally:
        am.stop()


def am_push(am_url: str, name: str) -> None:
    """One firing alert into Alertmanager, as Prometheus sends it."""
    body = [{"labels": {"alertname": name}, "annotations": {"summary": name},
             "generatorURL": "http://prometheus/graph"}]
    req = urllib.request.Request(f"{am_url}/api/v2/alerts", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


async def test_a_truncated_webhook_on_a_follower_makes_the_leader_reconcile_now(tmp_path,
                                                                             pg_url):
    """The follower that took the webhook cannot reconcile: it NOTIFYs, and the leader asks
    Alertmanager at once (the hour-long interval would not have come round)."""
    am = servers.alertmanager(tmp_path / "am", {
        "route": {"receiver": "none"}, "receivers": [{"name": "none"}]}).start()
    try:
        procs = fleet(tmp_path, pg_url, 2, reconcile_interval=3600.0, ack_extend=False)
        for proc in procs:
            proc.argv += ["--alertmanager-url", am.url]
        with running(procs):
            def leader():
                leading = [p for p in procs if alerts_check(p)["leader"]]
                return leading[0] if len(leading) == 1 else None
            lead = await eventually(leader, 30, "one leader")
            follower = next(p for p in procs if p is not lead)
            await eventually(lambda: alerts_check(lead)["reconcile"]["runs"] > 0, 30,
                             "the leader's first reconciliation")
            runs = alerts_check(lead)["reconcile"]["runs"]
            am_push(am.url, "OnlyInAlertmanager")
            status, _ = post(follower, payload(am_alert("Told")))
            assert status == 200
            await eventually(lambda: "Told" in current_names(lead), 10, "the plain webhook")
            assert "OnlyInAlertmanager" not in current_names(lead)  # no reconcile yet
            assert alerts_check(lead)["reconcile"]["runs"] == runs
            status, _ = post(follower, {**payload(am_alert("Told")), "truncatedAlerts": 1})
            assert status == 200
            await eventually(lambda: "OnlyInAlertmanager" in current_names(follower), 20,
                             "the alert only a reconciliation finds, on the follower")
            await eventually(lambda: alerts_check(lead)["reconcile"]["runs"] > runs, 10,
                             "the leader's count of runs")
            assert alerts_check(follower)["reconcile"]["running"] is False
    finally:
        am.stop()
