"""A plain HTTP/1.1 reverse proxy that knows nothing of WebSocket, for the browser tests.

It does what RFC 9110 asks of any proxy: hop-by-hop headers (`Connection`, `Upgrade`, ...) are
not forwarded. A WebSocket handshake therefore reaches the bridge as an ordinary GET, which the
bridge answers 400, and the browser's WebSocket fails — exactly what happens behind proxies and
load balancers that were never configured for WebSocket, while plain HTTP and streamed
responses (SSE) get through. With `--buffer SECONDS` it also buffers whole responses and gives
up on any that takes longer (504), as buffering proxies with a read timeout do: event streams
never get through it, complete answers do.

Run as a process: `python -m tests.bridge.plain_proxy --upstream URL --port PORT [--buffer S]`.
Each request that asked for an upgrade is logged as `upgrade-stripped PATH`, each event
stream cut as `stream-timeout PATH`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.typedefs import LooseHeaders

from tests import servers

REPO = Path(__file__).resolve().parents[2]

HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade"))


def end_to_end(headers: LooseHeaders) -> dict[str, str]:
    """The headers a proxy forwards: hop-by-hop ones and those `Connection` names dropped."""
    items = list(headers.items())
    named = {token.strip().lower() for key, value in items if key.lower() == "connection"
             for token in value.split(",")}
    return {k: v for k, v in items if k.lower() not in HOP_BY_HOP and k.lower() not in named
            and k.lower() != "content-length"}


class PlainProxy:
    def __init__(self, upstream: str, buffer: float | None) -> None:
        self.upstream = upstream.rstrip("/")
        self.buffer = buffer
        self.session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if "upgrade" in request.headers.get("Connection", "").lower():
            print(f"upgrade-stripped {request.path}", flush=True)
        assert self.session is not None
        body = await request.read()
        upstream = self.session.request(
            request.method, self.upstream + request.path_qs, headers=end_to_end(request.headers),
            data=body or None, allow_redirects=False, auto_decompress=False)
        if self.buffer is not None:
            return await self.buffered(request, upstream)
        async with upstream as answer:
            response = web.StreamResponse(status=answer.status, reason=answer.reason,
                                          headers=end_to_end(answer.headers))
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def buffered(self, request: web.Request,
                       upstream: AbstractAsyncContextManager[aiohttp.ClientResponse]
                       ) -> web.Response:
        try:
            async with asyncio.timeout(self.buffer):
                async with upstream as answer:
                    content = await answer.read()
                    return web.Response(status=answer.status, reason=answer.reason,
                                        body=content, headers=end_to_end(answer.headers))
        except TimeoutError:
            print(f"stream-timeout {request.path}", flush=True)
            return web.Response(status=504, text="upstream read timeout")


async def serve(args: argparse.Namespace) -> None:
    proxy = PlainProxy(args.upstream, args.buffer)
    proxy.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None),
                                          cookie_jar=aiohttp.DummyCookieJar())
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", proxy.handle)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port, shutdown_timeout=1.0).start()
    print(f"proxying 127.0.0.1:{args.port} -> {args.upstream}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await proxy.session.close()


def process(workdir: Path, upstream: str, buffer: float | None = None) -> servers.Process:
    """The proxy as a test process in front of `upstream` (ready once it relays /health)."""
    port = servers.free_port()
    argv = servers.python_module("tests.bridge.plain_proxy", "--upstream", upstream,
                                 "--port", str(port))
    if buffer is not None:
        argv += ["--buffer", str(buffer)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return servers.Process("plain_proxy", argv, workdir, f"http://127.0.0.1:{port}", "/health",
                           env=env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--buffer", type=float, default=None)
    try:
        asyncio.run(serve(parser.parse_args()))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
