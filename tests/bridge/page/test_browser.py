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
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests import servers
from tests.bridge import plain_proxy
from tests.bridge.page.helpers import (
    ALERTS_JS,
    CONFIG,
    GROUPS_JS,
    STATE_JS,
    TOKEN,
    WAIT,
    chart_js,
    post_alert,
    start_bridge,
    tile_js,
    wait_host_values,
    wait_live,
)
from tests.browser import Page
from tests.conftest import NodeStack

pytestmark = pytest.mark.integration


def test_page_shows_the_host_live(open_page, bridge, node_stack):
    page = open_page(bridge.url + "/")
    state = wait_live(page)
    assert state["prometheus"] == "up" and not state["stale"]
    host = wait_host_values(page, node_stack.exporter_target)
    assert 0 <= host["cpu"] <= 100 and host["cpuText"].endswith(" %")
    assert 0 < host["memory"] < 100 and 0 < host["disk"] <= 100 and host["load1"] >= 0
    assert host["network"] >= 0 and host["networkText"].endswith("/s")
    assert host["uptime"] > 0 and not host["absent"]
    assert host["href"] == f"#host={quote(node_stack.exporter_target)}&range=15m"
    # The bridge lists the host as up (GET /api/instances), and the tile says so.
    page.wait_for(f"{tile_js(node_stack.exporter_target)}.state === 'up'", WAIT, "state up")
    assert page.evaluate(tile_js(node_stack.exporter_target))["badge"] == "up"
    # Live: new frames keep arriving (1 s interval) and feed the tile's chart.
    page.wait_for(f"{STATE_JS}.timestamp > {state['timestamp']}", WAIT, "a newer frame")
    ws = bridge.url.replace("http", "ws")
    assert page.websocket_urls() == [ws + "/api/ws/ws", ws + "/api/ws/ws/alerts?state=all"]
    assert page.problems(network=True) == []


def test_alerts_are_grouped_shown_as_text_and_go_when_resolved(open_page, bridge):
    page = open_page(bridge.url + "/")
    wait_live(page)
    plain = {"alertname": "PageDiskAlmostFull", "severity": "warning", "instance": "web-1:9100"}
    plain2 = {**plain, "instance": "web-3:9100"}
    hostile = {"alertname": "<b>PageBold</b>", "severity": "critical", "instance": "web-2:9100"}
    xss = '<img src=x onerror="window.__pwned = 1">'
    first = post_alert(bridge, plain, annotations={"summary": "disk / is 91% full"})
    also = post_alert(bridge, plain2, annotations={"summary": "disk / is 93% full"})
    second = post_alert(bridge, hostile, annotations={"summary": xss})
    rows = page.wait_for(f"(() => {{ const r = {ALERTS_JS}; return r.length >= 3 ? r : null; }})()",
                         WAIT, "three alerts")
    by_fp = {row["fingerprint"]: row for row in rows}
    shown = by_fp[second["fingerprint"]]
    assert shown["group"] == "<b>PageBold</b>"
    assert shown["cells"][:3] == ["critical", "web-2:9100", xss]
    assert shown["cells"][3].endswith("ago")
    assert by_fp[first["fingerprint"]]["cells"][:3] == ["warning", "web-1:9100",
                                                       "disk / is 91% full"]
    # Grouped by alertname, the group holding the most severe alert first.
    groups = page.evaluate(GROUPS_JS)
    assert groups[0] == ["<b>PageBold</b>", 1]
    assert ["PageDiskAlmostFull", 2] in groups
    assert {by_fp[first["fingerprint"]]["group"], by_fp[also["fingerprint"]]["group"]} == {
        "PageDiskAlmostFull"}
    # Only the page's spans are elements (four cells; meta: cluster, state): data stayed text.
    assert shown["elements"] == 7 and shown["cells"][4] == "defaultactive"
    assert page.evaluate("document.querySelectorAll('main img, main b').length") == 0
    assert page.evaluate("window.__pwned === undefined")
    assert page.evaluate("document.getElementById('alert-count').textContent") == str(len(rows))

    # The matcher box filters; a bad regex says so and filters nothing out.
    def filter_by(text: str) -> list[str]:
        page.evaluate(f"""(() => {{ const box = document.getElementById("alert-filter");
            box.value = {json.dumps(text)}; box.dispatchEvent(new Event("input")); }})()""")
        return [row["fingerprint"] for row in page.evaluate(ALERTS_JS)]
    assert filter_by('severity="critical"') == [second["fingerprint"]]
    assert sorted(filter_by('{alertname="PageDiskAlmostFull", instance=~"web-[13]:.*"}')) == sorted(
        [first["fingerprint"], also["fingerprint"]])
    assert filter_by('instance!~"web-.*"') == []
    assert page.evaluate("document.getElementById('no-alerts').textContent") == (
        "No firing alert matches the filter.")
    assert filter_by("93%") == [also["fingerprint"]]
    assert len(filter_by('instance=~"("')) == len(rows)
    assert "bad regex" in page.evaluate("document.getElementById('filter-error').textContent")
    assert filter_by("") and page.evaluate(
        "document.getElementById('filter-error').textContent") == ""

    for labels in (plain, plain2):
        post_alert(bridge, labels, status="resolved")
    page.wait_for(f"""{ALERTS_JS}.map((r) => r.fingerprint).join() === {json.dumps(
        second["fingerprint"])}""", WAIT, "the resolved alerts to go")
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
        resumed = [url for url in page.websocket_urls() if "/api/ws/ws/alerts?" in url
                   and "since=" in url]
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
        assert refused.evaluate("document.querySelectorAll('.tile').length") == 0
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
        # The host list (GET /api/instances) is 503 while Prometheus is down: nothing else failed.
        assert page.problems() == []
        assert all("status of 503" in problem for problem in page.problems(network=True))
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


