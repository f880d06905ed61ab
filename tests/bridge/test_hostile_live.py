"""Issue 9, items 5 and 6 on the wire: a real bridge process, raw sockets.

`Authorization: Bearer \\xff` (a byte aiohttp keeps as a surrogate) is a JSON 400 on every
endpoint that reads the token, and no bad input to a WebSocket upgrade gets a 5xx or a second
status line written into the upgraded socket: either a JSON 4xx before the upgrade, or a 101
followed by an error frame and a close code. Requests aiohttp's own parser refuses get the
same JSON error shape as every other error. Neither bridge logs a traceback for any of it.
"""

from __future__ import annotations

import gzip
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from tests import servers
from tests.bridge.rawhttp import (
    OP_CLOSE,
    OP_TEXT,
    WS_HEADERS,
    WS_KEY,
    Reply,
    exchange,
    http_request,
    parse,
    upgrade,
    ws_frame,
)
from tests.conftest import NodeStack

pytestmark = pytest.mark.integration
TOKEN = "hostile-token"
BAD_BEARER = b"Authorization: Bearer \xff\r\n"
METRICS_WS, ALERTS_WS = "/api/ws/ws", "/api/ws/ws/alerts"
BODY_TIMEOUT = 2.0


def _start(node_stack: NodeStack, tmp_path_factory, name: str, protect_reads: bool
           ) -> Iterator[servers.Process]:
    proc = servers.bridge(tmp_path_factory.mktemp(name), node_stack.prometheus.url, token=TOKEN,
                          alertmanager_url="",
                          config={"metrics": {"raw_queries": True},
                                  "auth": {"protect_reads": protect_reads},
                                  "http": {"body_timeout": BODY_TIMEOUT}})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        log = proc.log_path.read_text(errors="replace")
        assert "Traceback" not in log and "Error handling request" not in log, log[-3000:]


@pytest.fixture(scope="module")
def open_bridge(node_stack, tmp_path_factory) -> Iterator[servers.Process]:
    """Reads open: only writes, raw queries and the metric streams read the token."""
    yield from _start(node_stack, tmp_path_factory, "hostile_open", protect_reads=False)


@pytest.fixture(scope="module")
def closed_bridge(node_stack, tmp_path_factory) -> Iterator[servers.Process]:
    """`auth.protect_reads: true`: every read endpoint reads the token too."""
    yield from _start(node_stack, tmp_path_factory, "hostile_closed", protect_reads=True)


def port(proc: servers.Process) -> int:
    return int(proc.url.rsplit(":", 1)[1])


def assert_json_error(reply: Reply, status: int, word: str = "") -> None:
    assert reply.status == status, reply.raw[:400]
    assert reply.headers["content-type"].startswith("application/json"), reply.raw[:400]
    body = reply.json()
    assert set(body) >= {"error", "detail"} and word in body["detail"], body


def assert_one_status_line(reply: Reply) -> None:
    """Nothing after a 101 looks like HTTP: the raw `HTTP/1.1 500` of issue 9."""
    if reply.status == 101:
        after = reply.raw.partition(b"\r\n\r\n")[2]
        assert b"HTTP/1." not in after, reply.raw[:600]
    assert reply.status < 500, reply.raw[:600]


WRITE_AND_STREAM = [
    ("POST", "/api/alerts/webhook", b"{}"),
    ("POST", "/api/ws/broadcast/alert", b"{}"),
    ("GET", "/api/query?query=up", b""),
    ("GET", "/api/query_range?query=up&range=1m", b""),
    ("GET", "/api/sse/metrics", b""),
]
READS = [
    ("GET", "/api/sse/alerts", b""),
    ("GET", "/api/alerts", b""),
    ("GET", "/api/alerts/history", b""),
    ("GET", "/api/metrics", b""),
    ("GET", "/api/metrics/current", b""),
    ("GET", "/api/metrics/cpu", b""),
    ("GET", "/api/instances", b""),
]


@pytest.mark.parametrize("header", [BAD_BEARER, b"Authorization: Basic \xff\xfe\r\n",
                                    b"Authorization: \xc3\xbf\r\n"],
                         ids=["bearer", "basic", "utf8"])
@pytest.mark.parametrize(("method", "path", "body"), WRITE_AND_STREAM,
                         ids=[p for _, p, _ in WRITE_AND_STREAM])
