"""`GET /api/openapi.json` (OpenAPI 3.1) and `GET /docs` (a page rendering it).

The document is assembled here from each feature package's own description (`apidoc`: the
bridge's own routes below, then metrics, streams, alerts and the page), plus whatever else was
added with `document(app, paths, schemas)`, plus a generic entry for any route still
undocumented, so every endpoint appears. It is built and encoded once, at start-up.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from aiohttp import web

from bridge import __version__
from bridge.alerts import apidoc as alerts_doc
from bridge.apischema import SCHEMAS, errors, ok
from bridge.jsonenc import dumps
from bridge.keys import CONFIG_KEY
from bridge.metrics import apidoc as metrics_doc
from bridge.metrics.catalog import CATALOG_KEY
from bridge.page import apidoc as page_doc
from bridge.streams import apidoc as streams_doc

OPENAPI_EXTRA_KEY = web.AppKey("openapi_extra", dict[str, Any])
_DOCUMENT_KEY = web.AppKey("openapi_document", str)
_METHODS = ("get", "post", "put", "patch", "delete")

routes = web.RouteTableDef()

CHECK = {"type": "object", "properties": {
    "ok": {"type": ["boolean", "null"]}, "latency": {"type": ["number", "null"]},
    "error": {"type": ["string", "null"]}}}

HEALTH_SCHEMA = {"type": "object", "properties": {
    "status": {"type": "string", "enum": ["ok", "degraded"]},
    "version": {"type": "string"}, "uptime": {"type": "number"},
    "checks": {"type": "object", "additionalProperties": CHECK}}}

# The bridge's own routes: health, its metrics, this document.
PATHS: dict[str, Any] = {
    "/health": {"get": {
        "summary": "Liveness: always 200 while running, with dependency checks.",
        "responses": {"200": ok("Health", "`ok`, or `degraded` when a check fails.")}}},
    "/ready": {"get": {
        "summary": "Readiness: 503 while Prometheus (or a shared alert store) is unreachable.",
        "responses": {"200": {"description": "Ready."}, **errors("503")}}},
    "/metrics": {"get": {
        "summary": "The bridge's own metrics (Prometheus text format).",
        "responses": {"200": {"description": "Prometheus exposition format.",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    "/api/openapi.json": {"get": {
        "summary": "This document.",
        "responses": {"200": {"description": "OpenAPI 3 document."}}}},
    "/docs": {"get": {
        "summary": "A page rendering this document.",
        "responses": {"200": {"description": "HTML.",
                              "content": {"text/html": {"schema": {"type": "string"}}}}}}},
}


def document(app: web.Application, paths: dict[str, Any],
             schemas: dict[str, Any] | None = None) -> None:
    """Add OpenAPI `paths` (and component `schemas`) for a feature's routes."""
    extra = app.setdefault(OPENAPI_EXTRA_KEY, {"paths": {}, "schemas": {}})
    for path, operations in paths.items():
        extra["paths"].setdefault(path, {}).update(operations)
    extra["schemas"].update(schemas or {})


def base_document(version: str) -> dict[str, Any]:
    """The document's frame: info, security schemes, the shared schemas, no paths yet."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "promwire bridge", "version": version,
                 "description": "Prometheus and Alertmanager re-served as REST, WebSocket and "
                 "SSE. Every error is JSON {\"error\", \"detail\"}. Tokens carry scopes "
                 "(read, silence, admin, webhook; `x-promwire-scope` names the one an "
                 "operation needs): reads need a token with `read` only with "
                 "auth.protect_reads; writes always need their scope, and with auth.read_only "
                 "every write but the webhook is 403."},
        "components": {
            "schemas": {**SCHEMAS, "Health": HEALTH_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        # The token is optional for reads (needed with auth.protect_reads); operations that
        # always need it say so with their own `security`.
        "security": [{}, {"bearer": []}],
        "paths": {},
    }


def _features(app: web.Application) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(paths, schemas) of each feature package, in the order the document lists them, then
    what was added with `document`."""
    extra = app.get(OPENAPI_EXTRA_KEY, {"paths": {}, "schemas": {}})
    return [
        (PATHS, {}),
        (metrics_doc.paths(list(app[CATALOG_KEY].names)), metrics_doc.SCHEMAS),
        (streams_doc.PATHS, {}),
        (alerts_doc.paths(app[CONFIG_KEY].alerts), alerts_doc.SCHEMAS),
        (page_doc.PATHS, {}),
        (extra["paths"], extra["schemas"]),
    ]


def build_document(app: web.Application) -> dict[str, Any]:
    """The full document: the frame, each feature's routes, then a stub per undocumented one."""
    doc = base_document(__version__)
    for paths, schemas in _features(app):
        for path, operations in paths.items():
            doc["paths"].setdefault(path, {}).update(operations)
        doc["components"]["schemas"].update(schemas)
    for path, method in app_routes(app):
        operations = doc["paths"].setdefault(path, {})
        if method not in operations:
            operations[method] = _stub(path, method)
    return doc


def app_routes(app: web.Application) -> list[tuple[str, str]]:
    """(path template, lower-case method) for every route of `app`, HEAD/OPTIONS left out."""
    found = []
    for route in app.router.routes():
        method = route.method.lower()
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if method in _METHODS and path:
            found.append((path, method))
    return found


def _stub(path: str, method: str) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in re.findall(r"{(\w+)", path)]
    return {"summary": f"{method.upper()} {path}", "parameters": params,
            "responses": {"200": {"description": "Success."}, **errors("400", "401", "403", "404")}}


async def _document_ctx(app: web.Application) -> AsyncIterator[None]:
    app[_DOCUMENT_KEY] = dumps(build_document(app))
    yield


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(text=request.app[_DOCUMENT_KEY], content_type="application/json")


@routes.get("/docs")
async def docs_page(request: web.Request) -> web.Response:
    page = resources.files("bridge.page").joinpath("static/docs.html").read_text()
    return web.Response(text=page, content_type="text/html")


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    app.cleanup_ctx.append(_document_ctx)