def detail_url(bridge: servers.Process, instance: str, rng: str = "15m") -> str:
    return f"{bridge.url}/#host={quote(instance)}&range={rng}"


def wait_prometheus_history(node_stack: NodeStack, seconds: int = 20) -> None:
    """Until the shared Prometheus holds `seconds` of 1 s scrapes (so a history has points)."""
    def enough() -> bool:
        result = servers.prom_query(node_stack.prometheus.url,
                                    'count_over_time(up{job="node"}[1m])')
        return bool(result) and float(result[0]["value"][1]) >= seconds
    servers.wait_for(enough, timeout=90, message=f"{seconds} s of scrapes in Prometheus")


def history_requests(page: Page, metric: str) -> list[dict[str, list[str]]]:
    """The query parameters of every history request the page made for `metric`."""
    return [parse_qs(urlsplit(url).query) for url in page.requests()
            if urlsplit(url).path == f"/api/metrics/{metric}"]


def test_charts_draw_history_then_grow_live_without_a_repeated_timestamp(open_page, bridge,
                                                                          node_stack):
    target = node_stack.exporter_target
    wait_prometheus_history(node_stack)
    url = detail_url(bridge, target)
    page = open_page(url)
    wait_live(page)
    first = page.wait_for(f"""(() => {{ const c = {chart_js("cpu")};
        return c && c.history >= 2 && c.drawn === c.points ? c : null; }})()""",
                          WAIT, "the CPU chart's history")
    # The history came from the REST endpoint, for this host, at the chart's range and step.
    asked = history_requests(page, "cpu_mode")
    assert {"range": ["900"], "step": [f"{first['step']:g}"], "instance": [target]} in asked
    assert first["range"] == 900 and first["history"] >= 2
    assert {"user", "system", "idle"} <= set(first["keys"])
    assert first["axes"] == 2 and any(entry.startswith("user") for entry in first["legend"])

    grown = page.wait_for(f"""(() => {{ const c = {chart_js("cpu")};
        return c.live >= {first['live']} + 3 && c.points > {first['points']}
            && c.drawn === c.points ? c : null; }})()""", WAIT, "live points on the chart")
    assert grown["unique"] and grown["increasing"]
    # The history is still there, and the stream carries on right after it: no gap wider than
    # a step and a few stream intervals (the ticks of a bridge on a busy machine may be late).
    assert grown["xs"][:first["history"]] == first["xs"][:first["history"]]
    joined = grown["xs"][grown["history"]] - grown["historyEnd"]
    assert 0 < joined <= grown["step"] + 5 * CONFIG["streams"]["interval"]
    # Every chart of the view has its history and its live points, each timestamp once.
    charts = page.evaluate("""[...document.querySelectorAll("#charts [data-chart]")]
        .map((n) => n.dataset.chart)""")
    assert charts == ["cpu", "memory", "swap", "load", "disk_io", "disk", "network"]
    for name in charts:
        chart = page.wait_for(f"""(() => {{ const c = {chart_js(name)};
            return c.history >= 1 && c.live >= 1 ? c : null; }})()""", WAIT, f"{name} points")
        assert chart["unique"] and chart["increasing"], name
    memory = page.evaluate(chart_js("memory"))
    assert memory["keys"] == ["used", "cache", "free"]

    # A reload shows the history at once: the chart again starts before the page did.
    started = page.evaluate("Date.now() / 1000")
    page.goto(url)
    again = page.wait_for(f"""(() => {{ const c = {chart_js("cpu")};
        return c && c.history >= 2 ? c : null; }})()""", WAIT, "history after the reload")
    assert again["xs"][0] < started - 2 and again["history"] >= first["history"] - 1
    assert page.problems(network=True) == []


