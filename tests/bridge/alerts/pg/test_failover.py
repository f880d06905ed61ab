"""Replicas with the real Alertmanager and Prometheus: an HA Alertmanager pair posting to two
different replicas stores each change once and every replica streams it; a replica SIGKILLed
while alerts change loses its subscribers nothing: they resume on another replica."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
import yaml

from tests import servers
from tests.bridge.alerts.pg.replicas import (
    TOKEN,
    Subscriber,
    counter,
    eventually,
    replica,
    running,
    ws_url,
)
from tests.bridge.alerts.test_integration import (
    TEST_RULE,
    AlertChurn,
    Follower,
    am_config,
    post_reload,
)

pytestmark = pytest.mark.integration
NAME = "PromwireTestAlert"


def named(frame: dict[str, Any]) -> bool:
    return frame["alert"]["labels"]["alertname"] == NAME


async def test_ha_alertmanager_pair_on_two_replicas_one_event_per_change_everywhere(
        node_stack, tmp_path, pg_url):
    ports = [servers.free_port() for _ in range(3)]
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    ams = [servers.alertmanager(tmp_path / f"am{i}", am_config(ports[i], token_file)).start()
           for i in range(2)]
    procs = [replica(tmp_path, f"r{i}", pg_url, port=ports[i], alertmanager_url=ams[0].url)
             for i in range(3)]
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(TEST_RULE))
    prom = servers.prometheus(tmp_path / "prom", [node_stack.exporter_target],
                              rule_files=[rules], alertmanager=ams[0].url)
    config = yaml.safe_load((prom.workdir / "prometheus.yml").read_text())
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        am.address for am in ams]
    (prom.workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    prom.argv.append("--rules.alert.resend-delay=1s")
    try:
        with running(procs):
            subs = [await Subscriber(p).ready() for p in procs]
            prom.start()
            await eventually(lambda: all(any(named(f) for f in s.alerts()) for s in subs), 90,
                             "the firing event on every replica")
            rules.write_text(yaml.safe_dump({"groups": []}))
            assert await asyncio.to_thread(post_reload, prom.url) == 200
            await eventually(lambda: all(any(named(f) and f["status"] == "resolved"
                                             for f in s.alerts()) for s in subs), 90,
                             "the resolved event on every replica")
            # Both Alertmanagers delivered, each to its own replica...
            assert counter(procs[0], "promwire_bridge_webhooks_received_total") > 0
            assert counter(procs[1], "promwire_bridge_webhooks_received_total") > 0
            await asyncio.sleep(2)  # ...and their later re-sends add nothing
            ours = [[f for f in s.alerts() if named(f)] for s in subs]
            assert [f["event"] for f in ours[0]] == ["firing", "resolved"]
            assert ours[0] == ours[1] == ours[2]  # same frames, same (epoch, seq)
            _, body = servers.http_json(procs[2].url + "/api/alerts/history?limit=1000")
            assert [e for e in body["events"] if named(e)] == ours[0]
            for sub in subs:
                await sub.stop()
    finally:
        prom.stop()
        for am in ams:
            am.stop()


async def test_a_replica_killed_mid_churn_its_subscriber_resumes_on_another(tmp_path, pg_url):
    port = servers.free_port()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    am = servers.alertmanager(tmp_path / "am", am_config(port, token_file)).start()
    # Alertmanager posts to r1; the subscriber starts on r0, which is killed, and resumes on r2.
    procs = [replica(tmp_path, f"r{i}", pg_url, alertmanager_url=am.url,
                     port=port if i == 1 else None) for i in range(3)]
    churn = AlertChurn(am.url)
    sub = Follower()
    try:
        with running(procs) as (doomed, _, survivor):
            async with websockets.connect(ws_url(doomed)) as ws:
                # SIGKILL while alerts keep changing.
                epoch, last = await sub.until_killed(ws, churn, doomed.kill)
            await asyncio.sleep(1.5)  # changes continue meanwhile, stored by r1
            churn.stop()
            query = f"?since={last}&epoch={epoch}"
            async with websockets.connect(ws_url(survivor, query)) as ws:
                await sub.until_settled(ws, am.url, epoch)
            await asyncio.to_thread(sub.check_exactly_once, survivor)
            assert churn.count > 8 and len(sub.received) > 8
    finally:
        if churn._thread.is_alive():
            churn.stop()
        am.stop()