def test_a_non_ascii_authorization_is_a_json_400(open_bridge, header, method, path, body):
    headers = header + (b"Content-Type: application/json\r\n" if body else b"")
    reply = exchange(port(open_bridge), http_request(method, path, headers, body))
    assert_json_error(reply, 400, "Authorization")


@pytest.mark.parametrize(("method", "path", "body"), WRITE_AND_STREAM + READS,
                         ids=[p for _, p, _ in WRITE_AND_STREAM + READS])
def test_with_protected_reads_every_endpoint_answers_400(closed_bridge, method, path, body):
    reply = exchange(port(closed_bridge), http_request(method, path, BAD_BEARER, body))
    assert_json_error(reply, 400, "Authorization")


@pytest.mark.parametrize("path", [METRICS_WS, ALERTS_WS])
def test_a_non_ascii_authorization_on_an_upgrade_is_a_400_before_it(closed_bridge, path):
    reply = exchange(port(closed_bridge), upgrade(path, BAD_BEARER))
    assert_json_error(reply, 400, "Authorization")


def test_the_metric_socket_reads_the_token_before_upgrading(open_bridge):
    """It reads the token (raw queries need it) with reads open too: once wrote `HTTP/1.1 400`
    into the socket after its 101."""
    reply = exchange(port(open_bridge), upgrade(METRICS_WS, BAD_BEARER))
    assert_json_error(reply, 400, "Authorization")


def _key(value: bytes) -> bytes:
    return WS_HEADERS.replace(WS_KEY, value)


# (name, path suffix, extra header lines, handshake headers): each must not get a 5xx.
UPGRADES = [
    ("token-escaped-ff", "?token=%FF", b"", WS_HEADERS),
    ("origin-foreign", "", b"Origin: http://evil.example\r\n", WS_HEADERS),
    ("origin-ff", "", b"Origin: \xff\r\n", WS_HEADERS),
    ("version-99", "", b"", WS_HEADERS.replace(b"Version: 13", b"Version: 99")),
    ("key-short", "", b"", _key(b"abc")),
    ("key-ff", "", b"", _key(b"\xff" * 24)),
    ("key-missing", "", b"", WS_HEADERS.replace(b"Sec-WebSocket-Key: " + WS_KEY + b"\r\n", b"")),
    ("protocol-ff", "", b"Sec-WebSocket-Protocol: \xff\r\n", WS_HEADERS),
    ("extension-ff", "", b"Sec-WebSocket-Extensions: permessage-deflate; x=\xff\r\n", WS_HEADERS),
    ("no-upgrade-header", "", b"", WS_HEADERS.replace(b"Upgrade: websocket\r\n", b"")),
    ("upgrade-h2c", "", b"", WS_HEADERS.replace(b"websocket", b"h2c")),
    ("format-superscript", "?format=%C2%B2", b"", WS_HEADERS),
    ("since-superscript", "?since=%C2%B2&epoch=e", b"", WS_HEADERS),
    ("since-without-epoch", "?since=1", b"", WS_HEADERS),
    ("filter-ff", "?filter=%FF", b"", WS_HEADERS),
    ("filter-bad-regex", "?filter=a%3D~%22(%22", b"", WS_HEADERS),
    ("filter-empty", "?filter=", b"", WS_HEADERS),
    ("filters-too-many", "?" + "&".join(f"filter=a%3D{i}" for i in range(200)), b"",
     WS_HEADERS),
    ("last-event-id", "", b"Last-Event-ID: abc:\xc2\xb2\r\n", WS_HEADERS),
]


@pytest.mark.parametrize("path", [METRICS_WS, ALERTS_WS])
@pytest.mark.parametrize(("suffix", "extra", "handshake"), [c[1:] for c in UPGRADES],
                         ids=[c[0] for c in UPGRADES])
def test_no_bad_upgrade_gets_a_5xx_or_a_second_status_line(open_bridge, path, suffix, extra,
                                                          handshake):
    reply = exchange(port(open_bridge), upgrade(path + suffix, extra, handshake), timeout=3,
                     until_close=False)
    assert_one_status_line(reply)
    if reply.status != 101:
        assert_json_error(reply, reply.status)
        assert 400 <= reply.status < 500
        return
    error_frames = [f for f in reply.text_frames() if f.get("type") == "error"]
    if error_frames:  # refused after the upgrade: an error frame, then a close with a code
        reply = exchange(port(open_bridge), upgrade(path + suffix, extra, handshake), timeout=3)
        assert reply.close_code == 1008, reply.raw[:600]
        assert set(error_frames[0]) >= {"error", "detail"}


