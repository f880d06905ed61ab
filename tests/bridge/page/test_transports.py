"""The live page's streams in a real headless Chromium against real bridge and Prometheus
processes: a bridge restart (reconnect, the alert stream resumed with since/epoch), fallbacks,
`?token=` with protected reads, and Prometheus going down and back.

WebSocket is made to fail the way it fails in the field: behind a plain HTTP proxy that drops
the hop-by-hop `Upgrade` header (tests/bridge/plain_proxy.py), and polling is reached behind one
that also buffers responses. Failed connections are allowed only where the test causes them.
"""

from __future__ import annotations

import json

import pytest

from tests import servers
from tests.bridge import plain_proxy
from tests.bridge.page.helpers import (
    ALERTS_JS,
    CONFIG,
    STATE_JS,
    TOKEN,
    WAIT,
    post_alert,
    start_bridge,
    wait_host_values,
    wait_live,
)

pytestmark = pytest.mark.integration


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
