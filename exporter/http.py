"""A small single-threaded HTTP/1.1 server for GET endpoints, on `selectors`.

Why not aiohttp (which the bridge uses): measured on this exporter, aiohttp costs ~0.13 ms of
CPU per request against ~0.07 ms here, and importing it (with asyncio and ssl) takes ~26 MiB
of RSS, which alone would blow the exporter's 40 MiB budget. A scrape target needs little:
keep-alive, pipelining, HEAD, bounded headers and bodies, idle and slow-client timeouts.

Requests are answered in order, one connection's next request only after its previous
response has been written, so a client that does not read cannot make the server buffer
without bound.
"""

from __future__ import annotations

import errno
import json
import logging
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("exporter.http")

MAX_HEAD = 16 * 1024  # request line + headers
MAX_BODY = 64 * 1024  # GET bodies are read and ignored, up to this
MAX_HEADERS = 100


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    version: str
    headers: dict[str, str]  # lower-case names

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Response]


class BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


_targets: dict[str, tuple[str, dict[str, list[str]]]] = {}


def split_target(target: str) -> tuple[str, dict[str, list[str]]]:
    """Path and query of a request target; a scraper sends the same one each time: cached."""
    got = _targets.get(target)
    if got is None:
        parts = urlsplit(target)
        got = (parts.path or "/", parse_qs(parts.query, keep_blank_values=True))
        if len(_targets) < 256:
            _targets[target] = got
    return got


def parse_head(head: bytes) -> Request:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        raise BadRequest(400, "undecodable request") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest(505, f"unsupported protocol {version[:20]!r}")
    if len(lines) - 1 > MAX_HEADERS:
        raise BadRequest(431, "too many headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[0] in " \t":
            raise BadRequest(400, "malformed header line")
        name = name.lower()
        value = value.strip(" \t")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    path, query = split_target(target)
    return Request(method, path, query, version, headers)


class _Date:
    """The Date header, formatted at most once a second."""

    second = -1
    value = ""

    @classmethod
    def now(cls) -> str:
        now = int(time.time())
        if now != cls.second:
            cls.second, cls.value = now, formatdate(now, usegmt=True)
        return cls.value


def serialize(response: Response, head_only: bool, keep_alive: bool, version: str) -> bytes:
    status = response.status
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}\r\nDate: {_Date.now()}\r\n"
             f"Content-Length: {len(response.body)}\r\n"]
    for name, value in response.headers:
        lines.append(f"{name}: {value}\r\n")
    if not keep_alive:
        lines.append("Connection: close\r\n")
    elif version == "HTTP/1.0":
        lines.append("Connection: keep-alive\r\n")
    lines.append("\r\n")
    head = "".join(lines).encode("latin-1")
    return head if head_only else head + response.body


class _Conn:
    __slots__ = ("closing", "inbuf", "last", "outbuf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.last = time.monotonic()
        self.closing = False


class HTTPServer:
    """Serves `handler` on a bound socket until `stop()`; one thread, no per-request threads."""

    def __init__(self, handler: Handler, host: str | None, port: int, *, backlog: int = 128,
                 max_connections: int = 512, idle_timeout: float = 300.0,
                 request_timeout: float = 30.0) -> None:
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
        self._stopping = False

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
            next_sweep = time.monotonic() + 1.0
            while not self._stopping:
                for key, events in self.selector.select(timeout=1.0):
                    if key.data is None:
                        self._accept()
                    elif key.data == "wake":
                        self._wake_r.recv(64)
                    else:
                        conn = key.data
                        if events & selectors.EVENT_WRITE:
                            self._flush(conn)
                            if not conn.outbuf and conn.inbuf and conn.sock.fileno() != -1:
                                self._process(conn)  # pipelined requests behind that one
                        if events & selectors.EVENT_READ and conn.sock.fileno() != -1:
                            self._read(conn)
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + 1.0
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
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            self.conns[sock.fileno()] = conn
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not data:  # the client is done sending; finish what it asked for, then close
            conn.closing = True
            conn.inbuf.clear()
            if conn.outbuf:
                self.selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
            else:
                self._close(conn)
            return
        conn.last = time.monotonic()
        conn.inbuf += data
        self._process(conn)

    def _process(self, conn: _Conn) -> None:
        """Answer every complete request in the buffer, stopping while output is pending."""
        while not conn.outbuf and not conn.closing:
            end = conn.inbuf.find(b"\r\n\r\n")
            if end < 0:
                if len(conn.inbuf) > MAX_HEAD:
                    self._error(conn, 431, "request headers too large")
                return
            if end > MAX_HEAD:
                self._error(conn, 431, "request headers too large")
                return
            try:
                request = parse_head(bytes(conn.inbuf[:end]))
                length = self._body_length(request)
            except BadRequest as exc:
                self._error(conn, exc.status, str(exc))
                return
            if len(conn.inbuf) < end + 4 + length:
                return  # the body is still arriving
            del conn.inbuf[:end + 4 + length]
            self._respond(conn, request)

    @staticmethod
    def _body_length(request: Request) -> int:
        if "transfer-encoding" in request.headers:
            raise BadRequest(501, "request bodies with Transfer-Encoding are not supported")
        raw = request.headers.get("content-length", "0")
        if not raw.isdigit():
            raise BadRequest(400, "invalid Content-Length")
        if int(raw) > MAX_BODY:
            raise BadRequest(413, "request body too large")
        return int(raw)

    def _respond(self, conn: _Conn, request: Request) -> None:
        connection = request.headers.get("connection", "").lower()
        if request.version == "HTTP/1.1":
            keep_alive = "close" not in connection
        else:
            keep_alive = "keep-alive" in connection
        try:
            response = self.handler(request)
        except Exception:
            log.exception("error answering %s %s", request.method, request.path)
            response = Response(500, b'{"error": "internal", "detail": "see the log"}\n',
                                [("Content-Type", "application/json")])
        conn.outbuf += serialize(response, request.method == "HEAD", keep_alive,
                                 request.version)
        conn.closing = not keep_alive
        self._flush(conn)

    def _error(self, conn: _Conn, status: int, detail: str) -> None:
        body = json.dumps({"error": "bad_request", "detail": detail}).encode()
        conn.outbuf += serialize(Response(status, body, [("Content-Type", "application/json")]),
                                 False, False, "HTTP/1.1")
        conn.closing = True
        conn.inbuf.clear()
        self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close(conn)
                return
            del conn.outbuf[:sent]
            conn.last = time.monotonic()
        if conn.outbuf:
            # A closing connection has nothing more to read (and EOF would stay readable).
            events = selectors.EVENT_WRITE if conn.closing else \
                selectors.EVENT_READ | selectors.EVENT_WRITE
            if self.selector.get_key(conn.sock).events != events:
                self.selector.modify(conn.sock, events, conn)
            return
        if conn.closing:
            self._close(conn)
            return
        key = self.selector.get_key(conn.sock)
        if key.events != selectors.EVENT_READ:
            self.selector.modify(conn.sock, selectors.EVENT_READ, conn)

    def _sweep(self, now: float) -> None:
        """Close idle connections, and ones stuck halfway through a request or a response."""
        for conn in list(self.conns.values()):
            limit = self.request_timeout if (conn.inbuf or conn.outbuf) else self.idle_timeout
            if now - conn.last > limit:
                self._close(conn)

    def _close(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if fd == -1:
            return
        self.conns.pop(fd, None)
        try:
            self.selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