# Frames no conforming client sends, after a good upgrade: (name, bytes, close codes allowed).
FRAMES = [
    ("invalid-utf8", ws_frame(OP_TEXT, b"\xff\xfe"), {1007}),
    ("reserved-opcode", ws_frame(0x3, b"x"), {1002}),
    ("length-2**63", b"\x81\xff\x7f" + b"\xff" * 7 + b"mask", {1009}),
    ("close-code-999", ws_frame(OP_CLOSE, struct.pack("!H", 999)), {1002}),
    ("continuation-first", ws_frame(0x0, b"x"), {1002}),
    ("over-max-size", ws_frame(OP_TEXT, b"x" * 300_000), {1009}),
]


@pytest.mark.parametrize("path", [METRICS_WS, ALERTS_WS])
@pytest.mark.parametrize(("frame", "codes"), [c[1:] for c in FRAMES], ids=[c[0] for c in FRAMES])
def test_garbage_after_the_upgrade_gets_a_close_code(open_bridge, path, frame, codes):
    reply = exchange(port(open_bridge), upgrade(path), after_upgrade=frame)
    assert reply.status == 101, reply.raw[:400]
    assert_one_status_line(reply)
    assert reply.close_code in codes, reply.frames[-3:]


WEBHOOK_HEAD = (b"POST /api/alerts/webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n")
# Requests aiohttp refuses itself (before any middleware), or while reading the body.
MALFORMED = [
    ("space-in-header-name", b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n"),
    ("content-length-and-chunked", WEBHOOK_HEAD + b"Content-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("header-over-8k", b"GET /health HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 10_000 + b"\r\n\r\n"),
    ("200-headers", b"GET /health HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n"),
    ("target-over-8k", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("tls-client-hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40),
    ("superscript-content-length", WEBHOOK_HEAD + b"Content-Length: \xc2\xb2\r\n\r\n{}"),
    ("two-content-lengths", WEBHOOK_HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
    ("bad-chunk-size", WEBHOOK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
    ("nul-in-target", b"GET /he\x00alth HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("nul-in-header", b"GET /health HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n"),
    ("http-9.9", b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("bad-method-byte", b"G\xffT /health HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("raw-ff-in-query", b"GET /api/ws/ws?token=\xff HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("obs-fold", b"GET /health HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n"),
    ("gzip-garbage", WEBHOOK_HEAD + b"Content-Encoding: gzip\r\nContent-Length: 10\r\n\r\n"
     b"0123456789"),
    ("deflate-garbage", WEBHOOK_HEAD + b"Content-Encoding: deflate\r\nContent-Length: 10\r\n\r\n"
     b"0123456789"),
]


@pytest.mark.parametrize("data", [c[1] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_what_aiohttp_refuses_itself_is_json_too(open_bridge, data):
    reply = exchange(port(open_bridge), data)
    assert_json_error(reply, 400)
    assert reply.json()["error"] == "bad_request"


def test_a_gzip_bomb_is_413_json(open_bridge):
    bomb = gzip.compress(b"{" * 8_000_000)
    reply = exchange(port(open_bridge), WEBHOOK_HEAD + b"Content-Encoding: gzip\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb)
    assert_json_error(reply, 413, "larger than")


def test_chunked_framing_broken_mid_body_is_408_within_the_body_timeout(open_bridge):
    """aiohttp's parser tells the handler nothing when a later chunk is malformed; the body
    deadline answers instead of holding the connection forever."""
    with socket.create_connection(("127.0.0.1", port(open_bridge)),
                                  timeout=BODY_TIMEOUT + 10) as sock:
        sock.sendall(WEBHOOK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n")
        time.sleep(0.3)
        sock.sendall(b"zz\r\n")
        reply = parse(sock.recv(65536))  # without the deadline: a socket timeout
    assert_json_error(reply, 408, "http.body_timeout")


def test_a_client_that_leaves_mid_body_is_not_a_traceback(open_bridge):
    with socket.create_connection(("127.0.0.1", port(open_bridge))) as sock:
        sock.sendall(WEBHOOK_HEAD + b"Content-Length: 100\r\n\r\n{}")
        time.sleep(0.2)
    assert servers.http_get(open_bridge.url + "/health")[0] == 200
