"""What the page's browser tests share: a bridge to test against, frames to post to it, and
JavaScript reading the page's state from its DOM (tests/browser.py drives Chromium)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from tests import servers
from tests.browser import Page

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
# A host's tile: its state, figures (data-value holds the raw number, the text the formatted
# one) and its small CPU chart's points.
TILE_JS = """(() => {
  const tile = [...document.querySelectorAll(".tile")].find((t) => t.dataset.instance === NAME);
  if (!tile) return null;
  const cell = (name) => tile.querySelector(`[data-metric="${name}"] .value`);
  const value = (name) => {
    const data = cell(name).dataset.value;
    return data === "" ? null : Number(data);
  };
  const table = tile.querySelector(".plot").chart.table;
  return {
    state: tile.dataset.state, badge: tile.querySelector(".badge").textContent,
    cpu: value("cpu"), cpuText: cell("cpu").textContent, memory: value("memory"),
    disk: value("disk"), load1: value("load1"), network: value("network"),
    networkText: cell("network").textContent, uptime: value("uptime"),
    uptimeText: cell("uptime").textContent, points: table.xs.length,
    history: table.historyPoints, absent: tile.classList.contains("absent"),
    href: tile.getAttribute("href"),
  };
})()"""
# One chart of the detail view: the table behind it and what uPlot was given.
CHART_JS = """(() => {
  const node = document.querySelector(`#charts [data-chart="ID"]`);
  if (!node) return null;
  const chart = node.chart, t = chart.table;
  return {
    points: t.xs.length, history: t.historyPoints, live: t.livePoints, historyEnd: t.historyEnd,
    xs: t.xs.slice(), step: t.step, range: t.range, keys: chart.keys,
    drawn: chart.plot ? chart.plot.data[0].length : 0,
    unique: new Set(t.xs).size === t.xs.length,
    increasing: t.xs.every((x, i) => i === 0 || x > t.xs[i - 1]),
    legend: [...node.querySelectorAll(".u-legend .u-series")].map((s) => s.textContent),
    axes: node.querySelectorAll(".u-axis").length,
  };
})()"""


def tile_js(instance: str) -> str:
    return TILE_JS.replace("NAME", json.dumps(instance))


def chart_js(chart: str) -> str:
    return CHART_JS.replace("ID", chart)


ALERTS_JS = """[...document.querySelectorAll("#alerts-body li.alert")].map((li) => ({
  fingerprint: li.dataset.fingerprint,
  group: li.closest(".alert-group").dataset.alertname,
  cells: [...li.children].map((span) => span.textContent),
  elements: li.querySelectorAll("*").length,
}))"""
GROUPS_JS = """[...document.querySelectorAll("#alerts-body .alert-group")].map((g) => [
  g.dataset.alertname, g.querySelectorAll("li.alert").length])"""


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


def wait_live(page: Page, transport: str = "ws") -> dict[str, Any]:
    return page.wait_for(f"""(() => {{ const s = {STATE_JS};
        return s.metrics === "live" && s.alerts === "live" && s.metricsVia === "{transport}"
            && s.alertsVia === "{transport}" && s.timestamp > 0 ? s : null; }})()""",
                         WAIT, f"both streams live over {transport}")


def wait_host_values(page: Page, instance: str) -> dict[str, Any]:
    """The host's tile once CPU, memory and disk hold numbers."""
    return page.wait_for(f"""(() => {{ const t = {tile_js(instance)};
        return t && t.cpu !== null && t.memory !== null && t.disk !== null ? t : null; }})()""",
                         WAIT, f"numeric values for {instance}")


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
