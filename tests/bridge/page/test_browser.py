"""The live page in a real headless Chromium, against a real bridge process, a real Prometheus
and the real exporter (tests/browser.py drives Chromium over the DevTools protocol): the hosts
overview, the alert list, layout at phone width, themes, screenshots and the transfer budget.
The charts are in test_charts.py, reconnection and fallbacks in test_transports.py, the alert
console (actions, silences, notifications) in test_alert_console.py.

Every test fails on an uncaught exception, a console error or a Content-Security-Policy
violation in the page; failed connections are allowed only where the test causes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tests import servers
from tests.bridge.page.helpers import (
    ALERTS_JS,
    GROUPS_JS,
    LAYOUT_JS,
    STATE_JS,
    WAIT,
    chart_js,
    post_alert,
    start_bridge,
    tile_js,
    wait_host_values,
    wait_live,
)

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


def test_two_exporters_give_two_tiles_and_a_dead_one_is_never_up(open_page, node_stack,
                                                                 tmp_path):
    second = servers.exporter(tmp_path / "exporter2").start()
    dead = second.address
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
