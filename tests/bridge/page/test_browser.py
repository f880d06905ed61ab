"""The live page in a real headless Chromium, against a real bridge process, a real Prometheus
and the real exporter (tests/browser.py drives Chromium over the DevTools protocol).

Every test fails on an uncaught exception, a console error or a Content-Security-Policy
violation in the page; failed connections are allowed only where the test causes them (a
stopped bridge, a proxy that breaks WebSocket). WebSocket is made to fail the way it fails in
the field: behind a plain HTTP proxy that drops the hop-by-hop `Upgrade` header
(tests/bridge/plain_proxy.py), and polling is reached behind one that also buffers responses.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.bridge import plain_proxy
from tests.browser import Browser, Page
from tests.conftest import NodeStack

pytestmark = pytest.mark.integration
TOKEN = "page-token"
CONFIG = {"streams": {"interval": 1.0}, "alertmanager": {"url": ""}}
# Long enough for a real bridge, Prometheus and browser on a busy 2-core machine.
WAIT = 30.0

# The state the page shows, read from its DOM.
STATE_JS = """(() => {
  const get = (id) => document.getElementById(id);
  const metrics = get("state-metrics").dataset, alerts = get("state-alerts").dataset;
  return {metrics: metrics.state, metricsVia: metrics.transport,
          alerts: alerts.state, alertsVia: alerts.transport,
          prometheus: get("prometheus").dataset.prometheus,
          stale: get("hosts").classList.contains("stale"),
          timestamp: Number(get("updated").dataset.timestamp || 0),
          messages: get("messages").textContent};
})()"""
# The values a host's card shows (data-value holds the raw number, the text the formatted one).
HOST_JS = """(() => {
  const card = [...document.querySelectorAll(".host")].find((c) => c.dataset.instance === NAME);
  if (!card) return null;
  const cell = (sel) => card.querySelector(sel);
  const value = (sel) => {
    const data = cell(sel).dataset.value;
    return data === "" ? null : Number(data);
  };
  const cpu = '[data-metric="cpu"] .value', disk = '[data-metric="disk"] .value';
  return {
    cpu: value(cpu), cpuText: cell(cpu).textContent,
    memory: value('[data-metric="memory"] .value'), swap: value('[data-metric="swap"] .value'),
    load1: value('[data-metric="load1"] .value'),
    disk: value(disk), diskText: cell(disk).textContent, fullest: cell(disk).dataset.mountpoint,
    read: value('[data-direction="read"]'), write: value('[data-direction="write"]'),
    rx: value('[data-direction="receive"]'), tx: value('[data-direction="transmit"]'),
    rxText: cell('[data-direction="receive"]').textContent,
    uptime: cell(".uptime").textContent,
    cpuPoints: Number(cell('[data-metric="cpu"] .spark').dataset.points),
    absent: card.classList.contains("absent"),
  };
})()"""


def host_js(instance: str) -> str:
    return HOST_JS.replace("NAME", json.dumps(instance))


ALERTS_JS = """[...document.querySelectorAll("#alerts-body tr")].map((tr) => ({
  fingerprint: tr.dataset.fingerprint,
  cells: [...tr.children].map((td) => td.textContent),
  elements: tr.querySelectorAll("*").length,
}))"""


def post_alert(bridge: servers.Process, labels: dict[str, str], status: str = "firing",
               annotations: dict[str, str] | None = None) -> dict[str, Any]:
    body = json.dumps({"labels": labels, "annotations": annotations or {}, "status": status})
    request = urllib.request.Request(bridge.url + "/api/ws/broadcast/alert", data=body.encode(),
                                     headers={"Authorization": f"Bearer {TOKEN}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def start_bridge(workdir: Path, prom_url: str, port: int | None = None,
                 config: dict[str, Any] | None = None) -> servers.Process:
    return servers.bridge(workdir, prom_url, token=TOKEN, port=port,
                          config=config or CONFIG).start()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser()
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def bridge(node_stack: NodeStack, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[servers.Process]:
    proc = start_bridge(tmp_path_factory.mktemp("page_bridge"), node_stack.prometheus.url)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Any]:
    pages: list[Page] = []

    def opener(url: str) -> Page:
        page = browser.new_page(url)
        pages.append(page)
        return page
    yield opener
    for page in pages:
        page.close()


def wait_live(page: Page, transport: str = "ws") -> dict[str, Any]:
    return page.wait_for(f"""(() => {{ const s = {STATE_JS};
        return s.metrics === "live" && s.alerts === "live" && s.metricsVia === "{transport}"
            && s.alertsVia === "{transport}" && s.timestamp > 0 ? s : null; }})()""",
                         WAIT, f"both streams live over {transport}")


def wait_host_values(page: Page, instance: str) -> dict[str, Any]:
    """The host's card once CPU, memory and disk hold numbers."""
    return page.wait_for(f"""(() => {{ const h = {host_js(instance)};
        return h && h.cpu !== null && h.memory !== null && h.disk !== null ? h : null; }})()""",
                         WAIT, f"numeric values for {instance}")


