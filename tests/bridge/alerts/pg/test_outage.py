"""PostgreSQL stopped for 20 s under two replicas and a real Alertmanager: webhooks get 503 and
Alertmanager retries them, /ready is 503, /health degraded, streams get a `status` frame and
stay open; when it is back every replica catches up and nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from tests import servers
from tests.bridge.alerts.helpers import am_alert
from tests.bridge.alerts.pg.replicas import (
    TOKEN,
    Subscriber,
    alerts_check,
    eventually,
    post_alerts,
    replica,
    running,
)
from tests.bridge.alerts.test_integration import am_active, am_config
from tests.pg import postgres

pytestmark = pytest.mark.integration
OUTAGE = 20.0


def fire(am_url: str, name: str) -> None:
    """What Prometheus does: post a firing alert to Alertmanager's API."""
    body = [{"labels": {"alertname": name, "instance": "churn:9100"},
             "annotations": {"summary": name}, "startsAt": "2026-01-01T00:00:00Z",
             "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}]
    req = urllib.request.Request(f"{am_url}/api/v2/alerts", data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5):
        pass


def failed_notifications(am_url: str) -> float:
    _, body = servers.http_get(am_url + "/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("alertmanager_notifications_failed_total")
               and 'integration="webhook"' in line)


def ready(proc: servers.Process) -> tuple[int, dict]:
    return servers.http_json(proc.url + "/ready")


async def test_postgres_down_for_20s_webhooks_503_then_everything_caught_up(node_stack,
                                                                            tmp_path):
    port = servers.free_port()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    am = servers.alertmanager(tmp_path / "am", am_config(port, token_file)).start()
    with postgres() as pg:
        url = pg.create_database("outage")
        procs = [replica(tmp_path, f"r{i}", url, prometheus_url=node_stack.prometheus.url,
                         port=port if i == 0 else None) for i in range(3)]
        late = procs.pop()  # starts while the database is down
        try:
            with running(procs) as (front, other):
                subs = [await Subscriber(p).ready() for p in procs]
                fire(am.url, "BeforeOutage")
                await eventually(lambda: all(len(s.alerts()) == 1 for s in subs), 30,
                                 "the first event everywhere")
                assert [ready(p)[0] for p in procs] == [200, 200]
                failed_before = failed_notifications(am.url)

                await asyncio.to_thread(pg.stop)
                stopped = time.monotonic()
                for name in ("DuringOutage1", "DuringOutage2"):
                    fire(am.url, name)
                status, body = post_alerts(other, am_alert("Direct"))
                assert (status, body["error"]) == (503, "storage_unavailable")
                await eventually(lambda: all(ready(p)[0] == 503 for p in procs), 15,
                                 "/ready 503 on both replicas")
                # /health shares its probes for a second: it says so at the next one.
                await eventually(lambda: servers.http_json(front.url + "/health")[1]["status"]
                                 == "degraded", 15, "/health degraded")
                check = alerts_check(front)
                assert check["ok"] is False and check["store"]["ok"] is False
                assert "alert database" in check["store"]["error"]
                await eventually(lambda: all(any(f["type"] == "status" and f["store"] == "down"
                                                 for f in s.frames) for s in subs), 15,
                                 "a status down frame on every stream")
                # Alertmanager got 503 and keeps retrying (nothing is dropped by a 4xx).
                await eventually(lambda: failed_notifications(am.url) > failed_before, 30,
                                 "Alertmanager to see a failed delivery")
                await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
                assert all(s.closed is None for s in subs)  # the sockets stayed open
                await asyncio.to_thread(late.start)  # serves, and keeps trying the database
                assert ready(late)[0] == 503 and alerts_check(late)["store"]["ok"] is False

                await asyncio.to_thread(pg.start)
                want = {"BeforeOutage", "DuringOutage1", "DuringOutage2"}
                assert am_active(am.url) == want

                def caught_up() -> bool:
                    return all({f["alert"]["labels"]["alertname"] for f in s.alerts()} == want
                               for s in subs)
                await eventually(caught_up, 90, "every replica's stream to catch up")
                await eventually(lambda: all(ready(p)[0] == 200 for p in procs), 30,
                                 "/ready 200 again")
                assert all(any(f["type"] == "status" and f["store"] == "up" for f in s.frames)
                           for s in subs)
                assert all(s.closed is None for s in subs)
                events = [s.alerts() for s in subs]
                assert events[0] == events[1]  # same frames, same (epoch, seq), same order
                assert [f["seq"] for f in events[0]] == [1, 2, 3]  # once each
                assert post_alerts(other, am_alert("Direct"))[0] == 200
                # The replica that started during the outage opened the same log meanwhile.
                await eventually(lambda: ready(late)[0] == 200, 30, "the late replica ready")
                current = await eventually(
                    lambda: (body := servers.http_json(late.url + "/api/alerts")[1])["seq"] == 4
                    and body, 30, "the late replica at seq 4")
                assert current["epoch"] == events[0][0]["epoch"]
                assert {a["labels"]["alertname"] for a in current["alerts"]} == want | {"Direct"}
                for sub in subs:
                    await sub.stop()
        finally:
            late.stop()
            am.stop()
