"""docker-compose.yml's `ha` profile, validated without a Docker engine, like the rest
(tests/test_compose.py): PostgreSQL, two bridge replicas behind HAProxy, an Alertmanager pair
that gossips and posts to the balancer, and a Prometheus that alerts both.

What is proven: the balancer's config passes `haproxy -c`, names the replicas by service name
and port, and its idle timeouts outlast three bridge heartbeats; run in front of two real
bridges, it passes WebSocket upgrades, webhooks and the Origin check, and a client whose
replica is killed gets through it to the other. The Alertmanager pair, run with the compose
flags (addresses mapped to loopback), forms a gossip cluster, and its config passes amtool and
differs from the shipped one only in the webhook; the HA Prometheus config passes promtool and
differs only in its targets; the replicas share the token the Alertmanagers read, and their
database URL names the postgres service with its credentials.
Not proven here: the replicas on one PostgreSQL log (the pg store's tests run that).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import shutil
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bridge.client import AlertsClient
from bridge.config import AlertsConfig, BridgeConfig
from bridge.configload import load_config
from tests import servers
from tests.test_compose import (
    AMTOOL,
    CONFIG,
    PROMTOOL,
    SERVICES,
    flag,
    host_argv,
    load,
    mounts,
    run,
    without_targets,
)

HA = {name for name, service in SERVICES.items() if "ha" in service.get("profiles", [])}
REPLICAS = ("bridge-1", "bridge-2")
PAIR = ("alertmanager-1", "alertmanager-2")
HAPROXY_CFG = CONFIG / "haproxy" / "haproxy.cfg"
HAPROXY = shutil.which("haproxy")


def haproxy_config() -> dict[str, list[str]]:
    """Each section header (`backend bridges`) with its lines, comments dropped."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in HAPROXY_CFG.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not raw.startswith(" "):
            current = sections.setdefault(line.strip(), [])
        else:
            current.append(line.strip())
    return sections


def seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", value).groups()  # type: ignore[union-attr]
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 0.001}[unit]


def listen_port(service: str) -> str:
    return flag(service, "listen").rsplit(":", 1)[1]


# ---------------------------------------------------------------------------- the services


