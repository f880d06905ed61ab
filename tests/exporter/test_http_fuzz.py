"""What is sent to the exporter's port cannot hurt it (issue 9).

Every case runs against the real exporter process: a corpus of malformed requests, a pipelining
flood that is never read, 1,000 idle plus 1,000 slowloris connections, and a bounded
random-bytes campaign (Hypothesis, derandomized, a fixed count). After each case a fresh
connection still gets /metrics and the process stays under 40 MiB of RSS.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.http import BUSY
from exporter.messages import Request, Response
from tests import servers
from tests.exporter.serving import running

RSS_LIMIT_KIB = 40 * 1024
SCRAPE = b"GET /metrics HTTP/1.1\r\nHost: fuzz\r\n\r\n"

CORPUS: dict[str, bytes] = {
    "ipv6-bracket-target": b"GET //[ HTTP/1.1\r\nHost: x\r\n\r\n",
    "superscript-content-length": "GET /metrics HTTP/1.1\r\nContent-Length: ²\r\n\r\n".encode(),
    "arabic-digit-content-length": "GET / HTTP/1.1\r\nContent-Length: ٣\r\n\r\n".encode(),
    "huge-content-length": b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    "negative-content-length": b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    "two-content-lengths": b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "length-and-chunked": b"GET / HTTP/1.1\r\nContent-Length: 3\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "chunked-garbage": b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    "body": b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    "nul-in-method": b"G\x00T /metrics HTTP/1.1\r\n\r\n",
    "nul-in-target": b"GET /met\x00rics HTTP/1.1\r\n\r\n",
    "nul-in-version": b"GET /metrics HTTP/1.\x001\r\n\r\n",
    "nul-in-header-name": b"GET /metrics HTTP/1.1\r\nX\x00Y: a\r\n\r\n",
    "nul-in-header-value": b"GET /metrics HTTP/1.1\r\nAccept: a\x00b\r\n\r\n",
    "high-bytes-method": b"\xff\xfe /metrics HTTP/1.1\r\n\r\n",
    "high-bytes-target": b"GET /\xff\xfe\x80 HTTP/1.1\r\n\r\n",
    "high-bytes-headers": b"GET /metrics HTTP/1.1\r\nAccept: \xff\xfe;q=abc\r\n"
                          b"Accept-Encoding: \x80gzip;q=nan\r\n\r\n",
    "utf8-target": "GET /métrics?collect[]=çpu HTTP/1.1\r\n\r\n".encode(),
    "bad-version": b"GET /metrics HTTP/9.9\r\n\r\n",
    "http-0.9": b"GET /metrics\r\n",
    "http-0.9-blank": b"GET /\r\n\r\n",
    "connect": b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
    "upgrade": b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    "h2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "tls-client-hello": bytes.fromhex("16030100a5010000a10303") + bytes(range(32)) * 4,
    "absolute-form": b"GET http://127.0.0.1/metrics?collect[]=cpu HTTP/1.1\r\n\r\n",
    "absolute-form-bad-ipv6": b"GET http://[::1/metrics HTTP/1.1\r\n\r\n",
    "absolute-form-no-path": b"GET http://host HTTP/1.1\r\n\r\n",
    "asterisk-form": b"OPTIONS * HTTP/1.1\r\n\r\n",
    "percent-escapes": b"GET /%zz%00%ff?collect[]=%C2%B2&%=%&%%%%=1 HTTP/1.1\r\n\r\n",
    "percent-collect-name": b"GET /metrics?collect%5B%5D=%00%FF HTTP/1.1\r\n\r\n",
    "huge-header-value": b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 200_000 + b"\r\n\r\n",
    "many-headers": b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 10_000 + b"\r\n",
    "huge-target": b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\n\r\n",
    "huge-method": b"G" * 100_000 + b" / HTTP/1.1\r\n\r\n",
    "lf-only": b"GET /metrics HTTP/1.1\nHost: x\n\n",
    "cr-only": b"GET /metrics HTTP/1.1\rHost: x\r\r",
    "header-without-colon": b"GET /metrics HTTP/1.1\r\nnocolon\r\n\r\n",
    "space-before-colon": b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
    "obsolete-line-folding": b"GET /metrics HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
    "blank-lines-only": b"\r\n" * 1000,
    "truncated-request-line": b"GET /metr",
    "truncated-headers": b"GET /metrics HTTP/1.1\r\nHost: x",
    "truncated-after-head-line": b"GET /metrics HTTP/1.1\r\n",
    "pipelined-then-garbage": SCRAPE * 3 + b"\x00\xff garbage\r\n\r\n",
    "pipelined-mixed-versions": SCRAPE + b"GET /metrics HTTP/1.0\r\n\r\n" + SCRAPE,
}


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} file descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


@pytest.fixture(scope="module")
def exporter(tmp_path_factory) -> Iterator[servers.Process]:
    raise_fd_limit(8192)  # inherited by the exporter: room for the connection-flood cases
    proc = servers.exporter(tmp_path_factory.mktemp("fuzz")).start()
    yield proc
    proc.stop()


def port_of(proc: servers.Process) -> int:
    return int(proc.url.rsplit(":", 1)[1])


def rss_kib(proc: servers.Process) -> int:
    assert proc.proc is not None
    with open(f"/proc/{proc.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def assert_healthy(proc: servers.Process) -> None:
    """Alive, a fresh connection is served /metrics, and RSS is under the limit."""
    assert proc.running, proc.log()
    status, body = servers.http_get(proc.url + "/metrics", timeout=10)
    assert status == 200 and b"node_scrape_collector_success" in body
    assert rss_kib(proc) < RSS_LIMIT_KIB, rss_kib(proc)


def throw(port: int, data: bytes, linger: float = 0.3) -> bytes:
    """Send `data` (as much as the server takes), read what comes back for a moment, close."""
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(linger)
        with contextlib.suppress(OSError):
            s.sendall(data)
        with contextlib.suppress(OSError):
            while chunk := s.recv(65536):
                got += chunk
    return bytes(got)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_malformed_request_leaves_the_exporter_serving(exporter, name):
    reply = throw(port_of(exporter), CORPUS[name])
    # Anything answered is a well-formed HTTP response, never a traceback or a 5xx.
    if reply:
        assert reply.startswith(b"HTTP/1."), reply[:80]
        status = int(reply.split(b" ", 2)[1])
        assert status < 500 or status in (501, 505), reply[:200]
    assert_healthy(exporter)


def test_crash_cases_get_a_client_error(exporter):
    """The two requests that used to end the process are 4xx answers now."""
    for name in ("ipv6-bracket-target", "superscript-content-length"):
        reply = throw(port_of(exporter), CORPUS[name], linger=2)
        assert reply.startswith(b"HTTP/1.1 4"), (name, reply[:120])


def test_an_unread_pipelining_flood_is_bounded(exporter):
    """Requests that are never read back: the exporter stops reading, memory stays flat."""
    port = port_of(exporter)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setblocking(False)
        sent, deadline = 0, time.monotonic() + 3
        flood = SCRAPE * 1000
        while time.monotonic() < deadline:
            try:
                sent += s.send(flood)
            except BlockingIOError:
                time.sleep(0.05)
            except OSError:  # the exporter gave up on us: also fine
                break
        assert sent < len(SCRAPE) * 1_000_000, "the exporter kept reading without bound"
        assert_healthy(exporter)
    assert_healthy(exporter)


def test_idle_and_slowloris_floods_do_not_lock_out_a_new_scraper(exporter):
    port = port_of(exporter)
    held: list[socket.socket] = []
    try:
        for i in range(2000):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            held.append(s)
            if i >= 1000:  # the second thousand: a request head that never ends
                time.sleep(0.001)
                with contextlib.suppress(OSError):
                    s.send(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        for _ in range(3):
            assert_healthy(exporter)
    finally:
        for s in held:
            s.close()
    assert_healthy(exporter)


def test_distinct_long_targets_and_headers_do_not_pile_up(exporter):
    """300 scrapes, each with its own 8 KiB query and long Accept headers (review of issue 9).

    Each is a valid request, so each is parsed; what is parsed must not be kept for good.
    """
    port = port_of(exporter)
    for i in range(300):
        query = "&".join(f"k{i}_{j}=" for j in range(1400))[:8000]
        head = (f"GET /metrics?{query} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
                f"Accept: a/b{i},{'text/plain;q=1,' * 300}\r\n"
                f"Accept-Encoding: x{i},{'y,' * 1000}\r\n\r\n")
        reply = throw(port, head.encode(), linger=2)
        assert reply.startswith(b"HTTP/1.1 200"), reply[:120]
    assert_healthy(exporter)


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=2048))
def test_random_bytes(exporter, data):
    throw(port_of(exporter), data, linger=0.05)
    assert exporter.running, exporter.log()


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(cut=st.integers(0, len(SCRAPE)), junk=st.binary(min_size=1, max_size=64),
       repeat=st.integers(1, 4))
def test_a_real_request_with_bytes_spliced_in(exporter, cut, junk, repeat):
    data = (SCRAPE[:cut] + junk + SCRAPE[cut:]) * repeat
    throw(port_of(exporter), data, linger=0.05)
    assert exporter.running, exporter.log()


def test_after_the_random_campaigns_it_still_serves(exporter):
    assert_healthy(exporter)


def test_trickled_bytes_do_not_extend_the_request_deadline():
    """A slowloris that sends a byte every 0.1 s is cut at the request deadline (1 s here)."""
    def handler(request: Request) -> Response:
        return Response(200, b"ok")

    with running(handler, request_timeout=1.0, idle_timeout=30.0) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=1) as s:
            started = time.monotonic()
            closed = False
            for byte in (b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 400):
                try:
                    s.send(bytes([byte]))
                    s.settimeout(0.1)
                    if s.recv(4096) == b"":
                        closed = True
                        break
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
                    break
                if time.monotonic() - started > 20:  # hang guard, far past the deadline
                    break
            else:
                closed = False
            assert closed, "the connection outlived its request deadline"


def test_slow_readers_at_the_cap_do_not_lock_out_a_new_scraper():
    """Connections that asked for a large reply and read none of it fill the cap (review of
    issue 9): a fresh scraper still gets in, by evicting the one answered longest."""
    body = b"x" * 4_000_000  # far more than the kernel buffers of a 4 KiB receive window

    def handler(request: Request) -> Response:
        return Response(200, body)

    with running(handler, max_connections=4, request_timeout=60.0) as server:
        readers = []
        try:
            for _ in range(4):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", server.port))
                s.sendall(SCRAPE * 8)
                readers.append(s)
            give_up = time.monotonic() + 10
            while len(server._by_state[BUSY]) < 4 and time.monotonic() < give_up:
                time.sleep(0.01)  # until each is being answered, not merely accepted
            assert len(server._by_state[BUSY]) == 4
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
                assert s.recv(64).startswith(b"HTTP/1.1 200"), "locked out by slow readers"
        finally:
            for s in readers:
                s.close()


def _drain(sock: socket.socket, replies: list[int]) -> None:
    """Read everything the server sends, counting replies (one status line each)."""
    sock.settimeout(10)
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            replies[0] += chunk.count(b"HTTP/1.1 200")


def test_a_pipelining_client_delays_others_by_one_answer_not_its_whole_pipeline():
    """Review of issue 9: 520 connections pipelining 100 scrapes each kept a fresh scrape
    waiting 45 s, because one connection's whole pipeline was answered in one go. Now each
    connection gets one answer per turn of the loop: a fresh client waits a turn or two.

    The first answer holds the loop until the fresh request has been sent, so that every
    request is waiting in the kernel when the loop goes on, however the machine is loaded."""
    calls: list[str] = []
    gate = threading.Event()

    def handler(request: Request) -> Response:
        calls.append(request.header("x-client"))
        gate.wait(10)
        return Response(200, b"x" * 1000)

    clients, depth = 10, 50
    with running(handler, request_timeout=60.0) as server:
        socks, threads, replies = [], [], [0]
        try:
            for i in range(clients):
                s = socket.create_connection(("127.0.0.1", server.port))
                # Distinct targets: these are not answered together (that is the next test).
                s.sendall(b"".join(f"GET /m?c={i}&n={n} HTTP/1.1\r\nX-Client: a{i}\r\n\r\n"
                                   .encode() for n in range(depth)))
                socks.append(s)
                threads.append(threading.Thread(target=_drain, args=(s, replies), daemon=True))
                threads[-1].start()
            give_up = time.monotonic() + 10
            while not calls and time.monotonic() < give_up:
                time.sleep(0.01)
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
                s.sendall(b"GET /m HTTP/1.1\r\nX-Client: fresh\r\nConnection: close\r\n\r\n")
                gate.set()
                assert s.recv(64).startswith(b"HTTP/1.1 200")
            before = calls.index("fresh")
            assert before < clients * depth / 5, f"{before} answers went first"
        finally:
            gate.set()
            for s in socks:
                s.close()


def test_equal_scrapes_in_one_turn_share_one_collection_but_never_the_next():
    calls: list[int] = []

    def handler(request: Request) -> Response:
        calls.append(1)
        return Response(200, str(len(calls)).encode())

    with running(handler, request_timeout=60.0) as server:
        socks, threads, replies = [], [], [0]
        try:
            for _ in range(10):
                s = socket.create_connection(("127.0.0.1", server.port))
                s.sendall(SCRAPE * 20)
                socks.append(s)
            for s in socks:
                threads.append(threading.Thread(target=_drain, args=(s, replies), daemon=True))
                threads[-1].start()
            give_up = time.monotonic() + 30
            while replies[0] < 200 and time.monotonic() < give_up:
                time.sleep(0.01)
            assert replies[0] == 200
            assert len(calls) < 200, "every scrape collected on its own"
        finally:
            for s in socks:
                s.close()
        # Scrapes one after another (a turn apart) each get a fresh answer.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            bodies = []
            for _ in range(3):
                s.sendall(SCRAPE)
                bodies.append(s.recv(4096).rsplit(b"\r\n\r\n", 1)[1])
            assert len(set(bodies)) == 3, bodies