def test_range_picker_changes_the_range_and_step_and_the_url_keeps_them(open_page, bridge,
                                                                        node_stack):
    target = node_stack.exporter_target
    wait_prometheus_history(node_stack)
    page = open_page(detail_url(bridge, target))
    before = page.wait_for(f"""(() => {{ const c = {chart_js("cpu")};
        return c && c.history >= 1 ? c : null; }})()""", WAIT, "the 15m history")
    page.evaluate("document.querySelector('#ranges [data-range=\"1h\"]').click()")
    after = page.wait_for(f"""(() => {{ const c = {chart_js("cpu")};
        return c && c.range === 3600 && c.history >= 1 ? c : null; }})()""", WAIT, "1h history")
    assert after["step"] > before["step"]
    assert {"range": ["3600"], "step": [f"{after['step']:g}"],
            "instance": [target]} in history_requests(page, "cpu_mode")
    # The tiles' charts follow the range too (one request for the hosts' CPU).
    assert any(query["range"] == ["3600"] for query in history_requests(page, "cpu"))
    assert page.evaluate("location.hash") == f"#host={quote(target)}&range=1h"
    assert page.evaluate("""[...document.querySelectorAll("#ranges button")]
        .filter((b) => b.getAttribute("aria-pressed") === "true").map((b) => b.dataset.range)
        """) == ["1h"]
    assert page.evaluate("document.getElementById('back').getAttribute('href')") == "#range=1h"

    # The link is shareable: opened elsewhere, it shows the same host and range.
    shared = open_page(detail_url(bridge, target, "6h"))
    chart = shared.wait_for(f"""(() => {{ const c = {chart_js("cpu")};
        return c && c.range === 21600 && c.history >= 1 ? c : null; }})()""", WAIT, "6h history")
    assert {"range": ["21600"], "step": [f"{chart['step']:g}"],
            "instance": [target]} in history_requests(shared, "cpu_mode")
    assert shared.evaluate("document.getElementById('detail-title').textContent") == target
    assert shared.evaluate("document.getElementById('overview').hidden") is True
    # Back to the overview, the range stays.
    shared.evaluate("document.getElementById('back').click()")
    shared.wait_for("!document.getElementById('overview').hidden && "
                    "document.getElementById('detail').hidden", WAIT, "the overview")
    assert shared.evaluate("location.hash") == "#range=6h"
    assert page.problems(network=True) == [] and shared.problems(network=True) == []


