"""Snapshots: evaluate() into the README shape; SnapshotCache TTL, single-flight, stale fallback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from bridge.config import CatalogEntry
from bridge.errors import NotFound, UpstreamTimeout, UpstreamUnavailable
from bridge.jsonenc import dumps
from bridge.metrics import snapshot as snapshot_module
from bridge.metrics.catalog import Catalog
from bridge.metrics.snapshot import SnapshotCache, evaluate, filter_instances
from bridge.upstream.prometheus import PrometheusClient
from tests.bridge import fakeprom


@pytest.fixture
async def fake(aiohttp_server):
    return await fakeprom.serve(aiohttp_server)


@pytest.fixture
async def prom(fake) -> AsyncIterator[PrometheusClient]:
    async with fakeprom.client(fake.url) as c:
        yield c


CATALOG = Catalog([CatalogEntry("a", "qa", "A", "percent"), CatalogEntry("b", "qb", "B", "s"),
                   CatalogEntry("c", "qc", "C", "")])


async def test_evaluate_returns_the_snapshot_shape(prom, fake):
    fake.values = {"qa": "NaN", "qb": "2.5"}
    snap = await evaluate(prom, CATALOG)
    assert set(snap) == {"timestamp", "stale", "age", "metrics", "errors", "warnings"}
    assert snap["stale"] is False and snap["age"] == 0 and snap["errors"] == {}
    assert list(snap["metrics"]) == ["a", "b", "c"]
    b = snap["metrics"]["b"]
    assert b["title"] == "B" and b["unit"] == "s"
    assert b["samples"][0] == {"instance": "host-a:9100", "labels": {}, "value": 2.5,
                               "timestamp": pytest.approx(snap["timestamp"], abs=0.001)}
    # Every query is evaluated at the same time; NaN is encoded as the string "NaN".
    assert len({form["time"] for _, form in fake.calls}) == 1
    encoded = json.loads(dumps(snap))
    assert encoded["metrics"]["a"]["samples"][0]["value"] == "NaN"


async def test_evaluate_runs_the_queries_concurrently(prom, fake):
    release = asyncio.Event()

    async def hold(endpoint, form):
        if fake.in_flight >= 3:
            release.set()
        await asyncio.wait_for(release.wait(), 5)
    fake.responder = hold
    snap = await evaluate(prom, CATALOG)
    assert fake.max_in_flight == 3 and len(snap["metrics"]) == 3


async def test_labels_and_instance_filter(prom, fake):
    async def labelled(endpoint, form):
        return fakeprom.success(fakeprom.vector(
            [({"instance": "h2", "device": "eth0", "__name__": "x"}, "1"),
             ({"instance": "h1", "device": "eth1"}, "2"),
             ({"instance": "h1", "device": "eth0"}, "3")], float(form["time"])))
    fake.responder = labelled
    snap = await evaluate(prom, CATALOG, names=["a"])
    samples = snap["metrics"]["a"]["samples"]
    assert [(s["instance"], s["labels"]) for s in samples] == [
        ("h1", {"device": "eth0"}), ("h1", {"device": "eth1"}), ("h2", {"device": "eth0"})]
    only = await evaluate(prom, CATALOG, names=["a"], instances=["h2"])
    assert [s["instance"] for s in only["metrics"]["a"]["samples"]] == ["h2"]
    assert filter_instances(snap, ["h1"])["metrics"]["a"]["samples"] == samples[:2]


async def test_evaluate_unknown_name_is_not_found(prom):
    with pytest.raises(NotFound):
        await evaluate(prom, CATALOG, names=["zzz"])


async def test_per_metric_errors_and_warnings(prom, fake):
    async def mixed(endpoint, form):
        if form["query"] == "qb":
            return fakeprom.failure("execution", "many-to-many matching", 422)
        if form["query"] == "qc":
            return fakeprom.success(fakeprom.vector([], 1.0), warnings=["partial data"])
    fake.responder = mixed
    snap = await evaluate(prom, CATALOG)
    assert list(snap["metrics"]) == ["a", "c"]
    assert snap["errors"] == {"b": {"error": "execution", "detail": "many-to-many matching"}}
    assert snap["warnings"] == ["c: partial data"]


async def test_unreachable_prometheus_raises(prom, fake):
    fake.ready_status = 503

    async def down(endpoint, form):
        return fakeprom.raw("<html>down</html>", 503, "text/html")
    fake.responder = down
    with pytest.raises(UpstreamUnavailable):
        await evaluate(prom, CATALOG)


async def test_all_timeouts_raise_timeout(prom, fake):
    async def slow(endpoint, form):
        await asyncio.sleep(5)
    fake.responder = slow
    with pytest.raises(UpstreamTimeout):
        await evaluate(prom, CATALOG)


def cache_for(prom, ttl=60.0, max_stale=300.0):
    return SnapshotCache(prom, CATALOG, ttl=ttl, max_stale=max_stale, metrics=prom.metrics)


async def test_burst_costs_one_round_of_queries(prom, fake):
    cache = cache_for(prom)
    results = await asyncio.gather(*(cache.get() for _ in range(50)))
    assert len(fake.calls) == len(CATALOG)
    assert all(r["metrics"] == results[0]["metrics"] for r in results)
    await cache.get()  # within the TTL: from memory
    assert len(fake.calls) == len(CATALOG)
    registry = prom.metrics.registry
    counts = {r: registry.get_sample_value("promwire_bridge_snapshot_cache_total",
                                           {"result": r}) for r in ("miss", "shared", "hit")}
    assert counts == {"miss": 1, "shared": 49, "hit": 1}


async def test_expired_ttl_asks_again(prom, fake):
    cache = cache_for(prom, ttl=0)
    await cache.get()
    await cache.get()
    assert len(fake.calls) == 2 * len(CATALOG)


async def test_get_bytes_is_the_same_snapshot(prom, fake):
    cache = cache_for(prom)
    decoded = json.loads(await cache.get_bytes())
    snap = json.loads(dumps(await cache.get()))
    assert decoded.pop("age") >= 0 and snap.pop("age") >= 0
    assert decoded == snap


async def test_cache_hits_reuse_the_encoding(prom, fake, monkeypatch):
    """The snapshot is encoded once per refresh, not once per answer."""
    encoded: list[object] = []

    def counting_dumps(data):
        encoded.append(data)
        return dumps(data)
    monkeypatch.setattr(snapshot_module, "dumps", counting_dumps)
    cache = cache_for(prom)
    answers = [json.loads(await cache.get_bytes()) for _ in range(5)]
    assert len(encoded) == 1
    assert all(a["metrics"] == answers[0]["metrics"] for a in answers)
    # One more encoding per instance filter, whatever the order or repeats of its names.
    only_b = [json.loads(await cache.get_bytes(names))
              for names in (["host-b:9100"], ["host-b:9100", "host-b:9100"], ["host-b:9100"])]
    assert len(encoded) == 2
    assert all({s["instance"] for m in a["metrics"].values() for s in m["samples"]}
               == {"host-b:9100"} for a in only_b)
    assert only_b[0] == {**answers[0], "age": only_b[0]["age"],
                         "metrics": filter_instances(answers[0], ["host-b:9100"])["metrics"]}


async def test_stale_fallback_then_unavailable(prom, fake):
    cache = cache_for(prom, ttl=0, max_stale=300)
    good = await cache.get()

    async def refused(endpoint, form):
        return fakeprom.raw("proxy: upstream down", 502, "text/plain")
    fake.responder = refused
    stale = await cache.get()
    assert stale["stale"] is True and stale["metrics"] == good["metrics"]
    assert stale["timestamp"] == good["timestamp"] and stale["age"] >= 0
    assert json.loads(await cache.get_bytes())["stale"] is True
    assert isinstance(cache.last_error, UpstreamUnavailable)
    # Once the last good snapshot is older than max_stale, there is nothing to serve.
    cache.snapshot["timestamp"] -= 301
    with pytest.raises(UpstreamUnavailable) as info:
        await cache.get()
    assert "max_stale" in info.value.detail
    # Prometheus back: fresh again, without a new cache.
    fake.responder = None
    fresh = await cache.get()
    assert fresh["stale"] is False and fresh["timestamp"] > good["timestamp"]


async def test_no_snapshot_and_down_is_unavailable(prom, fake):
    async def refused(endpoint, form):
        return fakeprom.raw("down", 503, "text/plain")
    fake.responder = refused
    with pytest.raises(UpstreamUnavailable):
        await cache_for(prom).get()


async def test_failures_are_cached_for_the_ttl(prom, fake):
    """A down Prometheus is asked once per TTL, not once per request."""
    async def refused(endpoint, form):
        return fakeprom.raw("down", 503, "text/plain")
    fake.responder = refused
    cache = cache_for(prom, ttl=60)
    for _ in range(5):
        with pytest.raises(UpstreamUnavailable):
            await cache.get()
    assert len(fake.calls) == len(CATALOG)


async def test_a_cancelled_caller_does_not_cancel_the_shared_refresh(prom, fake):
    gate = asyncio.Event()

    async def hold(endpoint, form):
        await asyncio.wait_for(gate.wait(), 5)
    fake.responder = hold
    cache = cache_for(prom)
    first = asyncio.create_task(cache.get())
    second = asyncio.create_task(cache.get())
    await asyncio.sleep(0.05)
    first.cancel()
    gate.set()
    assert (await second)["metrics"]
    assert len(fake.calls) == len(CATALOG)
