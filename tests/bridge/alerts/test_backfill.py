"""Which cluster backfilled episodes belong to: `alerts.backfill_cluster`, the only cluster, or
none (backfill off, and /health says why) when several are configured and none is named."""

from __future__ import annotations

import pytest
import yaml

from bridge.alerts.backfill import target
from bridge.coercion import ConfigError
from bridge.config import AlertmanagerConfig, AlertsConfig, BridgeConfig, ClusterConfig
from bridge.configload import load_config
from tests.bridge.alerts.helpers import make_app
from tests.servers import free_port

TWO = (ClusterConfig("ha", ("http://127.0.0.1:1",)),
       ClusterConfig("solo", ("http://127.0.0.1:2",)))


def config(clusters=(), url="", cluster="") -> BridgeConfig:
    return BridgeConfig(alertmanager=AlertmanagerConfig(url=url, clusters=clusters),
                        alerts=AlertsConfig(backfill_cluster=cluster))


def test_the_named_cluster_else_the_only_one_else_none():
    assert target(config(TWO, cluster="solo")) == ("solo", None)
    assert target(config(TWO[:1])) == ("ha", None)
    assert target(config(url="http://127.0.0.1:9093")) == ("default", None)  # the shorthand
    assert target(config()) == ("default", None)  # no Alertmanager: manual alerts' cluster
    cluster, off = target(config(TWO))
    assert cluster is None and "alerts.backfill_cluster" in off


def test_the_name_must_be_a_configured_cluster(tmp_path):
    path = tmp_path / "bridge.yml"
    clusters = [{"name": "ha", "peers": ["http://127.0.0.1:1"]},
                {"name": "solo", "peers": ["http://127.0.0.1:2"]}]
    path.write_text(yaml.safe_dump({"alertmanager": {"clusters": clusters},
                                    "alerts": {"backfill_cluster": "other"}}))
    with pytest.raises(ConfigError, match=r"backfill_cluster.*'other' is not a configured "
                                          r"cluster.*ha, solo"):
        load_config(str(path), env={})
    path.write_text(yaml.safe_dump({"alertmanager": {"clusters": clusters},
                                    "alerts": {"backfill_cluster": "solo"}}))
    assert load_config(str(path), env={}).alerts.backfill_cluster == "solo"
    # The shorthand's cluster is `default`, named or not.
    assert load_config(None, env={}, overrides={}).alerts.backfill_cluster == ""
    path.write_text(yaml.safe_dump({"alerts": {"backfill_cluster": "default"}}))
    assert load_config(str(path), env={}).alerts.backfill_cluster == "default"


async def test_health_says_why_backfill_is_off_with_several_clusters(aiohttp_client, tmp_path,
                                                                     alert_store):
    peers = {name: [f"http://127.0.0.1:{free_port()}"] for name in ("ha", "solo")}
    client = await aiohttp_client(make_app(tmp_path, clusters=peers, reconcile_interval=0,
                                           **alert_store))
    body = await (await client.get("/health")).json()
    check = body["checks"]["alerts_backfill"]
    assert (check["enabled"], check["cluster"], check["running"]) == (False, None, False)
    assert "2 Alertmanager clusters" in check["off"]


async def test_health_names_the_backfilled_cluster(aiohttp_client, tmp_path, alert_store):
    peers = {name: [f"http://127.0.0.1:{free_port()}"] for name in ("ha", "solo")}
    client = await aiohttp_client(make_app(tmp_path, clusters=peers, reconcile_interval=0,
                                           backfill_cluster="solo", **alert_store))
    check = (await (await client.get("/health")).json())["checks"]["alerts_backfill"]
    assert (check["enabled"], check["cluster"], check["off"]) == (True, "solo", None)