def test_two_exporters_give_two_tiles_and_a_dead_one_is_never_up(open_page, node_stack,
                                                                 tmp_path):
    second = servers.exporter(tmp_path / "exporter2").start()
    dead = second.url.split("://", 1)[1]
    alive = node_stack.exporter_target
    prom = servers.prometheus(tmp_path / "prometheus", [alive, dead]).start()
    proc = None
    try:
        servers.wait_for(lambda: len(servers.prom_query(prom.url, "rate(node_cpu_seconds_total"
                                                        "{mode='idle'}[5s])")) >= 2,
                         timeout=60, message="Prometheus to scrape both exporters twice")
        proc = start_bridge(tmp_path / "bridge", prom.url)
        page = open_page(proc.url + "/")
        wait_live(page)
        for instance in (alive, dead):
            page.wait_for(f"{tile_js(instance)}?.state === 'up'", WAIT, f"{instance} up")
        assert page.evaluate("document.querySelectorAll('.tile').length") == 2
        assert page.evaluate("document.getElementById('host-count').textContent") == "2"

        second.stop()
        gone = page.wait_for(f"""(() => {{ const t = {tile_js(dead)};
            return t.state === "down" || t.state === "stale" ? t : null; }})()""",
                             WAIT, "the stopped exporter's tile down or stale")
        assert gone["badge"] == gone["state"]
        # Prometheus still returns its last values for minutes: the tile still never says up.
        stamp = page.evaluate(STATE_JS)["timestamp"]
        page.wait_for(f"{STATE_JS}.timestamp > {stamp} + 2", WAIT, "more frames")
        assert page.evaluate(tile_js(dead))["state"] in ("down", "stale")
        assert page.evaluate(tile_js(alive))["state"] == "up"
        # Worst first.
        order = page.evaluate("[...document.querySelectorAll('.tile')].map((t) => "
                              "t.dataset.instance)")
        assert order == [dead, alive]

        # A click opens the host's detail view, with its charts.
        page.evaluate(f"""[...document.querySelectorAll(".tile")].find(
            (t) => t.dataset.instance === {json.dumps(alive)}).click()""")
        page.wait_for(f"document.getElementById('detail-title').textContent === "
                      f"{json.dumps(alive)} && !document.getElementById('detail').hidden",
                      WAIT, "the detail view")
        assert page.evaluate("location.hash") == f"#host={quote(alive)}&range=15m"
        assert page.evaluate("document.querySelectorAll('#charts [data-chart]').length") == 7
        assert page.evaluate("document.getElementById('detail-state').textContent") == "up"
        assert page.problems(network=True) == []
    finally:
        if proc is not None:
            proc.stop()
        prom.stop()
        second.stop()


# Elements sticking out of the viewport, and words of the alert list drawn on more than one line
# (the client rects of a Range over one word: a word broken mid-word has two). A line may
# still end after a hyphen ("db-" / "primary"), as in print.
LAYOUT_JS = """(() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && (box.right > width + 0.5 || box.left < -0.5);
  }).map((el) => `${el.tagName}.${el.className}`);
  const broken = [];
  const walker = document.createTreeWalker(document.getElementById("alerts-section"),
                                           NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const re = /[^\\s-]+-*/g;
    for (let m = re.exec(node.data); m; m = re.exec(node.data)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0)
        .map((r) => Math.round(r.top)));
      if (tops.size > 1) broken.push(m[0]);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, wide, broken,
          alerts: document.querySelectorAll("#alerts-body li.alert").length};
})()"""
PHONE_ALERTS = [
    ({"alertname": "PhoneHostDown", "severity": "critical", "instance": "127.0.0.1:9100"},
     "The exporter at 127.0.0.1:9100 has not answered Prometheus' scrapes for two minutes."),
    ({"alertname": "PhoneFilesystemAlmostFull", "severity": "warning",
      "instance": "db-primary-01.internal:9100", "mountpoint": "/var/lib/postgresql"},
     "Filesystem /var/lib/postgresql on db-primary-01.internal is 93.5% full."),
    ({"alertname": "PhoneMemoryPressure", "severity": "info", "instance": "[::1]:9100"},
     "Memory used above 90% for 10 minutes; swap is filling."),
]


