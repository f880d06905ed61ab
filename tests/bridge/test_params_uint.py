"""Issue 9 item 5: integers in URLs and headers are plain ASCII digits, or a 400.

The HTTP-level cases (history, SSE, WebSocket, webhook) are in test_input_strictness.py; this
file holds the parser's own edges and the raw 0xff byte, which no aiohttp client can send.
"""

import asyncio

import pytest
from aiohttp import web

from bridge.errors import BadRequest
from bridge.http import error_middleware, request_token
from bridge.params import parse_uint


@pytest.mark.parametrize("text", ["²", "¹", "١٢", "", "-1", "+1", "1" * 20, " 1", "1 ", "1e3",
                                  "0x10", "1_000", "9" * 19])
def test_parse_uint_refuses_anything_but_ascii_digits(text: str) -> None:
    with pytest.raises(BadRequest, match="since"):
        parse_uint(text, "since")


def test_parse_uint_bounds() -> None:
    assert parse_uint("0", "since") == 0
    assert parse_uint(str(2**63 - 1), "since") == 2**63 - 1
    assert parse_uint("42", "limit", 1, 100) == 42
    with pytest.raises(BadRequest, match="limit"):
        parse_uint("101", "limit", 1, 100)
    with pytest.raises(BadRequest, match="limit"):
        parse_uint("0", "limit", 1, 100)


async def test_a_raw_0xff_authorization_byte_is_a_bad_request(aiohttp_server) -> None:
    """Real bytes on a real socket: aiohttp decodes 0xff as a surrogate, which used to 500."""

    async def handler(request: web.Request) -> web.Response:
        request_token(request)
        return web.Response(text="no")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\r\n"
                 b"Connection: close\r\n\r\n")
    reply = await reader.read()
    writer.close()
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b'"error":"bad_request"' in reply and b"Authorization" in reply