def test_page_shows_the_host_live(open_page, bridge, node_stack):
    page = open_page(bridge.url + "/")
    state = wait_live(page)
    assert state["prometheus"] == "up" and not state["stale"]
    host = wait_host_values(page, node_stack.exporter_target)
    assert 0 <= host["cpu"] <= 100 and host["cpuText"].endswith(" %")
    assert 0 < host["memory"] < 100 and 0 <= host["swap"] <= 100 and host["load1"] >= 0
    assert 0 < host["disk"] <= 100 and host["fullest"]
    assert host["diskText"] == f"{host['disk']:.1f} %"
    assert min(host["read"], host["write"], host["rx"], host["tx"]) >= 0
    assert host["rxText"].endswith("/s")
    assert host["uptime"].startswith("up ") and not host["absent"]
    # Live: new frames keep arriving (1 s interval) and feed the sparklines.
    page.wait_for(f"{host_js(node_stack.exporter_target)}.cpuPoints >= 3", WAIT,
                  "three CPU points in the sparkline")
    later = page.evaluate(STATE_JS)
    assert later["timestamp"] > state["timestamp"]
    assert page.websocket_urls() == [bridge.url.replace("http", "ws") + "/api/ws/ws",
                                     bridge.url.replace("http", "ws") + "/api/ws/ws/alerts"]
    assert page.problems(network=True) == []


def test_alerts_appear_as_text_and_go_when_resolved(open_page, bridge):
    page = open_page(bridge.url + "/")
    wait_live(page)
    plain = {"alertname": "PageDiskAlmostFull", "severity": "warning", "instance": "web-1:9100"}
    hostile = {"alertname": "<b>PageBold</b>", "severity": "critical", "instance": "web-2:9100"}
    xss = '<img src=x onerror="window.__pwned = 1">'
    first = post_alert(bridge, plain, annotations={"summary": "disk / is 91% full"})
    second = post_alert(bridge, hostile, annotations={"summary": xss})
    rows = page.wait_for(f"(() => {{ const r = {ALERTS_JS}; return r.length >= 2 ? r : null; }})()",
                         WAIT, "two alert rows")
    by_fp = {row["fingerprint"]: row for row in rows}
    shown = by_fp[second["fingerprint"]]
    assert shown["cells"][:4] == ["critical", "<b>PageBold</b>", "web-2:9100", xss]
    assert shown["cells"][4].endswith("ago")
    assert by_fp[first["fingerprint"]]["cells"][:4] == ["warning", "PageDiskAlmostFull",
                                                       "web-1:9100", "disk / is 91% full"]
    assert rows[0]["fingerprint"] == second["fingerprint"]  # critical first
    # Only the severity badge is an element inside a row's cells: the data stayed text.
    assert shown["elements"] == 5 + 1
    assert page.evaluate("document.querySelectorAll('img, b').length") == 0
    assert page.evaluate("window.__pwned === undefined")
    assert page.evaluate("document.getElementById('alert-count').textContent") == str(len(rows))

    post_alert(bridge, plain, status="resolved")
    page.wait_for(f"""{ALERTS_JS}.map((r) => r.fingerprint).join() === {json.dumps(
        second["fingerprint"])}""", WAIT, "the resolved alert to go")
    post_alert(bridge, hostile, status="resolved")
    page.wait_for(f"{ALERTS_JS}.length === 0", WAIT, "no alert left")
    assert page.evaluate("document.getElementById('no-alerts').classList.contains('hidden')") \
        is False
    assert page.evaluate("document.getElementById('alert-count').textContent") == "0"
    assert page.problems(network=True) == []