def test_phone_width_has_no_horizontal_overflow_and_no_broken_words(open_page, bridge,
                                                                   node_stack):
    page = open_page("about:blank")
    page.viewport(360, 740, mobile=True)
    page.goto(bridge.url + "/")
    wait_host_values(page, node_stack.exporter_target)
    posted = [post_alert(bridge, labels, annotations={"summary": summary})
              for labels, summary in PHONE_ALERTS]
    try:
        layout = page.wait_for(f"""(() => {{ const l = {LAYOUT_JS};
            return l.alerts >= {len(posted)} ? l : null; }})()""", WAIT, "the alerts")
        assert layout["width"] == 360
        assert layout["scrollWidth"] <= layout["width"] and layout["wide"] == []
        assert layout["broken"] == []
        # On the phone, an alert is a card: its summary on a line of its own, under the rest.
        boxes = page.evaluate("""(() => { const li = document.querySelector("#alerts-body li");
            const box = (sel) => li.querySelector(sel).getBoundingClientRect();
            return {severity: box(".severity").top, summary: box(".summary").top,
                    width: li.getBoundingClientRect().width}; })()""")
        assert boxes["summary"] > boxes["severity"] and boxes["width"] <= 360
        # The detail view fits too.
        page.evaluate(f"location.hash = {json.dumps('#host=' + quote(node_stack.exporter_target))}")
        page.wait_for(f"""(() => {{ const c = {chart_js("cpu")};
            return c && c.drawn > 0 ? c : null; }})()""", WAIT, "the CPU chart on the phone")
        detail = page.evaluate(LAYOUT_JS)
        assert detail["scrollWidth"] <= 360 and detail["wide"] == [] and detail["broken"] == []
        assert page.problems(network=True) == []
    finally:
        for labels, _ in PHONE_ALERTS:
            post_alert(bridge, labels, status="resolved")


ARTIFACTS = Path(__file__).resolve().parents[3] / ".artifacts"


@pytest.mark.parametrize(("width", "height", "mobile"), [(1440, 900, False), (390, 844, True)])
def test_screenshots_light_and_dark(open_page, bridge, node_stack, width, height, mobile):
    """Screenshots of the overview and a host's charts, light and dark, in .artifacts/ (for
    people to look at); what is checked is that each theme really applies its colours."""
    target = node_stack.exporter_target
    alert = post_alert(bridge, {"alertname": "ScreenshotDiskAlmostFull", "severity": "warning",
                                "instance": target},
                       annotations={"summary": "disk / is 91% full"})
    try:
        backgrounds = {}
        for scheme in ("light", "dark"):
            page = open_page("about:blank")
            page.viewport(width, height, mobile=mobile)
            page.color_scheme(scheme)
            page.goto(bridge.url + "/")
            wait_host_values(page, target)
            page.wait_for(f"{ALERTS_JS}.length >= 1 && {tile_js(target)}.points >= 2", WAIT,
                          "an alert and the tile's chart")
            backgrounds[scheme] = page.evaluate(
                "getComputedStyle(document.body).backgroundColor")
            shot = page.screenshot(ARTIFACTS / f"page-{width}x{height}-{scheme}.png")
            assert shot.startswith(b"\x89PNG")
            page.evaluate(f"location.hash = {json.dumps('#host=' + quote(target))}")
            page.wait_for(f"""(() => {{ const c = {chart_js("network")};
                return c && c.drawn >= 2 ? c : null; }})()""", WAIT, "the charts")
            page.screenshot(ARTIFACTS / f"page-host-{width}x{height}-{scheme}.png")
            assert page.problems(network=True) == []
        assert backgrounds["light"] != backgrounds["dark"]
    finally:
        post_alert(bridge, {"alertname": "ScreenshotDiskAlmostFull", "severity": "warning",
                            "instance": target}, status="resolved")
    assert alert["fingerprint"]


def test_theme_toggle_overrides_the_system_and_is_kept(open_page, bridge):
    page = open_page("about:blank")
    page.color_scheme("dark")
    page.goto(bridge.url + "/")
    theme = """[document.documentElement.dataset.theme || "system",
                getComputedStyle(document.body).backgroundColor]"""
    system = page.evaluate(theme)
    assert system[0] == "system"
    page.evaluate("document.getElementById('theme').click()")
    light = page.evaluate(theme)
    page.evaluate("document.getElementById('theme').click()")
    dark = page.evaluate(theme)
    assert light[0] == "light" and dark[0] == "dark"
    assert light[1] != dark[1] and dark[1] == system[1]
    page.goto(bridge.url + "/")  # kept across a reload (localStorage)
    assert page.evaluate(theme)[0] == "dark"
    page.evaluate("document.getElementById('theme').click()")
    assert page.evaluate(theme)[0] == "system"
    assert page.problems(network=True) == []


BUDGET = 150_000  # bytes, the "150 KB" for the page's first load


