"""The Alertmanager cluster clients against a real HA pair gossiping on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.config import AlertmanagerConfig, ClusterConfig, ConfigError
from bridge.configload import load_config
from bridge.errors import BadRequest, UpstreamUnavailable
from bridge.upstream.alertmanager import SILENCES_ENDPOINT, Clusters, origin
from tests import servers
from tests.servers import Process, free_port, http_json, wait_for

AM_CONFIG = {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Process, Process]]:
    with servers.alertmanager_pair(tmp_path_factory.mktemp("pair"), AM_CONFIG) as procs:
        yield procs


def silence(comment: str, minutes: int = 30) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"matchers": [{"name": "alertname", "value": "PairTest", "isRegex": False,
                          "isEqual": True}],
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=minutes)).isoformat(),
            "createdBy": "test", "comment": comment}


@pytest.fixture
async def clusters(pair: tuple[Process, Process]) -> AsyncIterator[Clusters]:
    config = AlertmanagerConfig(clusters=(
        ClusterConfig("ha", (pair[0].url, pair[1].url)),
        ClusterConfig("lonely", (f"http://127.0.0.1:{free_port()}",))), timeout=3.0)
    made = Clusters(config)
    await made.open()
    yield made
    await made.close()


async def test_a_write_to_one_peer_is_gossiped_to_the_other(clusters, pair):
    made = await clusters.get("ha").send("POST", SILENCES_ENDPOINT, silence("gossip"))
    silence_id = made["silenceID"]

    def on_second_peer() -> bool:
        status, body = http_json(f"{pair[1].url}/api/v2/silence/{silence_id}")
        return status == 200 and body["comment"] == "gossip"
    wait_for(on_second_peer, timeout=15, message="the silence on the other peer")


async def test_alertmanagers_own_refusal_is_a_bad_request_with_its_text(clusters):
    body = silence("no matchers")
    body["matchers"] = []
    with pytest.raises(BadRequest) as caught:
        await clusters.get("ha").send("POST", SILENCES_ENDPOINT, body)
    assert "Alertmanager refused it" in caught.value.detail
    assert "matcher" in caught.value.detail.lower()


async def test_a_cluster_with_no_live_peer_is_unavailable_for_reads_and_writes(clusters):
    lonely = clusters.get("lonely")
    with pytest.raises(UpstreamUnavailable, match="no peer answered"):
        await lonely.get_json(SILENCES_ENDPOINT, {})
    with pytest.raises(UpstreamUnavailable, match="no peer accepted"):
        await lonely.send("POST", SILENCES_ENDPOINT, silence("nowhere"))
    assert lonely.status()["ok"] is False


async def test_reads_fail_over_in_peer_order_and_stay_on_the_peer_that_answered(
        tmp_path: Path):
    gossip = (free_port(), free_port())
    ports = (free_port(), free_port())
    first = servers.alertmanager(tmp_path / "a", AM_CONFIG, ports[0], cluster_port=gossip[0],
                                 peers=[gossip[1]]).start()
    second = servers.alertmanager(tmp_path / "b", AM_CONFIG, ports[1], cluster_port=gossip[1],
                                  peers=[gossip[0]]).start()
    made = Clusters(AlertmanagerConfig(clusters=(ClusterConfig("ha", (first.url, second.url)),),
                                       timeout=3.0))
    await made.open()
    try:
        cluster = made.get("ha")
        assert isinstance(await cluster.get_json(SILENCES_ENDPOINT, {}), list)
        assert cluster.active_url == first.url
        first.kill()
        assert isinstance(await cluster.get_json(SILENCES_ENDPOINT, {}), list)
        assert cluster.active_url == second.url
        peers = {p["url"]: p for p in cluster.status()["peers"]}
        assert peers[first.url]["ok"] is False and peers[second.url]["active"] is True
        first.start()  # back, but the active peer stays: no flapping between gossip states
        await cluster.get_json(SILENCES_ENDPOINT, {})
        assert cluster.active_url == second.url
        probed = {p["url"]: p["ok"] for p in await cluster.probe(2.0)}
        assert probed == {first.url: True, second.url: True}
    finally:
        await made.close()
        first.stop()
        second.stop()


def two_clusters() -> Clusters:
    return Clusters(AlertmanagerConfig(clusters=(
        ClusterConfig("prod", ("http://am-1:9093", "http://am-2:9093/"),
                      external_urls=("https://alerts.example.com/",)),
        ClusterConfig("lab", ("http://lab:9093",)))))


def test_a_webhooks_cluster_is_its_parameter_or_the_peer_its_external_url_names():
    clusters = two_clusters()
    assert clusters.of_webhook("lab", "http://am-1:9093").name == "lab"
    assert clusters.of_webhook(None, "http://AM-2:9093").name == "prod"
    assert clusters.of_webhook(None, "https://alerts.example.com").name == "prod"
    assert clusters.of_webhook(None, "http://lab:9093/").name == "lab"
    with pytest.raises(BadRequest, match="not a peer of any configured cluster"):
        clusters.of_webhook(None, "http://elsewhere:9093")
    with pytest.raises(BadRequest, match="not a peer"):
        clusters.of_webhook(None, None)
    with pytest.raises(BadRequest, match=r"unknown cluster 'nope' \(known: prod, lab\)"):
        clusters.of_webhook("nope", "http://am-1:9093")


def test_the_url_shorthand_is_one_default_cluster_that_takes_every_webhook():
    clusters = Clusters(AlertmanagerConfig(url="http://127.0.0.1:9093"))
    assert clusters.names == ["default"]
    assert clusters.of_webhook(None, "http://my-host:9093/").name == "default"
    assert not len(Clusters(AlertmanagerConfig(url="")))


def test_origins_compare_as_servers():
    assert origin("http://AM:80/") == origin("http://am")
    assert origin("https://am/x/") == "https://am:443/x"


@pytest.mark.parametrize(("clusters", "key", "problem"), [
    ([{"name": "a", "peers": []}], "alertmanager.clusters[0].peers", "1..16 peer URLs"),
    ([{"name": "A b", "peers": ["http://x"]}], "alertmanager.clusters[0].name", "expected"),
    ([{"name": "a", "peers": ["ftp://x"]}], "alertmanager.clusters[0].peers", "http(s) URL"),
    ([{"name": "a", "peers": ["http://x", "http://x"]}], "alertmanager.clusters[0].peers",
     "listed twice"),
    ([{"name": "a", "peers": ["http://x"]}, {"name": "a", "peers": ["http://y"]}],
     "alertmanager.clusters[1].name", "used twice"),
    ([{"name": "a", "peers": ["http://x"]}, {"name": "b", "peers": ["http://x/"]}],
     "alertmanager.clusters[1].peers", "also a peer of cluster 'a'"),
    ([{"peers": ["http://x"]}], "alertmanager.clusters[0]", "missing required key(s): name"),
])
def test_bad_clusters_are_config_errors_naming_the_key(tmp_path, clusters, key, problem):
    path = tmp_path / "bridge.yml"
    path.write_text(yaml.safe_dump({"alertmanager": {"clusters": clusters}}))
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), env={})
    assert caught.value.key == key and problem in caught.value.problem


def test_clusters_from_yaml(tmp_path):
    path = tmp_path / "bridge.yml"
    path.write_text(yaml.safe_dump({"alertmanager": {"clusters": [
        {"name": "prod", "peers": ["http://a:9093", "http://b:9093"]},
        {"name": "lab", "peers": ["http://c:9093"], "token_file": "/t"}]}}))
    config = load_config(str(path), env={})
    assert [c.name for c in config.alertmanager.cluster_list()] == ["prod", "lab"]
    assert config.alertmanager.cluster_list()[1].token_file == "/t"
