"""The Grafana dashboards in dashboards/: well-formed, on the provisioned datasource, and every
query in them proven against a real Prometheus scraping the real exporter and a real bridge.

The stack: the exporter (job "node"), a bridge (job "promwire-bridge") driven with real traffic
(REST, WebSocket, SSE, a refused webhook, a manual alert), Alertmanager posting to the bridge's
webhook, and Prometheus (scraping all of it and itself every second) with the shipped
alerts.yml plus test rules that keep alerts firing and pending, so ALERTS has data.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from websockets.sync.client import connect

from tests import servers
from tests.dashboards import promql

ROOT = promql.ROOT
DASHBOARDS = promql.load_dashboards()
QUERIES = promql.queries(DASHBOARDS)
PROVISIONING = ROOT / "config" / "grafana" / "provisioning"
TOKEN = "dashboard-test-token"
GRAFANA_BUILTIN = {"type": "grafana", "uid": "-- Grafana --"}

# Panels for data a host may not have. A query here may come back empty, but only when the
# metric it reads has no series at all in Prometheus (checked below): an empty answer while the
# metric exists is still a failure.
MAY_BE_ABSENT = {
    "node_pressure_": "PSI: only kernels built with CONFIG_PSI (and irq only from Linux 6.1 "
                      "with CONFIG_IRQ_TIME_ACCOUNTING) have /proc/pressure",
    "node_hwmon_": "hwmon: most virtual machines expose no temperature sensors",
}

TEST_RULES = {"groups": [{"name": "dashboard-test", "rules": [
    {"alert": "DashboardTestWarning", "expr": 'up{job="node"} == 1',
     "labels": {"severity": "warning"}},
    {"alert": "DashboardTestCritical", "expr": 'up{job="node"} == 1',
     "labels": {"severity": "critical"}},
    {"alert": "DashboardTestPending", "expr": 'up{job="node"} == 1', "for": "1h",
     "labels": {"severity": "warning"}},
]}]}


def provisioned_datasources() -> list[dict[str, Any]]:
    return [ds for path in sorted((PROVISIONING / "datasources").glob("*.yml"))
            for ds in yaml.safe_load(path.read_text())["datasources"]]


def datasource_refs(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            yield node["datasource"]
        for value in node.values():
            yield from datasource_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from datasource_refs(value)


# ---------------------------------------------------------------------------- the files


def test_the_three_dashboards_exist():
    assert set(DASHBOARDS) == {"promwire-host.json", "promwire-bridge.json",
                               "promwire-alerts.json"}


def test_json_files_are_what_the_builder_writes(tmp_path: Path):
    script = ROOT / "scripts" / "build_dashboards.py"
    check = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    # ... and --check does fail on a file edited by hand.
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, timeout=60)
    edited = tmp_path / "promwire-host.json"
    edited.write_text(edited.read_text().replace("CPU busy", "CPU idle", 1))
    stale = subprocess.run([sys.executable, str(script), "--check", "--out", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert stale.returncode == 1 and "promwire-host.json" in stale.stderr


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_is_well_formed(name: str):
    dashboard = DASHBOARDS[name]
    assert dashboard["uid"] == name.removesuffix(".json")
    assert dashboard["title"] and dashboard["schemaVersion"] == 39
    ids = [p["id"] for p in promql.panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    for panel in promql.panels(dashboard):
        if panel["type"] == "row":
            continue
        targets = panel.get("targets", [])
        assert targets, f"{name}: panel {panel['title']!r} has no targets"
        assert all(t["expr"].strip() for t in targets), panel["title"]
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_dashboard_uids_and_titles_are_unique():
    assert len({d["uid"] for d in DASHBOARDS.values()}) == len(DASHBOARDS)
    assert len({d["title"] for d in DASHBOARDS.values()}) == len(DASHBOARDS)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_do_not_overlap(name: str):
    cells: dict[tuple[int, int], str] = {}
    for panel in promql.panels(DASHBOARDS[name]):
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_every_datasource_is_the_provisioned_prometheus():
    known = [{"type": ds["type"], "uid": ds["uid"]} for ds in provisioned_datasources()]
    assert known == [{"type": "prometheus", "uid": "promwire-prometheus"}]
    for name, dashboard in DASHBOARDS.items():
        refs = list(datasource_refs(dashboard))
        assert refs, name
        for ref in refs:
            assert ref in [*known, GRAFANA_BUILTIN], f"{name}: unknown datasource {ref}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_variable_used_is_defined(name: str):
    dashboard = DASHBOARDS[name]
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    texts = [t["expr"] for p in promql.panels(dashboard) for t in p.get("targets", [])]
    texts += [v["query"] for v in dashboard["templating"]["list"]]
    for text in texts:
        promql.expand(text, dict.fromkeys(defined, "x"))  # KeyError names an unknown one


def test_expansion_refuses_an_unknown_variable():
    with pytest.raises(KeyError, match="hostname"):
        promql.expand('node_load1{instance="$hostname"}', {"instance": "x"})
    assert promql.expand("rate(x[$__rate_interval]) ${job} [[job]]", {"job": "j"}) == \
        "rate(x[10s]) j j"


def test_job_and_instance_variables_come_from_label_values():
    for name in ("promwire-host.json", "promwire-bridge.json"):
        variables = {v["name"]: v for v in DASHBOARDS[name]["templating"]["list"]}
        assert promql.label_values(variables["job"]["query"])[1] == "job"
        selector, label = promql.label_values(variables["instance"]["query"])
        assert label == "instance" and selector is not None and '"$job"' in selector


# ---------------------------------------------------------------------------- the live stack


class Stack:
    def __init__(self, prom: servers.Process, bridge: servers.Process,
                 exporter: servers.Process) -> None:
        self.prom, self.bridge, self.exporter = prom, bridge, exporter

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query that must succeed; returns its result."""
        status, body = servers.http_json(f"{self.prom.url}/api/v1/query?query={quote(expr)}")
        assert status == 200 and body["status"] == "success", f"{expr}: {status} {body}"
        return body["data"]["result"]

    def label_values(self, selector: str | None, label: str) -> list[str]:
        url = f"{self.prom.url}/api/v1/label/{label}/values"
        if selector:
            url += f"?match[]={quote(selector)}"
        status, body = servers.http_json(url)
        assert status == 200 and body["status"] == "success", f"{url}: {status} {body}"
        return body["data"]


