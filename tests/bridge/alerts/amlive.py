"""The Alertmanager side of the live silence tests (test_silences_live.py,
test_silence_scopes_live.py): the in-process bridge on an HA pair's cluster `ha`, its named
tokens, and Alertmanager's API as Prometheus and amtool use it. The `pair` and `bridge`
fixtures built of these are in conftest.py."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.app import create_app
from bridge.config import (
    AlertmanagerConfig,
    AlertsConfig,
    AuthConfig,
    BridgeConfig,
    ClusterConfig,
    TokenConfig,
)
from tests.bridge.alerts.helpers import TOKEN

AM_CONFIG = {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}

# Named tokens besides `default` (TOKEN, every scope): who may write silences and who may not.
TOKENS = (TokenConfig(name="viewer", token="v1ew", scopes=("read",)),
          TokenConfig(name="alertmanager", token="h00k", scopes=("webhook",)),
          TokenConfig(name="oncall", token="0ncall", scopes=("read", "silence")))


def bridge_app(tmp_path: Any, peers: tuple[str, ...], alerts: dict[str, Any],
               read_only: bool = False) -> Any:
    """The whole app on cluster `ha`; `alerts`: the `alert_store` fixture's backend."""
    config = BridgeConfig(
        data_dir=str(tmp_path), auth=AuthConfig(token=TOKEN, tokens=TOKENS,
                                                read_only=read_only),
        alertmanager=AlertmanagerConfig(clusters=(ClusterConfig("ha", peers),),
                                        reconcile_interval=0.3, reconcile_backoff_max=0.5,
                                        timeout=2.0),
        alerts=AlertsConfig(resend_interval=1.0, heartbeat=0.5, busy_timeout=0.2, **alerts))
    return create_app(config)


def am_post(url: str, path: str, body: Any, method: str = "POST") -> Any:
    """Alertmanager's API answer (JSON, or None when empty) to `body` at `path`."""
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        answer = resp.read()
    return json.loads(answer) if answer else None


def push_alert(am_url: str, labels: dict[str, str], resolved: bool = False) -> None:
    """An alert sent to Alertmanager as Prometheus sends it."""
    now = datetime.now(UTC)
    ends = now - timedelta(seconds=1) if resolved else now + timedelta(hours=1)
    am_post(am_url, "/api/v2/alerts", [{"labels": labels, "annotations": {"summary": "s"},
                                        "startsAt": "2026-01-01T00:00:00Z",
                                        "endsAt": ends.isoformat()}])


async def eventually(count: Any, at_least: int, within: float = 20.0) -> None:
    """Until the awaitable `count()` reaches `at_least`."""
    async with asyncio.timeout(within):
        while True:
            if await count() >= at_least:
                return
            await asyncio.sleep(0.1)
