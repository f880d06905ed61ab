"""The HTTP server under the app: aiohttp's own errors in the bridge's JSON shape.

aiohttp answers requests its parser refuses (a bad header, Content-Length with chunked,
headers or a request line over 8 KiB, TLS or other bytes that are not HTTP) before any
middleware runs, as text/plain that echoes the request's bytes. `BridgeRunner` serves the app
through a request handler whose error hook answers them `{"error", "detail"}` like every other
error, logs one line instead of a traceback, and keeps aiohttp's closing of the connection.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from bridge.http import HTTP_ERROR_CODES, json_response, one_line

log = logging.getLogger("bridge.http")


class JsonErrorHandler(RequestHandler):
    """A connection whose own error answers (parser errors, the last-resort 500) are JSON."""

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None
                     ) -> web.StreamResponse:
        if isinstance(exc, ConnectionError):  # the client left mid-request: nobody to answer
            log.debug("%s %s: %s", request.method, request.path, exc)
            raise exc
        if request.writer.output_size > 0:  # as aiohttp: too late for another answer
            raise ConnectionError("the answer was already started; closing the connection")
        if status >= 500:
            log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
            body = {"error": "internal", "detail": "internal server error"}
        else:
            detail = one_line(message or "") or _phrase(status)
            log.info("refused a malformed request from %s: %s", request.remote, detail)
            body = {"error": HTTP_ERROR_CODES.get(status, "http_error"), "detail": detail}
        resp = json_response(body, status=status)
        resp.force_close()
        return resp

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp logs a body it cannot finish reading after the answer (bad gzip, broken
        chunks) as an unhandled exception with its traceback: it is the client's, one line."""
        exc = kw.get("exc_info")
        if isinstance(exc, web.RequestPayloadError | ConnectionError):
            log.info("closed a connection with a bad request body: %s", one_line(str(exc)))
            return
        super().log_exception(*args, **kw)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


class _JsonErrorServer(web.Server):
    """`web.Server` building `JsonErrorHandler` connections (same arguments as aiohttp's)."""

    def __call__(self) -> RequestHandler:
        return JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class BridgeRunner(web.AppRunner):
    """`web.AppRunner` whose connections answer aiohttp's own errors as JSON."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # the app's server as built, with our handler
        return server
