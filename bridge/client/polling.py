"""REST polling of `/api/metrics/current`: the metrics client's fallback when WebSocket fails."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from bridge.client.snapshots import parse_snapshot
from bridge.protocol import CURRENT_PATH


class PollError(Exception):
    """Polling failed; `reachable` tells whether the bridge answered at all."""

    def __init__(self, detail: str, reachable: bool) -> None:
        super().__init__(detail)
        self.reachable = reachable


async def fetch_current(session: aiohttp.ClientSession, http_base: str,
                        headers: Mapping[str, str], limit: float) -> dict[str, Any]:
    """GET the current Snapshot; PollError with the bridge's own error detail on failure."""
    url = http_base + CURRENT_PATH
    try:
        async with session.get(url, headers=dict(headers),
                               timeout=aiohttp.ClientTimeout(total=limit)) as resp:
            body = await resp.read()
            status = resp.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise PollError(f"GET {url}: {describe(exc)}", reachable=False) from None
    try:
        return parse_snapshot(url, status, body)
    except ValueError as exc:
        raise PollError(str(exc), reachable=True) from None


def describe(exc: BaseException) -> str:
    """A one-line reason for a failed request (aiohttp's messages can be empty)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or exc.os_error})"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
