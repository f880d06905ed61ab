"""A small single-threaded HTTP/1.1 server for GET endpoints: llhttp parsing on `selectors`.

Why not aiohttp (which the bridge uses): measured on this exporter, aiohttp costs ~0.13 ms of
CPU per request against ~0.07 ms here, and importing it (with asyncio and ssl) takes ~26 MiB
of RSS, which alone would blow the exporter's 40 MiB budget. Requests are parsed by
`httptools` (llhttp, Node's parser), never by hand; this module only bounds and schedules.

Every resource a client can make the server hold is bounded: the bytes of a request head, its
target, its header count, no request body at all (a scrape has none), at most MAX_PIPELINE
parsed requests waiting per connection, one response buffered at a time, and nothing read
from a connection while its reply is pending. A request must arrive whole within
`request_timeout` of its first byte (trickled bytes do not extend it); an idle keep-alive
connection lasts `idle_timeout`. At `max_connections`, a new connection evicts the longest
idle one, else the oldest half-sent request, else the oldest still being answered (slow
readers), so a fresh scraper always gets in.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import time
import traceback
from collections import deque

import httptools

from exporter.messages import (
    BadRequest,
    Handler,
    Request,
    Response,
    error_bytes,
    serialize,
    split_target,
)

log = logging.getLogger("exporter.http")

READ_SIZE = 16 * 1024  # one recv; also the slack of the head-size check
MAX_HEAD = 16 * 1024  # bytes received while a request head is incomplete
MAX_TARGET = 8 * 1024  # the request target (URL)
MAX_HEADERS = 100
MAX_PIPELINE = 128  # parsed requests waiting for their turn on one connection
IDLE, READING, BUSY = 0, 1, 2  # no request / a request arriving / answering (output pending)


class _Conn:
    """One client connection, and the llhttp callbacks that turn its bytes into requests.

    Callbacks raise BadRequest to stop the parser; `feed` turns that (and llhttp's own
    errors) into `error`, answered after the requests parsed before it.
    """

    __slots__ = ("closed", "deadline", "error", "events", "fd", "head_fed", "headers",
                 "in_head", "keep_alive", "outbuf", "parser", "queue", "sock", "state",
                 "upgraded", "url", "version")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.fd = sock, sock.fileno()
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[tuple[Request, bool]] = deque()
        self.outbuf = bytearray()
        self.error: tuple[int, str] | None = None
        self.url = b""
        self.headers: dict[str, str] = {}
        self.version = "HTTP/1.1"
        self.in_head = self.keep_alive = self.upgraded = self.closed = False
        self.head_fed = 0
        self.state, self.deadline, self.events = IDLE, deadline, selectors.EVENT_READ

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # CONNECT or Upgrade: answer, then close
            self.upgraded = True
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if not isinstance(cause, BadRequest):
                raise (cause or exc) from None  # a bug of ours: the connection boundary handles it
            self.error = (cause.status, str(cause))
        except httptools.HttpParserError as exc:
            self.error = (400, f"malformed request: {exc}")
        else:
            if self.in_head:
                self.head_fed += len(data)
                if self.head_fed > MAX_HEAD:
                    self.error = (431, "request headers too large")

    def on_message_begin(self) -> None:
        self.in_head, self.url, self.headers, self.head_fed = True, b"", {}, 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_TARGET:
            raise BadRequest(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.headers
        if len(headers) >= MAX_HEADERS:
            raise BadRequest(431, "too many headers")
        self.head_fed += len(name) + len(value)
        if self.head_fed > MAX_HEAD:
            raise BadRequest(431, "request headers too large")
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        self.in_head = False
        version = self.parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise BadRequest(505, f"unsupported protocol HTTP/{version}")
        if "transfer-encoding" in self.headers:
            raise BadRequest(501, "request bodies with Transfer-Encoding are not supported")
        if self.headers.get("content-length", "0").strip("0"):
            raise BadRequest(413, "a scrape has no request body")
        self.version, self.keep_alive = f"HTTP/{version}", self.parser.should_keep_alive()

    def on_message_complete(self) -> None:
        if len(self.queue) >= MAX_PIPELINE:
            raise BadRequest(429, f"more than {MAX_PIPELINE} pipelined requests")
        method = self.parser.get_method().decode("latin-1")
        path, query = split_target(self.url)
        self.queue.append((Request(method, path, query, self.version, self.headers),
                           self.keep_alive))


class HTTPServer:
    """Serves `handler` on a bound socket until `stop()`; one thread, no per-request threads."""

    def __init__(self, handler: Handler, host: str | None, port: int, *, backlog: int = 1024,
                 max_connections: int = 512, idle_timeout: float = 30.0,
                 request_timeout: float = 10.0) -> None:
        self.handler = handler
        self.max_connections = max_connections
        self.idle_timeout, self.request_timeout = idle_timeout, request_timeout
        self.sock = self._bind(host, port, backlog)
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.sock, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.conns: dict[int, _Conn] = {}
        # Per state, in the order connections entered it: the eviction candidates come first.
        self._by_state: tuple[dict[int, _Conn], ...] = ({}, {}, {})
        self._stopping = False
        self._turn: dict[tuple[object, ...], Response] = {}  # answers of this turn of the loop

    @staticmethod
    def _bind(host: str | None, port: int, backlog: int) -> socket.socket:
        """A listening socket on the first address of `host` that binds.

        For all interfaces (host None) the dual-stack IPv6 socket comes first, IPv4 after it
        for kernels without IPv6. The last error is raised when none binds.
        """
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        if host is None:
            infos.sort(key=lambda i: i[0] != socket.AF_INET6)
        error: OSError | None = None
        for family, kind, proto, _, address in infos:
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:  # e.g. a kernel built without IPv6
                error = exc
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and host is None:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.bind(address)
                sock.listen(backlog)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
                if exc.errno == errno.EADDRINUSE:
                    break  # the port is taken: another address family will not help
        raise error or OSError(f"no address to listen on for {host!r}")

    @property
    def port(self) -> int:
        return self.address[1]

    def stop(self) -> None:
        """Ask `serve_forever` to return (safe from signal handlers and other threads)."""
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def serve_forever(self) -> None:
        try:
            next_sweep = time.monotonic() + 0.5
            while not self._stopping:
                self._turn.clear()
                for key, events in self.selector.select(timeout=0.5):
                    if key.data is None:
                        self._accept()
                    elif key.data == "wake":
                        self._wake_r.recv(64)
                    else:
                        self._guarded(key.data, events)
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + 0.5
        finally:
            self.close()

    def close(self) -> None:
        for conn in list(self.conns.values()):
            self._close(conn)
        for s in (self.sock, self._wake_r, self._wake_w):
            try:
                self.selector.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self.selector.close()

    def _guarded(self, conn: _Conn, events: int) -> None:
        """The last line of defence: a bug while serving one connection closes only it."""
        try:
            if events & selectors.EVENT_WRITE:
                self._send(conn)
            elif events & selectors.EVENT_READ:
                self._read(conn)
            self._advance(conn)
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error("closing a connection after an internal error: %s: %s (%s:%d)",
                      type(exc).__name__, exc, where.filename, where.lineno)
            self._close(conn)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: keep serving the others
                log.warning("accept failed: %s", exc)
                return
            if len(self.conns) >= self.max_connections:
                self._evict()
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, time.monotonic() + self.idle_timeout)
            self.conns[conn.fd] = conn
            self._by_state[IDLE][conn.fd] = conn
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def _evict(self) -> bool:
        """Close the longest idle connection, else the oldest half-sent request, else the
        longest-answered one: a cap filled by slow readers must not lock a scraper out."""
        for state in (IDLE, READING, BUSY):
            for conn in self._by_state[state].values():
                log.debug("connection limit %d reached: evicting fd %d", self.max_connections,
                          conn.fd)
                self._close(conn)
                return True
        return False

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not data:  # nothing is pending when we read, so nothing is lost by closing
            self._close(conn)
            return
        if conn.state == IDLE:
            self._set_state(conn, READING, time.monotonic() + self.request_timeout)
        conn.feed(data)

    def _advance(self, conn: _Conn) -> None:
        """Answer the next request once the output has drained; read again when none is left.

        One answer per connection per turn of the loop: the rest of a pipeline waits for the
        next turn (watched for writing, so the selector hands it back at once), so a client
        that pipelines a hundred scrapes delays every other client by one scrape, not by a
        hundred."""
        answered = False
        while not conn.closed and not conn.outbuf:
            if conn.queue:
                if answered:
                    break
                request, keep_alive = conn.queue.popleft()
                self._respond(conn, request, keep_alive)
                answered = True
            elif conn.error is not None:
                conn.outbuf += error_bytes(*conn.error)
                conn.error, conn.upgraded = None, True
            elif conn.upgraded:  # after an error, an upgrade or Connection: close
                self._close(conn)
                return
            else:
                # All answered (by a partial send, BUSY, or at once, still READING): idle again,
                # unless a next request is half parsed, whose clock runs on.
                if conn.in_head:
                    self._set_state(conn, READING, conn.deadline)
                elif conn.state != IDLE:
                    self._set_state(conn, IDLE, time.monotonic() + self.idle_timeout)
                self._watch(conn, selectors.EVENT_READ)
                return
            self._send(conn)
        if not conn.closed:
            if conn.state != BUSY:
                self._set_state(conn, BUSY, time.monotonic() + self.request_timeout)
            self._watch(conn, selectors.EVENT_WRITE)

    def _respond(self, conn: _Conn, request: Request, keep_alive: bool) -> None:
        try:
            response = self._answer(request)
        except Exception:
            log.exception("error answering %s %s", request.method, request.path)
            response = Response(500, b'{"error": "internal", "detail": "see the log"}\n',
                                [("Content-Type", "application/json")])
        conn.outbuf += serialize(response, request.method == "HEAD", keep_alive,
                                 request.version)
        if not keep_alive:
            conn.queue.clear()
            conn.error, conn.upgraded = None, True

    def _answer(self, request: Request) -> Response:
        """The handler's answer; equal GET/HEAD requests in one turn of the loop share one.

        Scrapes that arrive together (many scrapers, or a flood) cost one collection per turn,
        not one each; nothing is kept past the turn, so every scrape still gets fresh values.
        """
        if request.method not in ("GET", "HEAD"):
            return self.handler(request)
        key = (request.path, tuple(sorted((k, tuple(v)) for k, v in request.query.items())),
               request.header("accept"), request.header("accept-encoding"))
        response = self._turn.get(key)
        if response is None:
            response = self._turn[key] = self.handler(request)
        return response

    def _send(self, conn: _Conn) -> None:
        try:
            sent = conn.sock.send(conn.outbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        del conn.outbuf[:sent]
        if conn.outbuf and sent:  # a slow reader is given time per progress, not forever
            conn.deadline = time.monotonic() + self.request_timeout

    def _watch(self, conn: _Conn, events: int) -> None:
        if conn.events != events:
            conn.events = events
            self.selector.modify(conn.sock, events, conn)

    def _set_state(self, conn: _Conn, state: int, deadline: float) -> None:
        if conn.state != state:
            del self._by_state[conn.state][conn.fd]
            self._by_state[state][conn.fd] = conn
            conn.state = state
        conn.deadline = deadline

    def _sweep(self, now: float) -> None:
        """Close connections past their deadline: idle, request or response."""
        for conn in [c for c in self.conns.values() if c.deadline < now]:
            self._close(conn)

    def _close(self, conn: _Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        self.conns.pop(conn.fd, None)
        self._by_state[conn.state].pop(conn.fd, None)
        try:
            self.selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        conn.parser = None  # type: ignore[assignment]  # break the parser <-> conn cycle
        conn.queue.clear()
        conn.outbuf = bytearray()
