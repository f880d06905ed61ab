"""An exporter HTTP server in a thread of the test process, on a free port."""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Iterator

from exporter.http import HTTPServer
from exporter.messages import Handler


@contextlib.contextmanager
def running(handler: Handler, **kwargs) -> Iterator[HTTPServer]:
    server = HTTPServer(handler, "127.0.0.1", 0, **kwargs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(10)


def get(server: HTTPServer, path: str, headers: dict[str, str] | None = None,
        method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()
