"""REST handlers on the real app (create_app), with the fake upstream for answers and faults."""

from __future__ import annotations

import json

import pytest

from bridge.app import create_app
from bridge.config import AuthConfig, BridgeConfig, HttpConfig, MetricsConfig, PrometheusConfig
from bridge.metrics.catalog import BUILTIN
from bridge.params import parse_duration, parse_time
from tests.bridge import fakeprom
from tests.servers import free_port

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def fake(aiohttp_server):
    return await fakeprom.serve(aiohttp_server)


@pytest.fixture
def make_client(aiohttp_client, fake, tmp_path):
    async def make(metrics: MetricsConfig | None = None, **sections):
        config = BridgeConfig(prometheus=PrometheusConfig(url=fake.url, timeout=1.0),
                              data_dir=str(tmp_path),
                              auth=sections.pop("auth", AuthConfig(token=TOKEN)),
                              metrics=metrics or MetricsConfig(), **sections)
        return await aiohttp_client(create_app(config))
    return make


async def get_json(client, path, status=200, **kwargs):
    resp = await client.get(path, **kwargs)
    body = await resp.json()
    assert resp.status == status, body
    assert resp.content_type == "application/json"
    return body


def assert_error(body, code, *words):
    assert set(body) >= {"error", "detail"} and body["error"] == code, body
    for word in words:
        assert word in body["detail"], body
    assert "Traceback" not in json.dumps(body)


async def test_catalog_listing(make_client):
    client = await make_client()
    body = await get_json(client, "/api/metrics")
    names = [m["name"] for m in body["metrics"]]
    assert names[:3] == ["cpu", "memory", "swap"] and "uptime" in names


async def test_current_snapshot_and_instance_filter(make_client, fake):
    client = await make_client()
    body = await get_json(client, "/api/metrics/current")
    assert body["stale"] is False and body["errors"] == {}
    assert set(body["metrics"]) >= {"cpu", "memory", "disk", "network"}
    assert {s["instance"] for s in body["metrics"]["cpu"]["samples"]} == {"host-a:9100",
                                                                         "host-b:9100"}
    for query in ("?instance=host-b:9100", "?instance=host-b:9100,nope",
                  "?instance=host-b:9100&instance=nope"):
        body = await get_json(client, "/api/metrics/current" + query)
        assert {s["instance"] for s in body["metrics"]["cpu"]["samples"]} == {"host-b:9100"}
    # All of that cost one round of queries (TTL 1 s, single-flight).
    assert len(fake.queries()) == len(BUILTIN)


async def test_current_when_prometheus_never_answered_is_503(aiohttp_client, tmp_path):
    config = BridgeConfig(prometheus=PrometheusConfig(url=f"http://127.0.0.1:{free_port()}"),
                          data_dir=str(tmp_path))
    client = await aiohttp_client(create_app(config))
    body = await get_json(client, "/api/metrics/current", 503)
    assert_error(body, "unavailable", "unreachable")


async def test_history_at_the_asked_step(make_client, fake):
    client = await make_client()
    body = await get_json(client, "/api/metrics/cpu?start=1000&end=1060&step=15s")
    assert (body["metric"], body["unit"], body["step"]) == ("cpu", "percent", 15.0)
    assert body["start"] == 1000 and body["end"] == 1060
    series = body["series"]
    assert [s["instance"] for s in series] == ["host-a:9100", "host-b:9100"]
    assert [p[0] for p in series[0]["points"]] == [1000, 1015, 1030, 1045, 1060]
    form = next(f for ep, f in fake.calls if ep == "query_range")
    assert form["query"].startswith("100 * (1 - sum by (instance)")
    only = await get_json(client, "/api/metrics/cpu?start=1000&end=1060&step=15"
                          "&instance=host-a:9100")
    assert [s["instance"] for s in only["series"]] == ["host-a:9100"]