def test_page_reconnects_after_a_bridge_restart_and_resumes_alerts(open_page, node_stack,
                                                                   tmp_path):
    port = servers.free_port()
    workdir = tmp_path / "bridge"
    proc = start_bridge(workdir, node_stack.prometheus.url, port=port)
    try:
        page = open_page(proc.url + "/")
        wait_live(page)
        page.evaluate("window.__samePage = 'no reload'")
        before = post_alert(proc, {"alertname": "PageBeforeRestart", "severity": "info"})
        page.wait_for(f"{ALERTS_JS}.some((r) => r.fingerprint === "
                      f"{json.dumps(before['fingerprint'])})", WAIT, "the first alert")

        proc.stop()
        down = page.wait_for(f"""(() => {{ const s = {STATE_JS};
            return s.metrics === "reconnecting" && s.alerts === "reconnecting" ? s : null; }})()""",
                             WAIT, "both streams reconnecting")
        assert down["stale"] and down["prometheus"] == "unknown"
        assert page.evaluate("document.getElementById('alerts-section').classList"
                             ".contains('stale')")

        proc = start_bridge(workdir, node_stack.prometheus.url, port=port)
        back = wait_live(page)
        page.wait_for(f"{STATE_JS}.timestamp > {back['timestamp']}", WAIT, "fresh values")
        assert not page.evaluate(STATE_JS)["stale"]
        after = post_alert(proc, {"alertname": "PageAfterRestart", "severity": "info"})
        page.wait_for(f"""(() => {{ const fps = {ALERTS_JS}.map((r) => r.fingerprint);
            return fps.includes({json.dumps(before['fingerprint'])})
                && fps.includes({json.dumps(after['fingerprint'])}); }})()""",
                      WAIT, "both alerts after the restart")
        assert page.evaluate("window.__samePage") == "no reload"
        # The alert stream resumed from where it was: ?since=<last seq>&epoch=<the log's>.
        epoch = before["event"]["epoch"]
        resumed = [url for url in page.websocket_urls() if "/api/ws/ws/alerts?" in url]
        assert resumed and all(f"epoch={epoch}" in url for url in resumed)
        assert f"since={before['seq']}" in resumed[-1]
        # The only failures were connections refused while the bridge was down.
        assert page.problems() == []
    finally:
        proc.stop()


def test_page_falls_back_to_sse_when_websocket_cannot_pass(open_page, bridge, node_stack,
                                                          tmp_path):
    proxy = plain_proxy.process(tmp_path / "proxy", bridge.url).start()
    try:
        page = open_page(proxy.url + "/")
        wait_live(page, transport="sse")
        host = wait_host_values(page, node_stack.exporter_target)
        assert 0 <= host["cpu"] <= 100 and 0 < host["memory"] < 100
        alert = post_alert(bridge, {"alertname": "PageOverSse", "severity": "warning"})
        page.wait_for(f"{ALERTS_JS}.some((r) => r.fingerprint === "
                      f"{json.dumps(alert['fingerprint'])})", WAIT, "the alert over SSE")
        post_alert(bridge, {"alertname": "PageOverSse", "severity": "warning"}, "resolved")
        page.wait_for(f"!{ALERTS_JS}.some((r) => r.fingerprint === "
                      f"{json.dumps(alert['fingerprint'])})", WAIT, "the alert to go over SSE")
        # WebSocket was really tried, and really refused on the way.
        assert "upgrade-stripped /api/ws/ws\n" in proxy.log()
        assert "upgrade-stripped /api/ws/ws/alerts\n" in proxy.log()
        assert any("/api/sse/metrics" in url for url in page.requests())
        assert page.problems() == []
    finally:
        proxy.stop()


def test_page_polls_when_neither_stream_can_pass(open_page, bridge, node_stack, tmp_path):
    proxy = plain_proxy.process(tmp_path / "proxy", bridge.url, buffer=1.0).start()
    try:
        page = open_page(proxy.url + "/")
        page.wait_for(f"""(() => {{ const s = {STATE_JS};
            return s.metrics === "polling" && s.alerts === "polling" && s.timestamp > 0; }})()""",
                      WAIT, "both streams polling")
        host = wait_host_values(page, node_stack.exporter_target)
        assert 0 <= host["cpu"] <= 100 and host["disk"] > 0
        alert = post_alert(bridge, {"alertname": "PagePolled", "severity": "info"})
        page.wait_for(f"{ALERTS_JS}.some((r) => r.fingerprint === "
                      f"{json.dumps(alert['fingerprint'])})", WAIT, "the alert by polling")
        post_alert(bridge, {"alertname": "PagePolled", "severity": "info"}, "resolved")
        assert "stream-timeout /api/sse/metrics" in proxy.log()
        assert page.problems() == []
    finally:
        proxy.stop()