def _post(url: str, body: dict[str, Any], token: str | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _drive(bridge: str, streams: ExitStack) -> None:
    """Real traffic for every family of the bridge's /metrics; the streams stay open (and count
    as clients and subscribers) until `streams` closes."""
    for path in ("/api/metrics/current", "/api/metrics/current", "/api/metrics/cpu?range=1m",
                 "/api/instances", "/health", "/api/metrics/no_such_metric"):
        servers.http_get(bridge + path)
    assert _post(f"{bridge}/api/alerts/webhook", {"version": "4"}) == 401  # rejected
    assert _post(f"{bridge}/api/ws/broadcast/alert",
                 {"labels": {"alertname": "DashboardManual", "severity": "info"},
                  "status": "firing"}, TOKEN) == 200
    ws_url = bridge.replace("http://", "ws://")
    for path in ("/api/ws/ws", "/api/ws/ws/alerts"):
        ws = streams.enter_context(connect(ws_url + path, open_timeout=10, ping_interval=None))
        ws.recv(timeout=30)
    sse = http.client.HTTPConnection(bridge.split("://", 1)[1], timeout=30)
    streams.callback(sse.close)
    sse.request("GET", "/api/sse/metrics")
    response = sse.getresponse()
    assert response.status == 200
    response.readline()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("dashboards")
    bridge_port, prom_port = servers.free_port(), servers.free_port()
    prom_url = f"http://127.0.0.1:{prom_port}"
    processes: list[servers.Process] = []
    streams = ExitStack()
    try:
        exporter = servers.exporter(base / "exporter").start()
        processes.append(exporter)
        am = servers.alertmanager(base / "alertmanager", {
            "route": {"receiver": "bridge", "group_by": ["alertname"], "group_wait": "0s",
                      "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "bridge", "webhook_configs": [{
                "url": f"http://127.0.0.1:{bridge_port}/api/alerts/webhook",
                "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}}}]}],
        }).start()
        processes.append(am)
        bridge = servers.bridge(base / "bridge", prom_url, port=bridge_port,
                                alertmanager_url=am.url, token=TOKEN).start()
        processes.append(bridge)
        rules = base / "test_rules.yml"
        rules.write_text(yaml.safe_dump(TEST_RULES))
        prom = servers.prometheus(
            base / "prometheus", [exporter.address], port=prom_port,
            rule_files=[ROOT / "config" / "prometheus" / "alerts.yml", rules],
            alertmanager=am.url, extra_scrape=[
                {"job_name": "promwire-bridge",
                 "static_configs": [{"targets": [f"127.0.0.1:{bridge_port}"]}]},
                {"job_name": "prometheus",
                 "static_configs": [{"targets": [f"127.0.0.1:{prom_port}"]}]}]).start()
        processes.append(prom)
        _drive(bridge.url, streams)
        live = Stack(prom, bridge, exporter)
        wanted = ['rate(node_cpu_seconds_total{job="node"}[5s])',
                  'promwire_bridge_alert_events_stored_total{source="alertmanager"}',
                  "promwire_bridge_webhooks_rejected_total",
                  "promwire_bridge_alert_subscribers == 1", 'ALERTS{alertstate="pending"}',
                  'ALERTS_FOR_STATE{alertname="DashboardTestCritical"}']
        try:
            servers.wait_for(lambda: all(live.query(q) for q in wanted), timeout=60,
                             message="Prometheus to hold the exporter's, bridge's, alert data")
        except AssertionError as exc:
            missing = [q for q in wanted if not live.query(q)]
            raise AssertionError(f"{exc}; still empty: {missing}") from None
        yield live
    finally:
        streams.close()
        for proc in reversed(processes):
            proc.stop()


@pytest.fixture(scope="module")
def variables(stack: Stack) -> dict[str, dict[str, str]]:
    """Each dashboard's variables resolved as Grafana does, in order, from label_values()."""
    resolved: dict[str, dict[str, str]] = {}
    for dashboard in DASHBOARDS.values():
        values: dict[str, str] = {}
        for var in dashboard["templating"]["list"]:
            selector, label = promql.label_values(promql.expand(var["query"], values))
            found = stack.label_values(selector, label)
            assert found, f"{dashboard['uid']}: variable {var['name']} ({var['query']}) is empty"
            values[var["name"]] = promql.variable_value(var, found)
        resolved[dashboard["uid"]] = values
    return resolved


def test_variables_pick_the_stack_s_targets(stack: Stack, variables: dict[str, dict[str, str]]):
    exporter = stack.exporter.address
    bridge = stack.bridge.address
    assert variables["promwire-host"] == {"job": "node", "instance": exporter}
    assert variables["promwire-bridge"] == {"job": "promwire-bridge", "instance": bridge}
    assert variables["promwire-alerts"] == {"instance": ".*", "severity": ".*"}


def _absent_reason(stack: Stack, query: promql.Query) -> str | None:
    """Why an empty answer is acceptable: an allowlisted metric with no series at all."""
    for metric in promql.metric_names(query.expr):
        reason = next((r for prefix, r in MAY_BE_ABSENT.items() if metric.startswith(prefix)),
                      None)
        if reason and not stack.query(f"count({metric})"):
            return reason
    return None


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_query_returns_data(stack: Stack, variables: dict[str, dict[str, str]],
                            query: promql.Query):
    """Success and a non-empty answer, every `{{label}}` of the legend present in it, and every
    label value the query names literally present in Prometheus."""
    expr = promql.expand(query.expr, variables[query.dashboard])
    result = stack.query(expr)
    if not result:
        reason = _absent_reason(stack, query)
        if reason is not None:
            pytest.skip(f"absent on this host ({reason})")
        # A rate may need one more scrape of a series the traffic just created.
        result = servers.wait_for(lambda: stack.query(expr), timeout=20,
                                  message=f"data for {expr}")
    for label in promql.legend_labels(query.legend):
        missing = [r["metric"] for r in result if label not in r["metric"]]
        assert not missing, f"legend label {label!r} missing from {missing}"
    for matcher in promql.matchers(expr):
        for value in promql.named_values(matcher):
            selector = f'{matcher.metric}{{{matcher.label}="{value}"}}'
            assert stack.query(f"count({selector})"), f"no series {selector} (in {expr})"


def test_a_wrong_label_value_is_caught(stack: Stack):
    """The matcher check is real: a misspelt mode names no series."""
    (matcher,) = promql.matchers('rate(node_cpu_seconds_total{mode="idel"}[10s])')
    assert promql.named_values(matcher) == ["idel"]
    assert not stack.query('count(node_cpu_seconds_total{mode="idel"})')
    assert stack.query('count(node_cpu_seconds_total{mode="idle"})')
