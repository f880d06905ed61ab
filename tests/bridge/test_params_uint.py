"""Issue 9 item 5: numbers in URLs, headers, bodies and the config are plain ASCII, or an error
naming the field (never a ValueError from deep inside, and never another script's digits).

The HTTP-level cases (history, SSE, WebSocket, webhook) are in test_input_strictness.py; this
file holds the parser's own edges and the raw 0xff byte, which no aiohttp client can send.
"""

import asyncio

import pytest
import yaml
from aiohttp import web

from bridge.alerts.model import parse_time as alert_time
from bridge.config import ConfigError
from bridge.configload import load_config
from bridge.errors import BadRequest
from bridge.http import error_middleware, request_token
from bridge.params import parse_duration, parse_number, parse_time, parse_uint
from bridge.streams.sse import subscribe_fields

_ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x660 + d) for d in range(10)))


def arabic(text: str) -> str:
    """`text` with its ASCII digits written as Arabic-Indic digits (which `\\d`, `int` and
    `float` accept)."""
    return text.translate(_ARABIC_INDIC)


@pytest.mark.parametrize("text", ["²", "¹", arabic("12"), "", "-1", "+1", "1" * 20, " 1", "1 ",
                                  "1e3",
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


@pytest.mark.parametrize("text", [arabic("15"), "1h" + arabic("30") + "m", arabic("15") + "s",
                                  "nan", "inf", "1_0", arabic("1.5")])
def test_durations_take_ascii_digits_only(text: str) -> None:
    with pytest.raises(BadRequest, match="step"):
        parse_duration(text, "step")


@pytest.mark.parametrize("text", [arabic("1700000000"), "nan", "-inf", "1_700_000_000"])
def test_times_take_ascii_digits_only(text: str) -> None:
    with pytest.raises(BadRequest, match="time"):
        parse_time(text, "time")


@pytest.mark.parametrize("text", [arabic("2"), "nan", "inf", " 2", "2_0", "", "2s"])
def test_a_stream_interval_is_an_ascii_decimal(text: str) -> None:
    with pytest.raises(BadRequest, match="interval"):
        subscribe_fields({"interval": text})


def test_numbers_still_parse() -> None:
    assert parse_number("2.5", "interval") == 2.5
    assert parse_duration("1h30m", "step") == 5400.0
    assert subscribe_fields({"interval": "2"})["interval"] == 2.0


@pytest.mark.parametrize("text", [arabic("2026") + "-01-01T00:00:00Z", "2026-01-01T00:00:00Z\n",
                                  "2026-01-01T00:00:0" + arabic("0") + "Z",
                                  "2026-01-01T00:00:00+" + arabic("01") + ":00"])
def test_alert_times_take_ascii_digits_and_nothing_after(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        alert_time(text)


@pytest.mark.parametrize(("data", "key"), [({"alerts": {"max_matchers": "²"}}, "max_matchers"),
                                           ({"listen": "127.0.0.1:²"}, "listen")])
def test_config_integers_with_superscripts_are_config_errors(tmp_path, data, key) -> None:
    path = tmp_path / "bridge.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=key):
        load_config(str(path), env={})
