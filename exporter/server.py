"""The exporter's HTTP side: /metrics, a landing page, and /-/healthy, on aiohttp.

Per request the work is the scrape itself plus, only when asked, gzip. The format and encoding
decisions depend on two headers a given Prometheus sends identically on every scrape, so they
are parsed once per distinct header value.
"""

from __future__ import annotations

import html
import json
import zlib

from aiohttp import web

from exporter import __version__
from exporter.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE
from exporter.registry import Registry

REGISTRY_KEY = web.AppKey("registry", Registry)
GZIP_LEVEL_KEY = web.AppKey("gzip_level", int)

routes = web.RouteTableDef()


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
        if len(_format_cache) < 256:
            _format_cache[accept] = got
    return got


def wants_gzip(accept_encoding: str) -> bool:
    got = _gzip_cache.get(accept_encoding)
    if got is None:
        q = _qualities(accept_encoding)
        got = q.get("gzip", q.get("*", 0.0)) > 0
        if len(_gzip_cache) < 256:
            _gzip_cache[accept_encoding] = got
    return got


def gzip_bytes(body: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    return compressor.compress(body) + compressor.flush()


def json_error(status: int, error: str, detail: str) -> web.Response:
    return web.Response(status=status, content_type="application/json",
                        text=json.dumps({"error": error, "detail": detail}))


def selected_collectors(request: web.Request, registry: Registry) -> list[str] | None:
    """The `collect[]` names asked for (None = all); a bad name is a 400 naming the valid."""
    names = request.query.getall("collect[]", [])
    if not names:
        return None
    from exporter.collectors import COLLECTORS

    unknown = [n for n in names if n not in COLLECTORS]
    if unknown:
        raise web.HTTPBadRequest(text=json.dumps({
            "error": "bad_request",
            "detail": f"unknown collector {', '.join(unknown)} in collect[]; valid "
                      f"collectors: {', '.join(registry.names)}"}),
            content_type="application/json")
    disabled = [n for n in names if n not in registry.collectors]
    if disabled:
        raise web.HTTPBadRequest(text=json.dumps({
            "error": "bad_request",
            "detail": f"disabled collector {', '.join(disabled)} in collect[]; enabled "
                      f"collectors: {', '.join(registry.names)}"}),
            content_type="application/json")
    return list(dict.fromkeys(names))


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY_KEY]
    names = selected_collectors(request, registry)
    headers = request.headers
    openmetrics = wants_openmetrics(headers.get("Accept", ""))
    body = registry.render(names, openmetrics).encode()
    out = {"Content-Type": OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE,
           "Vary": "Accept, Accept-Encoding"}
    if wants_gzip(headers.get("Accept-Encoding", "")):
        body = gzip_bytes(body, request.app[GZIP_LEVEL_KEY])
        out["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=out)


@routes.get("/")
async def landing(request: web.Request) -> web.Response:
    names = ", ".join(html.escape(n) for n in request.app[REGISTRY_KEY].names)
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>promwire exporter</title>"
        "</head>\n<body><h1>promwire exporter</h1>\n"
        f"<p>Version {html.escape(__version__)}. Host metrics with node_exporter's names.</p>\n"
        "<p><a href=\"/metrics\">Metrics</a></p>\n"
        f"<p>Enabled collectors: {names}. Limit a scrape with "
        "<code>/metrics?collect[]=cpu&amp;collect[]=meminfo</code>.</p>\n</body></html>\n")
    return web.Response(text=page, content_type="text/html")


@routes.get("/-/healthy")
async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="OK\n")


@web.middleware
async def error_middleware(request: web.Request, handler):
    """Every error answer is JSON `{"error", "detail"}`, as across promwire."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "bad_request")
        return json_error(exc.status, error, exc.reason)


def create_app(registry: Registry, gzip_level: int = 1) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[REGISTRY_KEY] = registry
    app[GZIP_LEVEL_KEY] = gzip_level
    app.add_routes(routes)

    async def close_registry(app: web.Application):
        yield
        registry.close()

    app.cleanup_ctx.append(close_registry)
    return app