async def test_history_range_and_rfc3339(make_client, fake):
    client = await make_client()
    body = await get_json(client, "/api/metrics/memory?end=2026-11-25T20:00:00Z&range=1h&step=1m")
    assert body["end"] == parse_time("2026-11-25T20:00:00Z", "end")
    assert body["end"] - body["start"] == 3600
    assert len(body["series"][0]["points"]) == 61
    default = await get_json(client, "/api/metrics/memory")
    assert default["end"] - default["start"] == 3600 and default["step"] >= 1


async def test_history_over_the_points_limit_is_stitched(make_client, fake):
    client = await make_client()
    body = await get_json(client, "/api/metrics/load1?start=0&end=30000&step=1")
    points = body["series"][0]["points"]
    assert len(points) == 30001 and points[-1][0] == 30000
    assert len(fake.queries("query_range")) == 3


@pytest.mark.parametrize(("query", "parameter"), [
    ("start=yesterday", "start"),
    ("end=2026-13-45T00:00:00Z", "end"),
    ("start=100&end=50", "end"),
    ("start=0&end=100&step=0", "step"),
    ("start=0&end=100&step=-5", "step"),
    ("start=0&end=100&step=fast", "step"),
    ("start=0&end=100&step=1h1h", "step"),
    ("range=-1h", "range"),
    ("range=forever", "range"),
    ("range=0s", "range"),
    ("start=0&range=1h", "range"),
    ("start=0&end=10000000&step=1", "step"),
    ("start=nan", "start"),
    ("start=inf", "start"),
    # Numbers too large for a float, or for Prometheus: a 400, never a 500.
    ("start=" + "1" * 400, "start"),
    ("range=" + "9" * 400 + "y", "range"),
    ("range=1e400", "range"),
    ("range=1e300", "range"),
    ("start=-1.7e308&end=1.7e308", "end"),
    ("start=1e20&end=1e20", "end"),
    ("step=5e-324", "step"),
])
async def test_history_bad_parameters_are_400_naming_them(make_client, fake, query, parameter):
    client = await make_client()
    body = await get_json(client, f"/api/metrics/cpu?{query}", 400)
    assert_error(body, "bad_request", parameter)
    assert body["parameter"] == parameter and body["detail"].startswith(parameter)
    assert fake.calls == []


async def test_unknown_metric_is_404_listing_valid_names(make_client):
    client = await make_client()
    body = await get_json(client, "/api/metrics/cpuu?range=1h", 404)
    assert_error(body, "not_found", "cpuu", "cpu", "memory", "uptime")


@pytest.mark.parametrize(("error_type", "status", "code", "http"), [
    ("bad_data", 400, "bad_data", 400),
    ("execution", 422, "execution", 422),
    ("timeout", 503, "timeout", 504),
    ("unavailable", 503, "unavailable", 503),
    ("internal", 500, "bad_upstream", 502),
])
async def test_upstream_errors_map_to_statuses(make_client, fake, error_type, status, code, http):
    async def fail(endpoint, form):
        return fakeprom.failure(error_type, "it broke", status)
    fake.responder = fail
    client = await make_client()
    body = await get_json(client, "/api/metrics/cpu?range=1h", http)
    assert_error(body, code, "it broke")


async def test_upstream_garbage_is_502(make_client, fake):
    async def garbage(endpoint, form):
        return fakeprom.raw("{nope", 200)
    fake.responder = garbage
    client = await make_client()
    assert_error(await get_json(client, "/api/instances", 502), "bad_upstream")


NOW = 1764100000.0


def _instances_answer(current, newest):
    """A responder for GET /api/instances' two queries: `up` now, and newest sample times."""
    async def answer(endpoint, form):
        if endpoint != "query":
            return None
        pairs = newest if form["query"].startswith("(timestamp(") else current
        return fakeprom.success(fakeprom.vector(pairs, NOW))
    return answer