def test_page_passes_its_token_on(open_page, node_stack, tmp_path):
    config = {**CONFIG, "auth": {"protect_reads": True}}
    proc = start_bridge(tmp_path / "bridge", node_stack.prometheus.url, config=config)
    try:
        page = open_page(f"{proc.url}/?token={TOKEN}")
        wait_live(page)
        wait_host_values(page, node_stack.exporter_target)
        assert page.problems(network=True) == []
        assert all(url.endswith(f"token={TOKEN}") for url in page.websocket_urls())

        refused = open_page(proc.url + "/")
        refused.wait_for(f"{STATE_JS}.messages.includes('needs a token')", WAIT,
                         "the page to ask for a token")
        assert refused.evaluate("document.querySelectorAll('.host').length") == 0
        assert refused.evaluate(STATE_JS)["metrics"] != "live"
    finally:
        proc.stop()


def test_page_marks_values_stale_while_prometheus_is_down(open_page, node_stack, tmp_path):
    port = servers.free_port()
    prom = servers.prometheus(tmp_path / "prometheus", [node_stack.exporter_target], port=port)
    prom.start()
    proc = None
    try:
        servers.wait_for(lambda: servers.prom_query(prom.url, "rate(node_cpu_seconds_total[5s])"),
                         timeout=60, message="the dedicated Prometheus to scrape twice")
        proc = start_bridge(tmp_path / "bridge", prom.url)
        page = open_page(proc.url + "/")
        wait_live(page)
        wait_host_values(page, node_stack.exporter_target)

        prom.stop()
        down = page.wait_for(f"""(() => {{ const s = {STATE_JS};
            return s.prometheus === "down" ? s : null; }})()""", WAIT, "Prometheus down")
        assert down["stale"] and down["metrics"] == "stale"
        assert page.evaluate("document.getElementById('updated').textContent").endswith("stale")

        prom = servers.prometheus(tmp_path / "prometheus", [node_stack.exporter_target],
                                  port=port).start()
        up = page.wait_for(f"""(() => {{ const s = {STATE_JS};
            return s.prometheus === "up" && s.metrics === "live" && !s.stale ? s : null; }})()""",
                           WAIT, "Prometheus up and fresh values")
        assert up["timestamp"] > down["timestamp"]
        assert page.problems(network=True) == []
    finally:
        if proc is not None:
            proc.stop()
        prom.stop()


MODULES_JS = """(async () => {
  const { formatValue, duration } = await import("./static/format.js");
  const { Backoff } = await import("./static/transport.js");
  const top = new Backoff(500, 30000, () => 1);
  const ceilings = Array.from({ length: 9 }, () => top.next());
  top.reset();
  const afterReset = top.next();
  const bottom = new Backoff(500, 30000, () => 0);
  return {
    ceilings, afterReset, bottom: [bottom.next(), bottom.next()],
    values: [formatValue(12.345, "percent"), formatValue(1536, "bytes/s"),
             formatValue(3 * 1048576, "bytes/s"), formatValue(0, "bytes/s"),
             formatValue(93784, "seconds"), formatValue(0.5, ""), formatValue(2, "widgets"),
             formatValue("NaN", "percent"), formatValue("+Inf", "bytes/s")],
    durations: [duration(59), duration(61), duration(3600 * 5 + 60 * 7)],
  };
})()"""


def test_page_modules_format_units_and_back_off_with_full_jitter(open_page, bridge):
    """The page's own modules, imported in the browser: the waits before reconnect attempts
    are uniform in [0, min(30 s, 0.5 s * 2^n)] (here with the random draw pinned to its ends),
    and values are printed in the catalog's units."""
    page = open_page(bridge.url + "/")
    result = page.evaluate(MODULES_JS)
    assert result["ceilings"] == [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
    assert result["afterReset"] == 500 and result["bottom"] == [0, 0]
    assert result["values"] == ["12.3 %", "1.50 KiB/s", "3.00 MiB/s", "0 B/s", "1d 2h", "0.50",
                                "2.00 widgets", "NaN", "+Inf"]
    assert result["durations"] == ["59s", "1m 01s", "5h 07m"]
    assert page.problems(network=True) == []
