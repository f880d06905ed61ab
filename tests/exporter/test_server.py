"""Endpoints: formats by Accept, gzip by Accept-Encoding, collect[] filtering, JSON errors."""

from __future__ import annotations

import gzip
import json

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

from exporter.collectors import COLLECTORS
from exporter.registry import Registry
from exporter.server import ExporterApp, wants_gzip, wants_openmetrics
from tests.exporter.helpers import fixture_config, headers, samples
from tests.exporter.serving import get, running

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


@pytest.fixture(scope="module")
def server():
    config = fixture_config()
    registry = Registry(config, {n: COLLECTORS[n](config) for n in ("cpu", "loadavg", "stat")})
    with running(ExporterApp(registry)) as server:
        yield server


def test_text_format_by_default(server):
    status, head, body = get(server, "/metrics")
    assert status == 200
    assert head["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "content-encoding" not in head
    got = samples(body.decode())
    assert got[("node_load1", ())] == 0.21
    assert got[("node_scrape_collector_success", (("collector", "cpu"),))] == 1


def test_openmetrics_when_asked(server):
    status, head, body = get(server, "/metrics", {"Accept": PROMETHEUS_ACCEPT})
    assert status == 200
    assert head["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    text = body.decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_om(text)}
    assert families["node_cpu_seconds"].type == "counter"
    assert families["node_load1"].samples[0].value == 0.21
    assert families["promwire_exporter_build"].type == "info"


def test_gzip_when_asked(server):
    status, head, body = get(server, "/metrics", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert head["content-encoding"] == "gzip"
    assert samples(gzip.decompress(body).decode())[("node_load5", ())] == 0.37


def test_collect_filter(server):
    status, _, body = get(server, "/metrics?collect[]=loadavg&collect[]=stat")
    assert status == 200
    text = body.decode()
    assert {"node_load1", "node_boot_time_seconds"} <= set(headers(text))
    assert "node_cpu_seconds_total" not in headers(text)
    assert {dict(k[1])["collector"] for k in samples(text)
            if k[0] == "node_scrape_collector_success"} == {"loadavg", "stat"}


@pytest.mark.parametrize("name,word", [("bogus", "unknown"), ("hwmon", "disabled")])
def test_bad_collect_name_is_400_listing_valid(server, name, word):
    status, head, body = get(server, f"/metrics?collect[]=loadavg&collect[]={name}")
    assert status == 400 and head["content-type"] == "application/json"
    error = json.loads(body)
    assert error["error"] == "bad_request"
    assert word in error["detail"] and name in error["detail"]
    assert "cpu, loadavg, stat" in error["detail"]


def test_landing_page_and_health(server):
    status, head, body = get(server, "/")
    assert status == 200 and b'href="/metrics"' in body
    assert head["content-type"].startswith("text/html")
    assert get(server, "/-/healthy")[0] == 200


def test_unknown_path_and_method_are_json(server):
    status, _, body = get(server, "/nope")
    assert status == 404 and json.loads(body)["error"] == "not_found"
    status, head, body = get(server, "/metrics", method="POST")
    assert status == 405 and json.loads(body)["error"] == "method_not_allowed"
    assert head["allow"] == "GET, HEAD"


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