async def test_instances_state_from_the_newest_up_sample(make_client, fake):
    a = {"__name__": "up", "instance": "a:9100", "job": "node"}
    b = {"__name__": "up", "instance": "b:9100", "job": "node", "env": "prod"}
    lag = {"__name__": "up", "instance": "lag:9100", "job": "node"}
    fast = {"__name__": "up", "instance": "f:9100", "job": "fast"}
    ended = {"instance": "ended:9100", "job": "node"}
    fake.config_yaml = ("global: {scrape_interval: 15s}\n"
                        "scrape_configs: [{job_name: node}, {job_name: fast, scrape_interval: 1s}]")
    fake.responder = _instances_answer(
        current=[(b, "0"), (a, "1"), (lag, "1"), (fast, "1")],
        newest=[({k: v for k, v in s.items() if k != "__name__"}, str(ts)) for s, ts in
                [(a, NOW - 14), (b, NOW - 1), (lag, NOW - 31), (fast, NOW - 3),
                 (ended, NOW - 1800)]])
    client = await make_client()
    body = await get_json(client, "/api/instances")
    assert body == {"warnings": [], "instances": [
        {"instance": "a:9100", "job": "node", "up": True, "state": "up", "labels": {},
         "timestamp": NOW - 14},
        {"instance": "b:9100", "job": "node", "up": False, "state": "down",
         "labels": {"env": "prod"}, "timestamp": NOW - 1},
        # No longer returned by `up` (past the lookback, or its series ended).
        {"instance": "ended:9100", "job": "node", "up": False, "state": "stale", "labels": {},
         "timestamp": NOW - 1800},
        # Its job scrapes every second: 3 s is two intervals too many.
        {"instance": "f:9100", "job": "fast", "up": False, "state": "stale", "labels": {},
         "timestamp": NOW - 3},
        # Still returned by `up` (within Prometheus' lookback) but older than 2 x 15 s.
        {"instance": "lag:9100", "job": "node", "up": False, "state": "stale", "labels": {},
         "timestamp": NOW - 31}]}
    # With no jobs configured, exporter jobs are those that exposed node metrics.
    assert all("node_boot_time_seconds" in q for q in fake.queries()[-2:])
    client = await make_client(MetricsConfig(exporter_jobs=("node", "edge.hosts")))
    await get_json(client, "/api/instances")
    assert 'up{job=~"node|edge\\\\.hosts"}' in fake.queries()[-2:]


async def test_instances_scrape_intervals_are_read_once_per_ttl(make_client, fake):
    client = await make_client()
    for _ in range(3):
        await get_json(client, "/api/instances")
    assert [ep for ep, _ in fake.calls].count("status_config") == 1


async def test_instances_without_prometheus_config_assume_its_default_and_say_so(
        make_client, fake):
    a = {"instance": "a:9100", "job": "node"}

    async def no_config(endpoint, form):
        if endpoint == "status_config":
            return fakeprom.raw("404 page not found", 404, "text/plain")
        return await _instances_answer([(a, "1")], [(a, str(NOW - 100))])(endpoint, form)
    fake.responder = no_config
    client = await make_client()
    body = await get_json(client, "/api/instances")
    assert body["instances"][0]["state"] == "up"  # 100 s < 2 x Prometheus' default 1m
    assert len(body["warnings"]) == 1 and "assumed 60s" in body["warnings"][0]


async def test_instances_when_prometheus_is_unavailable_answer_503(make_client, fake):
    async def down(endpoint, form):
        return fakeprom.failure("unavailable", "shutting down", 503)
    fake.responder = down
    client = await make_client()
    assert_error(await get_json(client, "/api/instances", 503), "unavailable")


async def test_raw_queries_are_off_by_default(make_client, fake):
    client = await make_client()
    for path in ("/api/query?query=up", "/api/query_range?query=up&range=1m"):
        body = await get_json(client, path, 404, headers=AUTH)
        assert_error(body, "not_found", "raw_queries")
    assert fake.calls == []