def test_first_load_fits_the_transfer_budget(open_page, bridge, node_stack):
    """Everything the first load of / fetches over HTTP (page, scripts, styles, icon, uPlot,
    the catalog, the host list and the tiles' history), as Chromium counts it on the wire,
    with its cache off."""
    page = open_page("about:blank")
    page.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.goto(bridge.url + "/")
    page.wait_for(f"{tile_js(node_stack.exporter_target)}?.history >= 1", WAIT,
                  "the tile's history")
    sizes = page.transferred()
    assert any(url.endswith("/static/vendor/uplot/uPlot.iife.min.js") for url in sizes)
    assert any("/api/metrics/cpu?" in url for url in sizes)
    total = sum(sizes.values())
    print(f"first load: {total} bytes over {len(sizes)} requests")
    assert total <= BUDGET, sizes
    assert page.problems(network=True) == []


SERIES_JS = """(async () => {
  const { SeriesTable, stepFor, MAX_POINTS } = await import("./static/series.js");
  const { parseFilter } = await import("./static/matchers.js");
  const { axisValue } = await import("./static/format.js");
  const table = new SeriesTable((labels) => labels.mode ?? null, { range: 100, step: 2 });
  // Live points that came while the history was being fetched: kept only after its end.
  table.pushLive(103, new Map([["user", 7]]));
  table.pushLive(106, new Map([["user", 8]]));
  table.setHistory([{ labels: { mode: "user" }, points: [[100, 5], [102, 6], [104, "NaN"]] },
                    { labels: { mode: "system" }, points: [[102, 1]] },
                    { labels: {}, points: [[100, 9]] }]);
  const copy = (data) => data.map((column) => [...column]);
  const merged = copy(table.data(["user", "system"]));
  const counts = [table.historyPoints, table.livePoints];
  const repeated = table.pushLive(106, new Map([["user", 1]]));
  table.pushLive(107, new Map([["user", 2]]));  // less than a step after 106: provisional
  table.pushLive(107.5, new Map([["user", 3]]));  // replaces it
  table.pushLive(110, new Map([["user", 4], ["system", 2]]));
  const live = copy(table.data(["user", "system"]));
  table.pushLive(250, new Map([["user", 5]]));  // the range (100 s) drops the old points
  const trimmed = table.xs.slice();
  const big = new SeriesTable(() => "x", { range: 1e9, step: 0 });
  for (let i = 1; i <= MAX_POINTS + 10; i += 1) big.pushLive(i, new Map([["x", i]]));
  const alert = { labels: { alertname: "A", severity: "critical", instance: "web-1:9100" },
                  annotations: { summary: "Disk full" } };
  const filters = ['severity="critical"', '{instance=~"web-.*", severity!="info"}',
                   'instance!~"web.*"', "disk", "nothing", 'severity="crit"', 'a=~"("', "x y="]
    .map((text) => { const f = parseFilter(text); return [f.test(alert), f.error !== null]; });
  return {
    merged, counts, repeated, live, trimmed, big: [big.xs.length, big.xs[0]],
    steps: [stepFor(900, 1000, 1), stepFor(3600, 1000, 1), stepFor(900, 1000, 5),
            stepFor(604800, 1000, 5), stepFor(900, 0, 1)],
    filters,
    axis: [axisValue(40, "percent"), axisValue(1536, "bytes"), axisValue(2 * 1048576, "bytes/s"),
           axisValue(0, "bytes/s"), axisValue(0.756, "")],
  };
})()"""


def test_page_series_merge_history_and_live_once_and_filters_parse(open_page, bridge):
    """series.js, matchers.js and the axis labels, imported in the browser."""
    page = open_page(bridge.url + "/")
    result = page.evaluate(SERIES_JS)
    assert result["merged"] == [[100, 102, 104, 106], [5, 6, None, 8], [None, 1, None, None]]
    assert result["counts"] == [3, 1]
    assert result["repeated"] is False
    assert result["live"] == [[100, 102, 104, 106, 107.5, 110], [5, 6, None, 8, 3, 4],
                              [None, 1, None, None, None, 2]]
    assert result["trimmed"] == [250]
    assert result["big"] == [5000, 11]
    assert result["steps"] == [2, 10, 5, 1800, 900]
    assert result["filters"] == [[True, False], [True, False], [False, False], [True, False],
                                 [False, False], [False, False], [True, True], [True, True]]
    assert result["axis"] == ["40 %", "1.5 KiB", "2 MiB/s", "0 B/s", "0.756"]
    assert page.problems(network=True) == []


