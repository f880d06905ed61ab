"""HTTP: formats by Accept, gzip by Accept-Encoding, collect[] filtering, errors as JSON."""

from __future__ import annotations

import gzip

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

from exporter.collectors import COLLECTORS
from exporter.registry import Registry
from exporter.server import create_app, wants_gzip, wants_openmetrics
from tests.exporter.helpers import fixture_config, headers, samples

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture
async def client(aiohttp_client):
    config = fixture_config()
    registry = Registry(config, {n: COLLECTORS[n](config) for n in ("cpu", "loadavg", "stat")})
    return await aiohttp_client(create_app(registry), auto_decompress=False)


async def test_text_format_by_default(client):
    resp = await client.get("/metrics", headers=PLAIN)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "Content-Encoding" not in resp.headers
    got = samples(await resp.text())
    assert got[("node_load1", ())] == 0.21
    assert got[("node_scrape_collector_success", (("collector", "cpu"),))] == 1


async def test_openmetrics_when_asked(client):
    resp = await client.get("/metrics", headers={**PLAIN, "Accept": PROMETHEUS_ACCEPT})
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    body = await resp.text()
    assert body.endswith("# EOF\n")
    families = {f.name: f for f in parse_om(body)}
    assert families["node_cpu_seconds"].type == "counter"
    assert families["node_load1"].samples[0].value == 0.21


async def test_gzip_when_asked(client):
    resp = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    raw = await resp.read()
    assert samples(gzip.decompress(raw).decode())[("node_load5", ())] == 0.37


async def test_collect_filter(client):
    resp = await client.get("/metrics?collect[]=loadavg&collect[]=stat", headers=PLAIN)
    text = await resp.text()
    assert {"node_load1", "node_boot_time_seconds"} <= set(headers(text))
    assert "node_cpu_seconds_total" not in headers(text)
    assert {dict(k[1])["collector"] for k in samples(text)
            if k[0] == "node_scrape_collector_success"} == {"loadavg", "stat"}


@pytest.mark.parametrize("name,word", [("bogus", "unknown"), ("hwmon", "disabled")])
async def test_bad_collect_name_is_400_listing_valid(client, name, word):
    resp = await client.get(f"/metrics?collect[]=loadavg&collect[]={name}")
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "bad_request"
    assert word in body["detail"] and name in body["detail"]
    assert "cpu, loadavg, stat" in body["detail"]


async def test_landing_page_and_health(client):
    resp = await client.get("/")
    assert resp.status == 200 and 'href="/metrics"' in await resp.text()
    resp = await client.get("/-/healthy")
    assert resp.status == 200


async def test_unknown_path_and_method_are_json(client):
    resp = await client.get("/nope")
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    resp = await client.post("/metrics")
    assert resp.status == 405 and (await resp.json())["error"] == "method_not_allowed"


@pytest.mark.parametrize("accept,expected", [
    (PROMETHEUS_ACCEPT, True), ("*/*", False), ("", False), ("text/plain", False),
    ("application/openmetrics-text", True), ("application/openmetrics-text;q=0", False),
    ("text/plain;q=0.9,application/openmetrics-text;q=0.5", False)])
def test_wants_openmetrics(accept, expected):
    assert wants_openmetrics(accept) is expected


@pytest.mark.parametrize("encoding,expected", [
    ("gzip", True), ("gzip, deflate", True), ("identity", False), ("", False),
    ("gzip;q=0", False), ("*", True), ("br;q=1, gzip;q=0.1", True)])
def test_wants_gzip(encoding, expected):
    assert wants_gzip(encoding) is expected