def test_the_profile_has_its_parts():
    assert HA == {"postgres", *REPLICAS, "lb", *PAIR, "prometheus-ha"}
    assert SERVICES["lb"]["depends_on"] == list(REPLICAS)
    assert SERVICES["bridge-2"]["depends_on"]["bridge-1"] == {"condition": "service_healthy"}
    for name in REPLICAS:
        assert SERVICES[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_replicas_differ_from_the_single_bridge_only_where_they_must():
    single = SERVICES["bridge"]["command"]
    changed = {"prometheus-url", "alertmanager-url", "config"}
    for name in REPLICAS:
        command = SERVICES[name]["command"]
        same = [a for a in command if a.lstrip("-").split("=", 1)[0] not in changed]
        assert same == [a for a in single if a.lstrip("-").split("=", 1)[0] not in changed]
        assert flag(name, "prometheus-url") == "http://prometheus-ha:9090"
        assert not any(a.startswith("--alertmanager-url") for a in command)  # bridge.ha.yml
        assert flag(name, "config") == "/etc/promwire/bridge.ha.yml"
        assert ("./config/bridge.ha.yml", "/etc/promwire/bridge.ha.yml") in mounts(name)
        assert "ports" not in SERVICES[name]  # reached through the balancer


def test_the_database_url_names_the_postgres_service_and_its_credentials():
    env = SERVICES["postgres"]["environment"]
    for name in REPLICAS:
        url = urlsplit(SERVICES[name]["environment"]["PROMWIRE_DATABASE_URL"])
        assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
        assert url.username == env["POSTGRES_USER"] and url.path == "/" + env["POSTGRES_DB"]
        assert url.password == env["POSTGRES_PASSWORD"]  # the same ${POSTGRES_PASSWORD:-...}
    assert "pg_isready" in SERVICES["postgres"]["healthcheck"]["test"]


@pytest.mark.skipif("store" not in {f.name for f in dataclasses.fields(AlertsConfig)},
                    reason="alerts.store comes with the PostgreSQL store (issue 14, branch pg)")
def test_the_replicas_config_loads_as_they_load_it():
    env = {"PROMWIRE_DATABASE_URL": SERVICES["bridge-1"]["environment"]["PROMWIRE_DATABASE_URL"]}
    config = load_config(str(CONFIG / "bridge.ha.yml"), env=env)
    assert config.alerts.store == "postgres"  # type: ignore[attr-defined]
    # Every replica reads the pair as one cluster, either peer, and its webhooks name it.
    ((name, peers),) = [(c.name, c.peers) for c in config.alertmanager.clusters]
    assert (name, peers) == ("default", tuple(f"http://{am}:9093" for am in PAIR))
    assert config.streams.max_pollers_per_address == config.streams.max_pollers


def test_the_replicas_share_the_token_the_alertmanagers_read():
    hook = load(CONFIG / "alertmanager" / "alertmanager.ha.yml")["receivers"][0][
        "webhook_configs"][0]
    token = Path(hook["http_config"]["authorization"]["credentials_file"])
    volumes = {dict((t, s) for s, t in mounts(name))[flag(name, "data-dir")] for name in REPLICAS}
    assert len(volumes) == 1, "one token for both replicas"
    (volume,) = volumes
    for name in PAIR:
        assert f"{volume}:{token.parent}:ro" in SERVICES[name]["volumes"]
        assert "bridge-1" in SERVICES[name]["depends_on"]  # which creates it


# ---------------------------------------------------------------------------- the balancer


def test_the_balancer_sends_to_the_replicas_and_outlasts_their_heartbeats():
    sections = haproxy_config()
    servers_ = [line.split()[1:3] for line in sections["backend bridges"]
                if line.startswith("server ")]
    assert servers_ == [[name, f"{name}:{listen_port(name)}"] for name in REPLICAS]
    assert "option httpchk GET /health" in sections["backend bridges"]
    (bind,) = [line.split()[1] for line in sections["frontend promwire"]
               if line.startswith("bind ")]
    assert SERVICES["lb"]["ports"] == [f"127.0.0.1:{bind.lstrip(':')}:{bind.lstrip(':')}"]
    assert ("./config/haproxy", "/usr/local/etc/haproxy") in mounts("lb")
    # Idle timeouts: more than three heartbeats of either stream (as the replicas run them).
    ha = yaml.safe_load((CONFIG / "bridge.ha.yml").read_text())
    defaults = BridgeConfig()
    beat = max(ha.get("streams", {}).get("heartbeat", defaults.streams.heartbeat),
               ha.get("alerts", {}).get("heartbeat", defaults.alerts.heartbeat))
    timeouts = {line.split()[1]: seconds(line.split()[2]) for line in sections["defaults"]
                if line.startswith("timeout ")}
    for name in ("client", "server", "tunnel"):
        assert timeouts[name] > 3 * beat, name
    # The Alertmanagers post to it.
    hook = load(CONFIG / "alertmanager" / "alertmanager.ha.yml")["receivers"][0][
        "webhook_configs"][0]
    assert hook["url"] == f"http://lb:{bind.lstrip(':')}/api/alerts/webhook?cluster=default"


@pytest.mark.skipif(HAPROXY is None, reason="make test installs haproxy")
def test_haproxy_accepts_the_config():
    result = run(HAPROXY, "-c", "-f", str(HAPROXY_CFG))
    assert result.returncode == 0, result.stdout + result.stderr
    # Its only complaint here: the compose service names do not resolve outside compose.
    warnings = [line for line in (result.stdout + result.stderr).splitlines()
                if "[WARNING]" in line or "[ALERT]" in line]
    assert all("could not resolve address 'bridge-" in line for line in warnings), warnings


def balancer(workdir: Path, replicas: list[servers.Process]) -> servers.Process:
    """HAProxy with the committed config, its bind and server addresses mapped to loopback."""
    port = servers.free_port()
    text = HAPROXY_CFG.read_text().replace("bind :8080", f"bind 127.0.0.1:{port}")
    for name, replica in zip(REPLICAS, replicas, strict=True):
        text = text.replace(f"{name}:{listen_port(name)}", replica.address)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "haproxy.cfg").write_text(text)
    return servers.Process("haproxy", [HAPROXY, "-db", "-f", str(workdir / "haproxy.cfg")],
                           workdir, f"http://127.0.0.1:{port}", "/health")


@pytest.mark.integration
@pytest.mark.skipif(HAPROXY is None, reason="make test installs haproxy")
async def test_a_client_through_the_balancer_survives_its_replica(node_stack: Any,
                                                                  tmp_path: Path):
    alertmanager = f"http://127.0.0.1:{servers.free_port()}"
    replicas = [servers.bridge(tmp_path / name, node_stack.prometheus.url,
                               alertmanager_url=alertmanager, config={"alerts": {"heartbeat": 1}})
                for name in REPLICAS]
    lb = balancer(tmp_path / "lb", replicas)
    try:
        for replica in replicas:
            await asyncio.to_thread(replica.start)
        await asyncio.to_thread(lb.start)
        epochs = {}
        for replica in replicas:
            status, body = servers.http_json(replica.url + "/api/alerts")
            epochs[body["epoch"]] = replica
        # A browser's Origin, as the page served through the balancer sends it.
        client = AlertsClient(lb.url, origin=lb.url, backoff_base=0.05, backoff_cap=0.4,
                              heartbeat_timeout=5)
        async with client:
            await servers_until(lambda: client.epoch is not None)
            first_epoch = client.epoch
            first = epochs[first_epoch]
            await asyncio.to_thread(first.kill)
            await servers_until(lambda: client.epoch not in (None, first_epoch))
            # Webhook-style writes get through too, with the token, to the live replica.
            status, _ = await asyncio.to_thread(post, lb.url)
            assert status == 200
            await servers_until(lambda: any(a["labels"]["alertname"] == "ThroughTheBalancer"
                                            for a in client.firing))
        assert client.resyncs == 1  # two SQLite logs here; one PostgreSQL log needs none
        assert "bridges/bridge-1" in lb.log() or "bridges/bridge-2" in lb.log()
    finally:
        lb.stop()
        for replica in replicas:
            replica.stop()


