"""The client is for consumers: importing it (and promwire-watch) loads none of the bridge's
server side — no aiohttp.web, no bridge.http/app/config/streams/alerts."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_SIDE = ("aiohttp.web", "bridge.app", "bridge.http", "bridge.config", "bridge.streams",
               "bridge.alerts", "bridge.upstream", "bridge.metrics", "bridge.page", "bridge.cli")


def server_side(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == s or m.startswith(s + ".") for s in SERVER_SIDE)]


def loaded_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def test_the_check_notices_server_modules() -> None:
    assert server_side(loaded_after("import bridge.http")) != []


def test_public_names_import_without_server_modules() -> None:
    modules = loaded_after("from bridge.client import MetricsWebSocketClient, AlertsClient, "
                           "MetricsFetcher")
    assert "bridge.client.metrics" in modules  # the check itself sees what was imported
    assert server_side(modules) == []


def test_watch_imports_only_the_client() -> None:
    modules = loaded_after("import bridge.watch")
    assert "bridge.watch" in modules
    assert server_side(modules) == []


def bridge_modules(modules: list[str]) -> list[str]:
    """The bridge modules outside the client that were loaded (the package itself aside)."""
    return [m for m in modules if m.startswith("bridge.") and not m.startswith("bridge.client")]


def test_the_client_imports_only_the_protocol_of_the_server() -> None:
    modules = loaded_after("import bridge.client")
    assert "bridge.client.alerts" in modules
    assert bridge_modules(modules) == ["bridge.protocol"]


def test_watch_imports_the_protocol_and_its_own_view_only() -> None:
    modules = loaded_after("import bridge.watch")
    assert bridge_modules(modules) == ["bridge.protocol", "bridge.watch", "bridge.watchview"]
