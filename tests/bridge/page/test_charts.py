"""The live page's charts in a real headless Chromium against a real bridge, Prometheus and
exporter: history then live points, the range picker and the URL, the series module, the
crosshair legend and drag-to-zoom, and a link to an unknown host.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests import servers
from tests.bridge.page.helpers import (
    CONFIG,
    WAIT,
    chart_js,
    wait_live,
)
from tests.browser import Page
from tests.conftest import NodeStack

pytestmark = pytest.mark.integration


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
    box: dict[str, float] = {}

    def locate() -> None:
        """Where the plot is now: the page above it may have grown since the last gesture
        (a gesture aimed at where it was would miss it)."""
        box.update(page.evaluate("""(() => {
            const over = document.querySelector('#charts [data-chart="cpu"] .u-over');
            over.scrollIntoView({block: "center"});
            const r = over.getBoundingClientRect();
            return {x: r.left, y: r.top + r.height / 2, w: r.width}; })()"""))

    def mouse(kind: str, at: float, **extra: Any) -> None:
        page.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"] + box["w"] * at,
                                               "y": box["y"], **extra})

    locate()
    mouse("mouseMoved", 0.5)
    hover = page.wait_for(f"(() => {{ const p = {PLOT_JS}; return p.idx !== null ? p : null; }})()",
                          WAIT, "the crosshair")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", hover["time"])
    user = next(entry for entry in hover["legend"] if entry.startswith("user"))
    assert user.endswith(" %") and f"{hover['user']:.1f}" in user
    assert not hover["zoomed"]

    locate()
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

    locate()
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
