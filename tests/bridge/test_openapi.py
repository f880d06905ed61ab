"""/api/openapi.json is a valid OpenAPI 3 document covering every route; /docs renders it."""

from __future__ import annotations

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from bridge import openapi
from bridge.app import create_app
from bridge.config import BridgeConfig

MINE = ("/health", "/ready", "/api/metrics", "/api/metrics/current", "/api/metrics/{name}",
        "/api/instances", "/api/query", "/api/query_range", "/api/openapi.json", "/docs",
        "/metrics")


@pytest.fixture
async def document(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(BridgeConfig(data_dir=str(tmp_path))))
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    return await resp.json(), client.app


async def test_document_is_valid_openapi3(document):
    doc, _ = document
    validate(doc)
    assert doc["openapi"].startswith("3.")


async def test_every_route_is_documented(document):
    """Every route of the whole app (alerts, streams...) has its own description, not the
    generic stub, and every error answer it lists has the shared Error body."""
    doc, app = document
    for path, method in openapi.app_routes(app):
        operation = doc["paths"].get(path, {}).get(method)
        assert operation is not None, (method, path)
        assert operation["summary"] != f"{method.upper()} {path}", f"{method} {path} is a stub"
        for code, answer in operation["responses"].items():
            if code >= "400" and code != "default":
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)


async def test_rest_endpoints_are_documented_in_detail(document):
    doc, _ = document
    for path in MINE:
        operation = doc["paths"][path]["get"]
        assert operation["summary"] and not operation["summary"].startswith("GET ")
    history = doc["paths"]["/api/metrics/{name}"]["get"]
    names = {p["name"] for p in history["parameters"]}
    assert names == {"name", "start", "end", "range", "step", "instance"}
    for code in ("400", "404", "503", "504"):
        schema = history["responses"][code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "detail"]
    for raw in ("/api/query", "/api/query_range"):
        assert doc["paths"][raw]["get"]["security"] == [{"bearer": []}]
    snapshot = doc["components"]["schemas"]["Snapshot"]
    assert set(snapshot["required"]) == {"timestamp", "stale", "age", "metrics", "errors",
                                         "warnings"}


async def test_features_can_document_their_routes(aiohttp_client, tmp_path):
    app = create_app(BridgeConfig(data_dir=str(tmp_path)))

    async def handler(request: web.Request) -> web.Response:
        return web.Response()
    app.router.add_post("/api/things/{id}", handler)
    app.router.add_get("/api/undocumented", handler)
    openapi.document(app, {"/api/things/{id}": {"post": {
        "summary": "Make a thing.", "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "Made.", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Thing"}}}}}}}},
        schemas={"Thing": {"type": "object"}})
    client = await aiohttp_client(app)
    doc = await (await client.get("/api/openapi.json")).json()
    validate(doc)
    assert doc["paths"]["/api/things/{id}"]["post"]["summary"] == "Make a thing."
    stub = doc["paths"]["/api/undocumented"]["get"]
    assert stub["summary"] == "GET /api/undocumented"


async def test_docs_page_renders_the_document(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(BridgeConfig(data_dir=str(tmp_path))))
    resp = await client.get("/docs")
    page = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html"
    assert "api/openapi.json" in page and "<script>" in page
    assert "https://" not in page  # no external assets: works offline and under a strict CSP
