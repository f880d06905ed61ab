"""`GET /api/openapi.json` (OpenAPI 3.1) and `GET /docs` (a page rendering it).

The document is the data in `bridge.openapi_spec`, plus whatever other features add with
`document(app, paths, schemas)` in their `setup`, plus a generic entry for any route still
undocumented, so every endpoint appears. It is built and encoded once, at start-up.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from aiohttp import web

from bridge import __version__
from bridge.jsonenc import dumps
from bridge.metrics.catalog import CATALOG_KEY
from bridge.openapi_spec import base_document, errors

OPENAPI_EXTRA_KEY = web.AppKey("openapi_extra", dict[str, Any])
_DOCUMENT_KEY = web.AppKey("openapi_document", str)
_METHODS = ("get", "post", "put", "patch", "delete")

routes = web.RouteTableDef()


def document(app: web.Application, paths: dict[str, Any],
             schemas: dict[str, Any] | None = None) -> None:
    """Add OpenAPI `paths` (and component `schemas`) for a feature's routes."""
    extra = app.setdefault(OPENAPI_EXTRA_KEY, {"paths": {}, "schemas": {}})
    for path, operations in paths.items():
        extra["paths"].setdefault(path, {}).update(operations)
    extra["schemas"].update(schemas or {})


def build_document(app: web.Application) -> dict[str, Any]:
    """The full document: base spec, features' additions, then a stub per undocumented route."""
    doc = base_document(__version__, list(app[CATALOG_KEY].names))
    extra = app.get(OPENAPI_EXTRA_KEY, {"paths": {}, "schemas": {}})
    for path, operations in extra["paths"].items():
        doc["paths"].setdefault(path, {}).update(operations)
    doc["components"]["schemas"].update(extra["schemas"])
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
            "responses": {"200": {"description": "Success."}, **errors("400", "401", "404")}}


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
