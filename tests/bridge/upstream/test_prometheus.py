"""The Prometheus client: envelope parsing, typed errors, reachability status, split/stitch.

Faults come from the small fake upstream (tests/bridge/fakeprom.py); real-Prometheus behaviour
is covered in tests/bridge/metrics/test_integration.py.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bridge.config import PrometheusConfig
from bridge.errors import (
    UpstreamBadData,
    UpstreamExecution,
    UpstreamInvalid,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bridge.upstream.prometheus import PrometheusClient, split_range, stitch
from tests.bridge import fakeprom
from tests.servers import free_port


@pytest.fixture
async def fake(aiohttp_server):
    return await fakeprom.serve(aiohttp_server)


@pytest.fixture
async def client(fake) -> AsyncIterator[PrometheusClient]:
    async with fakeprom.client(fake.url, max_points=11000) as c:
        yield c


def respond(fake, response_factory):
    async def responder(endpoint, form):
        return response_factory()
    fake.responder = responder


async def test_instant_query_is_a_form_post_and_parses_special_values(client, fake):
    respond(fake, lambda: fakeprom.success(fakeprom.vector(
        [({"instance": "a"}, "NaN"), ({"instance": "b"}, "+Inf"), ({"instance": "c"}, "-Inf"),
         ({"instance": "d"}, "1.5e3")], 1764100000.25), warnings=["w1"], infos=["i1"]))
    result = await client.query("up", 1764100000.25)
    endpoint, form = fake.calls[0]
    assert endpoint == "query" and form["query"] == "up" and form["time"] == "1764100000.250"
    assert result.result_type == "vector"
    values = {s.labels["instance"]: s.value for s in result.series}
    assert math.isnan(values["a"]) and values["b"] == math.inf and values["c"] == -math.inf
    assert values["d"] == 1500.0
    assert result.series[0].timestamp == 1764100000.25
    assert result.warnings == ["w1"] and result.infos == ["i1"]
    assert result.data["result"][0]["value"][1] == "NaN"  # raw data kept for pass-through


async def test_scalar_and_string_results(client, fake):
    respond(fake, lambda: fakeprom.success({"resultType": "scalar", "result": [5.0, "2"]}))
    result = await client.query("2")
    assert result.result_type == "scalar" and result.series[0].value == 2.0
    respond(fake, lambda: fakeprom.success({"resultType": "string", "result": [5.0, "x"]}))
    assert (await client.query('"x"')).series == []


@pytest.mark.parametrize(("error_type", "status", "exc"), [
    ("bad_data", 400, UpstreamBadData),
    ("execution", 422, UpstreamExecution),
    ("timeout", 503, UpstreamTimeout),
    ("canceled", 503, UpstreamTimeout),
    ("unavailable", 503, UpstreamUnavailable),
    ("internal", 500, UpstreamInvalid),
])
async def test_error_envelopes_become_typed_errors(client, fake, error_type, status, exc):
    respond(fake, lambda: fakeprom.failure(error_type, f"boom {error_type}", status))
    with pytest.raises(exc) as info:
        await client.query("up")
    assert f"boom {error_type}" in info.value.detail
    assert info.value.status == {"bad_data": 400, "execution": 422, "timeout": 504,
                                 "canceled": 504, "unavailable": 503, "internal": 502}[error_type]


@pytest.mark.parametrize(("error_type", "status", "exc"), [
    ("422", 422, UpstreamExecution),  # VictoriaMetrics: a query it cannot parse or run
    ("400", 400, UpstreamBadData),    # VictoriaMetrics: a bad parameter
    ("500", 500, UpstreamInvalid),
    ("", 422, UpstreamExecution),
])
async def test_unknown_error_types_go_by_http_status(client, fake, error_type, status, exc):
    respond(fake, lambda: fakeprom.failure(error_type, "cannot parse", status))
    with pytest.raises(exc) as info:
        await client.query("sum(")
    assert "cannot parse" in info.value.detail
    assert info.value.status == {400: 400, 422: 422, 500: 502}[status]


@pytest.mark.parametrize(("body", "status", "exc"), [
    ("<html>bad gateway</html>", 502, UpstreamUnavailable),
    ("<html>service unavailable</html>", 503, UpstreamUnavailable),
    ("oops", 500, UpstreamInvalid),
    ("{not json", 200, UpstreamInvalid),
    ('{"status": "success"}', 200, UpstreamInvalid),
    ('{"status": "success", "data": {"resultType": "vector", "result": 3}}', 200,
     UpstreamInvalid),
    ('{"status": "success", "data": {"resultType": "vector", "result": '
     '[{"metric": {}, "value": [1, "abc"]}]}}', 200, UpstreamInvalid),
    ('{"status": "success", "data": {"resultType": "vector", "result": '
     '[{"metric": {}, "value": [1, 2]}]}}', 200, UpstreamInvalid),
    ('{"status": "success", "data": {"resultType": "tensor", "result": []}}', 200,
     UpstreamInvalid),
    ("[1, 2]", 200, UpstreamInvalid),
])
async def test_garbage_becomes_typed_errors(client, fake, body, status, exc):
    respond(fake, lambda: fakeprom.raw(body, status))
    with pytest.raises(exc):
        await client.query("up")


async def test_timeout_marks_prometheus_down_and_recovery_marks_it_up(client, fake):
    changes = []
    client.add_listener(lambda st: changes.append(st.up))
    await client.query("up")
    assert client.status.up is True

    async def slow(endpoint, form):
        await asyncio.sleep(5)
    fake.responder = slow
    with pytest.raises(UpstreamTimeout):
        await client.query("up")
    assert client.status.up is False and client.status.last_error["error"] == "timeout"
    fake.responder = None
    await client.query("up")
    assert client.status.up is True
    assert changes == [True, False, True]


async def test_query_errors_do_not_mark_prometheus_down(client, fake):
    respond(fake, lambda: fakeprom.failure("bad_data", "parse error", 400))
    with pytest.raises(UpstreamBadData):
        await client.query("sum(")
    assert client.status.up is True


async def test_unreachable_is_unavailable():
    c = PrometheusClient(PrometheusConfig(url=f"http://127.0.0.1:{free_port()}", timeout=2))
    await c.open()
    try:
        with pytest.raises(UpstreamUnavailable) as info:
            await c.query("up")
        assert "unreachable" in info.value.detail
        with pytest.raises(UpstreamUnavailable):
            await c.probe()
        assert c.status.up is False
    finally:
        await c.close()


async def test_probe(client, fake):
    assert await client.probe() >= 0
    fake.ready_status = 503
    with pytest.raises(UpstreamUnavailable):
        await client.probe()


async def test_outcomes_are_counted_in_self_metrics(client, fake):
    await client.query("up")
    respond(fake, lambda: fakeprom.failure("execution", "x", 422))
    with pytest.raises(UpstreamExecution):
        await client.query("up")
    registry = client.metrics.registry
    labels = {"upstream": "prometheus", "endpoint": "query"}
    assert registry.get_sample_value("promwire_bridge_upstream_requests_total",
                                     {**labels, "outcome": "success"}) == 1
    assert registry.get_sample_value("promwire_bridge_upstream_requests_total",
                                     {**labels, "outcome": "execution"}) == 1
    assert registry.get_sample_value("promwire_bridge_upstream_request_duration_seconds_count",
                                     labels) == 2


async def test_cancelled_request_is_not_an_upstream_failure(client, fake):
    async def slow(endpoint, form):
        await asyncio.sleep(5)
    fake.responder = slow
    task = asyncio.create_task(client.query("up"))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.status.up is None


def test_split_range_keeps_the_grid_and_the_limit():
    chunks = split_range(0, 25000, 1, 11000)
    assert chunks == [(0, 10999), (11000, 21999), (22000, 25000)]
    assert split_range(0, 100, 10, 11000) == [(0, 100)]
    assert split_range(5, 5, 1, 11000) == [(5, 5)]
    # The step grid of every chunk continues the grid of the whole range.
    chunks = split_range(0.5, 100000.5, 7, 1000)
    for (_, e1), (s2, _) in itertools.pairwise(chunks):
        assert (e1 - 0.5) % 7 == 0 and s2 - e1 == 7
    assert all(round((e - s) / 7) + 1 <= 1000 for s, e in chunks)
    with pytest.raises(ValueError):
        split_range(0, 10, 0, 11000)


def test_stitch_merges_by_labels_and_drops_repeated_timestamps():
    a = {"result": [{"metric": {"i": "1"}, "values": [[1, "a"], [2, "b"]]}]}
    b = {"result": [{"metric": {"i": "1"}, "values": [[2, "b"], [3, "c"]]},
                    {"metric": {"i": "2"}, "values": [[3, "z"]]}]}
    merged = stitch([a, b])
    assert merged["result"] == [{"metric": {"i": "1"}, "values": [[1, "a"], [2, "b"], [3, "c"]]},
                                {"metric": {"i": "2"}, "values": [[3, "z"]]}]


async def test_range_over_the_points_limit_is_split_and_stitched(client, fake):
    result = await client.query_range("up", 1000, 1000 + 30000, 1)
    ranges = [f for ep, f in fake.calls if ep == "query_range"]
    assert len(ranges) == 3  # the fake, like Prometheus, refuses > 11,000 points per chunk
    assert result.result_type == "matrix" and len(result.series) == 2
    for series in result.series:
        stamps = [t for t, _ in series.points]
        assert len(stamps) == 30001 and stamps == sorted(set(stamps))
        assert stamps[0] == 1000 and stamps[-1] == 31000
        assert all(b - a == 1 for a, b in itertools.pairwise(stamps))


async def test_range_query_warnings_are_merged(client, fake):
    async def warn(endpoint, form):
        return fakeprom.success({"resultType": "matrix", "result": []}, warnings=["partial"])
    fake.responder = warn
    result = await client.query_range("up", 0, 30000, 1)
    assert result.warnings == ["partial"]


async def test_range_query_rejects_bad_arguments(client):
    with pytest.raises(UpstreamBadData):
        await client.query_range("up", 10, 5, 1)
    with pytest.raises(UpstreamBadData):
        await client.query_range("up", 0, 5, 0)


async def test_session_is_required(fake):
    c = PrometheusClient(PrometheusConfig(url=fake.url))
    with pytest.raises(UpstreamUnavailable):
        await c.query("up")


async def test_prometheus_timeout_parameter_is_sent(client, fake):
    await client.query("up")
    assert float(fake.calls[0][1]["timeout"]) > 0


async def test_setup_registers_the_client_and_opens_it_on_startup(aiohttp_client, fake,
                                                                   tmp_path):
    from bridge.app import create_app
    from bridge.config import BridgeConfig
    from bridge.upstream.prometheus import PROMETHEUS_KEY

    app = create_app(BridgeConfig(prometheus=PrometheusConfig(url=fake.url),
                                  data_dir=str(tmp_path)))
    prom = app[PROMETHEUS_KEY]
    await aiohttp_client(app)
    assert (await prom.query("up")).series
    assert isinstance(app, web.Application)
