"""Clients of the services the bridge re-serves: Prometheus (`prometheus`, whose answers
`promresult` parses) and Alertmanager (`alertmanager`). Each maps every way its service can
fail to a `bridge.errors.UpstreamError` and counts its requests in the bridge's own metrics.

Both open their session when the application starts and close it when it stops: `session_ctx`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from aiohttp import web


class Client(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...


def session_ctx(key: web.AppKey[Any]) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx that opens the client under `key` at start-up and closes it at shutdown."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        client: Client = app[key]
        await client.open()
        try:
            yield
        finally:
            await client.close()
    return ctx
