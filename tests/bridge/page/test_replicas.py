"""The live page with `page.bridges`: when the bridge that served it dies, it moves to the next
replica — both streams and the REST reads — without a reload, and its alert stream resumes there
with since/epoch. Here each bridge has its own SQLite log, so the other one answers with a resync
and the page shows that bridge's alerts, never a mix of both logs (with one shared PostgreSQL log
the same move needs no resync: the pg store's tests).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests import servers
from tests.bridge.page.helpers import (
    ALERTS_JS,
    CONFIG,
    STATE_JS,
    WAIT,
    post_alert,
    start_bridge,
    wait_live,
)

pytestmark = pytest.mark.integration
NAMES_JS = f"[...new Set({ALERTS_JS}.map((r) => r.group))].sort()"


def wait_names(page: Any, names: list[str], what: str) -> None:
    """Until the alert groups shown are exactly `names`."""
    wanted = json.dumps(sorted(names), separators=(",", ":"))
    page.wait_for(f"JSON.stringify({NAMES_JS}) === {json.dumps(wanted)}", WAIT, what)


def test_page_rotates_to_the_next_bridge_and_resyncs_its_alerts(open_page, node_stack,
                                                               tmp_path):
    port_a, port_b = servers.free_port(), servers.free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    a = start_bridge(tmp_path / "a", node_stack.prometheus.url, port=port_a,
                     config={**CONFIG, "page": {"bridges": [url_a, url_b]}})
    b = start_bridge(tmp_path / "b", node_stack.prometheus.url, port=port_b,
                     config={**CONFIG, "http": {"allowed_origins": [url_a]}})
    try:
        for bridge in (a, b):  # as an HA Alertmanager pair posts to both
            post_alert(bridge, {"alertname": "PageOnBoth", "severity": "warning"})
        first = post_alert(a, {"alertname": "PageOnlyOnA", "severity": "info"})
        page = open_page(url_a + "/")
        wait_live(page)
        wait_names(page, ["PageOnBoth", "PageOnlyOnA"], "bridge A's alerts")
        page.evaluate("window.__samePage = 'no reload'")

        a.kill()
        back = wait_live(page)
        wait_names(page, ["PageOnBoth"], "bridge B's alerts, and only those")
        page.wait_for(f"{STATE_JS}.timestamp > {back['timestamp']}", WAIT, "fresh values")
        later = post_alert(b, {"alertname": "PageAfterFailover", "severity": "info"})
        wait_names(page, ["PageAfterFailover", "PageOnBoth"], "an alert posted to B")
        assert page.evaluate("window.__samePage") == "no reload"
        # The alert stream asked B to resume from A's position; B's log is another one.
        to_b = [u for u in page.websocket_urls() if u.startswith(f"ws://127.0.0.1:{port_b}/")]
        resumed = [u for u in to_b if "/api/ws/ws/alerts?" in u]
        assert resumed and f"epoch={first['event']['epoch']}" in resumed[0]
        assert f"since={first['seq']}" in resumed[0]
        assert later["event"]["epoch"] != first["event"]["epoch"]
        assert any("/api/ws/ws?" in u or u.endswith("/api/ws/ws") for u in to_b)
        # The REST reads (the host list) followed the streams.
        servers.wait_for(lambda: any(u.startswith(url_b + "/api/instances")
                                     for u in page.requests()), WAIT, message="a read from B")
        # Only connections to the dead bridge failed: no CSP violation, no CORS refusal.
        assert page.problems() == []
    finally:
        a.stop()
        b.stop()