PLOT_JS = """(() => {
  const chart = document.querySelector('#charts [data-chart="cpu"]').chart;
  const u = chart.plot;
  return {idx: u.cursor.idx, zoomed: chart.zoomed, min: u.scales.x.min, max: u.scales.x.max,
          first: u.data[0][0], last: u.data[0][u.data[0].length - 1], points: u.data[0].length,
          time: document.querySelector('#charts [data-chart="cpu"] .u-series .u-value').textContent,
          user: chart.keys.indexOf("user") >= 0 && u.cursor.idx !== null
            ? u.data[1 + chart.keys.indexOf("user")][u.cursor.idx] : null,
          legend: [...document.querySelectorAll('#charts [data-chart="cpu"] .u-series')]
            .map((s) => s.textContent)};
})()"""


def test_charts_show_values_under_the_crosshair_and_zoom_by_dragging(open_page, bridge,
                                                                     node_stack):
    page = open_page("about:blank")
    page.viewport(1440, 900)
    page.goto(detail_url(bridge, node_stack.exporter_target))
    page.wait_for(f"""(() => {{ const c = {chart_js("cpu")};
        return c && c.points >= 5 && c.drawn === c.points; }})()""", WAIT, "CPU points")
    box = page.evaluate("""(() => {
        const over = document.querySelector('#charts [data-chart="cpu"] .u-over');
        over.scrollIntoView({block: "center"});
        const r = over.getBoundingClientRect();
        return {x: r.left, y: r.top + r.height / 2, w: r.width}; })()""")

    def mouse(kind: str, at: float, **extra: Any) -> None:
        page.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"] + box["w"] * at,
                                               "y": box["y"], **extra})

    mouse("mouseMoved", 0.5)
    hover = page.wait_for(f"(() => {{ const p = {PLOT_JS}; return p.idx !== null ? p : null; }})()",
                          WAIT, "the crosshair")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", hover["time"])
    user = next(entry for entry in hover["legend"] if entry.startswith("user"))
    assert user.endswith(" %") and f"{hover['user']:.1f}" in user
    assert not hover["zoomed"]

    mouse("mousePressed", 0.2, button="left", buttons=1, clickCount=1)
    mouse("mouseMoved", 0.45, button="left", buttons=1)
    mouse("mouseMoved", 0.7, button="left", buttons=1)
    mouse("mouseReleased", 0.7, button="left", buttons=0, clickCount=1)
    zoomed = page.wait_for(f"(() => {{ const p = {PLOT_JS}; return p.zoomed ? p : null; }})()",
                           WAIT, "a zoomed chart")
    assert zoomed["first"] < zoomed["min"] < zoomed["max"] < zoomed["last"]
    # Live points keep coming in; the zoomed view stays where it was.
    later = page.wait_for(f"""(() => {{ const p = {PLOT_JS};
        return p.last > {zoomed['last']} ? p : null; }})()""", WAIT, "a live point while zoomed")
    assert (later["min"], later["max"]) == (zoomed["min"], zoomed["max"]) and later["zoomed"]

    mouse("mousePressed", 0.5, button="left", buttons=1, clickCount=1)
    mouse("mouseReleased", 0.5, button="left", buttons=0, clickCount=1)
    mouse("mousePressed", 0.5, button="left", buttons=1, clickCount=2)
    mouse("mouseReleased", 0.5, button="left", buttons=0, clickCount=2)
    whole = page.wait_for(f"(() => {{ const p = {PLOT_JS}; return p.zoomed ? null : p; }})()",
                          WAIT, "zoomed out")
    assert whole["min"] == whole["first"] and whole["max"] == whole["last"]
    assert page.problems(network=True) == []


def test_a_link_to_an_unknown_host_shows_empty_charts_not_up(open_page, bridge):
    page = open_page(detail_url(bridge, "gone.example:9100"))
    wait_live(page)
    page.wait_for("""document.querySelectorAll("#charts [data-chart][data-empty]").length === 7""",
                  WAIT, "seven empty charts")
    assert page.evaluate("document.getElementById('detail-state').textContent") == "unknown"
    assert page.evaluate("""getComputedStyle(document.querySelector(
        '#charts [data-chart] .plot'), '::after').content""") == '"no data in this range"'
    assert page.problems(network=True) == []
