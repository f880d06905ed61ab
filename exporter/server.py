"""The exporter's endpoints: /metrics, a landing page, and /-/healthy.

Per request the work is the scrape itself plus, only when asked, gzip. The format and encoding
decisions depend on two headers a given Prometheus sends identically on every scrape, so they
are parsed once per distinct header value. Errors are JSON `{"error", "detail"}`, as across
promwire.
"""

from __future__ import annotations

import html
import json
import zlib

from exporter import __version__
from exporter.collectors import COLLECTORS
from exporter.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE
from exporter.http import HTTPServer
from exporter.messages import Request, Response
from exporter.registry import Registry

JSON = [("Content-Type", "application/json")]


def _qualities(header: str) -> dict[str, float]:
    """`type/sub;q=0.5, ...` (or codings) into the highest q each value is given."""
    got: dict[str, float] = {}
    for part in header.split(","):
        value, *params = part.split(";")
        value = value.strip().lower()
        if not value:
            continue
        q = 1.0
        for param in params:
            key, _, raw = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(raw)
                except ValueError:
                    q = 0.0
        got[value] = max(q, got.get(value, 0.0))
    return got


# At most 256 header values each, of at most CACHED_HEADER characters (16 KiB ones would hold
# 4 MiB per cache for good).
CACHED_HEADER = 512
_format_cache: dict[str, bool] = {}
_gzip_cache: dict[str, bool] = {}


def wants_openmetrics(accept: str) -> bool:
    """OpenMetrics when the Accept header ranks it at least as high as the text format."""
    got = _format_cache.get(accept)
    if got is None:
        q = _qualities(accept)
        om = q.get("application/openmetrics-text", 0.0)
        text = max(q.get("text/plain", 0.0), q.get("text/*", 0.0), q.get("*/*", 0.0))
        got = om > 0 and om >= text
        if len(_format_cache) < 256 and len(accept) <= CACHED_HEADER:
            _format_cache[accept] = got
    return got


def wants_gzip(accept_encoding: str) -> bool:
    got = _gzip_cache.get(accept_encoding)
    if got is None:
        q = _qualities(accept_encoding)
        got = q.get("gzip", q.get("*", 0.0)) > 0
        if len(_gzip_cache) < 256 and len(accept_encoding) <= CACHED_HEADER:
            _gzip_cache[accept_encoding] = got
    return got


def gzip_bytes(body: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    return compressor.compress(body) + compressor.flush()


def json_error(status: int, error: str, detail: str,
               headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps({"error": error, "detail": detail}).encode()
    return Response(status, body, JSON + (headers or []))


class ExporterApp:
    """Routes a request to its endpoint; the HTTP server calls it once per request."""

    def __init__(self, registry: Registry, gzip_level: int = 1,
                 metrics_path: str = "/metrics") -> None:
        self.registry = registry
        self.gzip_level = gzip_level
        # --web.telemetry-path moves the metrics; "/" serves them instead of the landing page.
        self.metrics_path = metrics_path
        self.routes = {"/": self.landing, "/-/healthy": self.healthy,
                       metrics_path: self.metrics}

    def __call__(self, request: Request) -> Response:
        route = self.routes.get(request.path)
        if route is None:
            return json_error(404, "not_found",
                              f"no such path {request.path!r}; try {self.metrics_path}")
        if request.method not in ("GET", "HEAD"):
            return json_error(405, "method_not_allowed", f"{request.method} is not allowed",
                              [("Allow", "GET, HEAD")])
        return route(request)

    def selected(self, request: Request) -> list[str] | Response | None:
        """The `collect[]` names asked for (None = all), or a 400 naming the valid ones."""
        names = request.query.get("collect[]")
        if not names:
            return None
        enabled = ", ".join(self.registry.names)
        unknown = [n for n in names if n not in COLLECTORS]
        if unknown:
            return json_error(400, "bad_request", f"unknown collector {', '.join(unknown)} in "
                              f"collect[]; valid collectors: {enabled}")
        disabled = [n for n in names if n not in self.registry.collectors]
        if disabled:
            return json_error(400, "bad_request", f"disabled collector {', '.join(disabled)} "
                              f"in collect[]; enabled collectors: {enabled}")
        return list(dict.fromkeys(names))

    def metrics(self, request: Request) -> Response:
        names = self.selected(request)
        if isinstance(names, Response):
            return names
        openmetrics = wants_openmetrics(request.headers.get("accept", ""))
        body = self.registry.render(names, openmetrics).encode()
        headers = [("Content-Type", OPENMETRICS_CONTENT_TYPE if openmetrics
                    else TEXT_CONTENT_TYPE), ("Vary", "Accept, Accept-Encoding")]
        if wants_gzip(request.headers.get("accept-encoding", "")):
            body = gzip_bytes(body, self.gzip_level)
            headers.append(("Content-Encoding", "gzip"))
        return Response(200, body, headers)

    def landing(self, request: Request) -> Response:
        names = ", ".join(html.escape(n) for n in self.registry.names)
        path = html.escape(self.metrics_path)
        page = (
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<title>promwire exporter</title></head>\n<body><h1>promwire exporter</h1>\n"
            f"<p>Version {html.escape(__version__)}. Host metrics with node_exporter's "
            f"names.</p>\n<p><a href=\"{path}\">Metrics</a></p>\n"
            f"<p>Enabled collectors: {names}. Limit a scrape with "
            f"<code>{path}?collect[]=cpu&amp;collect[]=meminfo</code>.</p>\n</body></html>\n")
        return Response(200, page.encode(), [("Content-Type", "text/html; charset=utf-8")])

    def healthy(self, request: Request) -> Response:
        return Response(200, b"OK\n", [("Content-Type", "text/plain; charset=utf-8")])


def create_server(registry: Registry, host: str | None, port: int,
                  gzip_level: int = 1, metrics_path: str = "/metrics") -> HTTPServer:
    """The bound server (raises OSError when the address cannot be used)."""
    return HTTPServer(ExporterApp(registry, gzip_level, metrics_path), host, port)