async def servers_until(predicate: Any, limit: float = 30.0) -> None:
    await asyncio.to_thread(servers.wait_for, predicate, limit, 0.05)


def post(url: str) -> tuple[int, Any]:
    """A manual alert, with the token, as a write through the balancer."""
    body = {"labels": {"alertname": "ThroughTheBalancer"}, "status": "firing"}
    request = urllib.request.Request(
        url + "/api/ws/broadcast/alert", method="POST", data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer test-token", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


# ---------------------------------------------------------------------------- Alertmanager pair


def test_the_pair_gossips_with_each_other():
    for name, other in (PAIR, PAIR[::-1]):
        listen = flag(name, "cluster.listen-address")
        assert listen.startswith("0.0.0.0:")
        assert flag(name, "cluster.peer") == f"{other}:{listen.rsplit(':', 1)[1]}"
        assert flag(name, "config.file") == "/etc/alertmanager/alertmanager.ha.yml"


def test_the_pair_config_is_the_shipped_one_but_for_the_webhook():
    base = load(CONFIG / "alertmanager" / "alertmanager.yml")
    ha = load(CONFIG / "alertmanager" / "alertmanager.ha.yml")
    for config in (base, ha):
        config["receivers"][0]["webhook_configs"][0].pop("url")
        config["receivers"][0]["webhook_configs"][0]["http_config"].pop("authorization")
    assert ha == base


@pytest.mark.skipif(PROMTOOL is None or AMTOOL is None, reason="make test installs them")
def test_ha_configs_pass_promtool_and_amtool():
    prom = run(PROMTOOL, "check", "config", str(CONFIG / "prometheus" / "prometheus.ha.yml"))
    assert prom.returncode == 0 and "SUCCESS" in prom.stdout + prom.stderr, prom.stderr
    am = run(AMTOOL, "check-config", str(CONFIG / "alertmanager" / "alertmanager.ha.yml"))
    assert am.returncode == 0, am.stdout + am.stderr


@pytest.mark.skipif(servers.ALERTMANAGER is None, reason="make test installs it")
def test_the_pair_started_with_the_compose_flags_forms_a_cluster(tmp_path: Path):
    cluster = {name: servers.free_port() for name in PAIR}
    pair = []
    for name in PAIR:
        argv = []
        for arg in host_argv(name, tmp_path / name):
            key, _, value = arg.partition("=")
            if key == "--cluster.listen-address":
                arg = f"{key}=127.0.0.1:{cluster[name]}"
            elif key == "--cluster.peer":
                arg = f"{key}=127.0.0.1:{cluster[value.split(':')[0]]}"
            argv.append(arg)
        port = servers.free_port()
        pair.append(servers.Process(name, [servers.ALERTMANAGER, *argv,
                                           f"--web.listen-address=127.0.0.1:{port}"],
                                    tmp_path / name, f"http://127.0.0.1:{port}", "/-/ready"))
    try:
        for am in pair:
            am.start()

        def peers() -> Any:
            statuses = [servers.http_json(am.url + "/api/v2/status")[1]["cluster"]
                        for am in pair]
            return all(s["status"] == "ready" and len(s["peers"]) == 2 for s in statuses)
        servers.wait_for(peers, 60, message="the two Alertmanagers to see each other")
        loaded = servers.http_json(pair[0].url + "/api/v2/status")[1]["config"]["original"]
        assert "http://lb:8080/api/alerts/webhook" in loaded
    finally:
        for am in pair:
            am.stop()


# ---------------------------------------------------------------------------- Prometheus


def test_ha_prometheus_alerts_both_and_scrapes_both_replicas():
    base = load(CONFIG / "prometheus" / "prometheus.yml")
    ha = load(CONFIG / "prometheus" / "prometheus.ha.yml")
    assert without_targets(ha) == without_targets(base)
    (am,) = ha["alerting"]["alertmanagers"]
    assert am["static_configs"][0]["targets"] == [f"{n}:9093" for n in PAIR]
    targets = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
               for job in ha["scrape_configs"]}
    assert targets["promwire-bridge"] == [f"{n}:{listen_port(n)}" for n in REPLICAS]
    assert flag("prometheus-ha", "config.file") == "/etc/prometheus/prometheus.ha.yml"
    assert SERVICES["prometheus-ha"]["ports"] == ["127.0.0.1:9091:9090"]