async def test_raw_queries_need_the_token_when_on(make_client, fake):
    client = await make_client(MetricsConfig(raw_queries=True))
    assert_error(await get_json(client, "/api/query?query=up", 401), "unauthorized")
    bad = {"Authorization": "Bearer wrong"}
    assert_error(await get_json(client, "/api/query?query=up", 401, headers=bad), "unauthorized")
    assert fake.calls == []
    body = await get_json(client, "/api/query?query=up&time=1764100000", headers=AUTH)
    assert body["status"] == "success" and body["data"]["resultType"] == "vector"
    assert body["data"]["result"][0]["value"] == [1764100000.0, "1"]
    assert fake.calls[-1][1]["time"] == "1764100000.000"
    body = await get_json(client, "/api/query_range?query=up&start=0&end=20&step=10",
                          headers=AUTH)
    assert body["data"]["result"][0]["values"] == [[0, "0"], [10, "1"], [20, "2"]]
    assert_error(await get_json(client, "/api/query", 400, headers=AUTH), "bad_request", "query")
    assert_error(await get_json(client, "/api/query?query=up&time=x", 400, headers=AUTH),
                 "bad_request", "time")


async def test_raw_query_passes_warnings_and_prometheus_errors(make_client, fake):
    async def answer(endpoint, form):
        if form["query"] == "sum(":
            return fakeprom.failure("bad_data", "parse error: unclosed left parenthesis", 400)
        return fakeprom.success(fakeprom.vector([], 1.0), warnings=["w"], infos=["i"])
    fake.responder = answer
    client = await make_client(MetricsConfig(raw_queries=True))
    body = await get_json(client, "/api/query?query=up", headers=AUTH)
    assert body["warnings"] == ["w"] and body["infos"] == ["i"]
    body = await get_json(client, "/api/query?query=sum(", 400, headers=AUTH)
    assert_error(body, "bad_data", "unclosed")


async def test_reads_need_the_token_when_protected(make_client):
    client = await make_client(auth=AuthConfig(token=TOKEN, protect_reads=True))
    for path in ("/api/metrics", "/api/metrics/current", "/api/metrics/cpu", "/api/instances"):
        assert_error(await get_json(client, path, 401), "unauthorized")
    await get_json(client, "/api/metrics/current", headers=AUTH)
    await get_json(client, f"/api/metrics?token={TOKEN}")


async def test_cors_allowlist(make_client):
    client = await make_client(http=HttpConfig(allowed_origins=("https://dash.example",)))
    resp = await client.get("/api/metrics", headers={"Origin": "https://dash.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    resp = await client.get("/api/metrics", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = await client.options("/api/metrics/current", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert resp.status == 403
    resp = await client.options("/api/metrics/current", headers={
        "Origin": "https://dash.example", "Access-Control-Request-Method": "GET"})
    assert resp.status == 204


async def test_self_metrics_count_routes_and_upstream(make_client):
    client = await make_client()
    await get_json(client, "/api/metrics/current")
    await get_json(client, "/api/metrics/current")
    await get_json(client, "/api/metrics/nope", 404)
    text = await (await client.get("/metrics")).text()
    assert ('promwire_bridge_http_requests_total{method="GET",route="/api/metrics/current",'
            'status="200"} 2.0') in text
    assert 'route="/api/metrics/{name}",status="404"' in text
    assert ('promwire_bridge_upstream_requests_total{endpoint="query",outcome="success",'
            f'upstream="prometheus"}} {float(len(BUILTIN))}') in text
    assert 'promwire_bridge_snapshot_cache_total{result="hit"} 1.0' in text


def test_duration_and_time_syntax():
    assert parse_duration("15s", "step") == 15
    assert parse_duration("1h30m", "step") == 5400
    assert parse_duration("500ms", "step") == 0.5
    assert parse_duration("2.5", "step") == 2.5
    assert parse_duration("1d", "range") == 86400
    assert parse_time("1764100000.5", "start") == 1764100000.5
    assert parse_time("2026-11-25T20:00:00+01:00", "start") == parse_time(
        "2026-11-25T19:00:00Z", "start")
    assert parse_time("2026-11-25T19:00:00", "start") == parse_time("2026-11-25T19:00:00Z", "x")
