"""/api/openapi.json is a valid OpenAPI 3 document covering every route; /docs renders it."""

from __future__ import annotations

import json

import jsonschema
import pytest
from aiohttp import web
from openapi_spec_validator import validate

from bridge import openapi
from bridge.alerts.matchers import parse_filters
from bridge.alerts.model import parse_manual, parse_webhook
from bridge.app import create_app
from bridge.config import BridgeConfig
from bridge.errors import BadRequest
from bridge.keys import CONFIG_KEY
from bridge.metrics.catalog import Catalog
from bridge.params import parse_duration, parse_range, parse_time
from tests.bridge.alerts.helpers import am_alert, payload

DEFAULT_CATALOG_NAMES = Catalog().names

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


async def test_every_operation_that_takes_a_token_can_answer_403(document):
    """A token is checked for a scope (bridge.http.require_scope): wherever a 401 can happen,
    so can a 403 naming the scope; the operations that always need one name it."""
    doc, app = document
    for path, method in openapi.app_routes(app):
        responses = doc["paths"][path][method]["responses"]
        assert "401" not in responses or "403" in responses, (method, path)
    scopes = {(path, method): operation.get("x-promwire-scope")
              for path, operations in doc["paths"].items()
              for method, operation in operations.items()}
    assert scopes[("/api/alerts/webhook", "post")] == "webhook"
    assert scopes[("/api/ws/broadcast/alert", "post")] == "admin"
    assert scopes[("/api/query", "get")] == scopes[("/api/query_range", "get")] == "admin"
    for (path, method), scope in scopes.items():
        if scope is not None:
            assert doc["paths"][path][method]["security"] == [{"bearer": []}], path
            assert "403" in doc["paths"][path][method]["responses"], path


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


# --- issue 9 item 11: the document is as strict as the server ---------------------------------

def _validator(doc: dict, schema: dict) -> jsonschema.Draft202012Validator:
    """A validator for `schema`, whose `#/components/...` references resolve in `doc`."""
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


def _body_schema(doc: dict, path: str) -> dict:
    return doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]


def _param(doc: dict, path: str, name: str) -> dict:
    return next(p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name)


def _edge_payloads() -> list[dict]:
    """Webhook bodies the schema allows at its edges: each must be what the server takes."""
    firing = am_alert("A")
    bare = {"status": "firing", "labels": {"alertname": "B"}, "startsAt": "1980-01-01T00:00:00Z"}
    return [
        payload(firing),
        payload(am_alert("A", status="resolved"), am_alert("C", severity="page")),
        {**payload(firing), "truncatedAlerts": 3.0},  # JSON Schema: 3.0 is an integer
        {**payload(bare), "groupKey": None, "externalURL": None, "groupLabels": None,
         "commonLabels": None, "commonAnnotations": None, "extra": {"ignored": True}},
        payload({**bare, "endsAt": None, "fingerprint": None, "annotations": None,
                 "generatorURL": None, "startsAt": "2999-12-28T23:59:59.123456789-13:59"}),
        payload(),
    ]


@pytest.mark.parametrize("body", _edge_payloads())
async def test_webhook_bodies_the_schema_allows_the_server_takes(document, body):
    doc, _ = document
    _validator(doc, _body_schema(doc, "/api/alerts/webhook")).validate(body)
    parse_webhook(json.loads(json.dumps(body)))  # no BadRequest


@pytest.mark.parametrize(("change", "word"), [
    (lambda b: b.pop("version"), "version"),
    (lambda b: b.update(version="3"), "version"),
    (lambda b: b["alerts"][0]["labels"].update({"bad-name": "x"}), "label name"),
    (lambda b: b["alerts"][0].update(labels={}), "labels"),
    (lambda b: b["alerts"][0].update(startsAt="9999-12-31T23:59:59-23:59"), "9999"),
    (lambda b: b["alerts"][0].update(startsAt="1969-12-31T23:59:59Z"), "startsAt"),
    (lambda b: b["alerts"][0].update(fingerprint=""), "fingerprint"),
    (lambda b: b.update(truncatedAlerts=-1), "truncatedAlerts"),
    (lambda b: b.update(truncatedAlerts=1.5), "truncatedAlerts"),
])
async def test_webhook_bodies_the_server_refuses_the_schema_refuses(document, change, word):
    doc, _ = document
    body = payload(am_alert("A"))
    change(body)
    assert not _validator(doc, _body_schema(doc, "/api/alerts/webhook")).is_valid(body)
    with pytest.raises(BadRequest, match=word):
        parse_webhook(body)


async def test_manual_alert_schema_matches_the_server(document):
    doc, _ = document
    check = _validator(doc, _body_schema(doc, "/api/ws/broadcast/alert"))
    good = {"labels": {"alertname": "Deploy"}, "annotations": None, "endsAt": None}
    check.validate(good)
    parse_manual(good)
    for bad in ({"labels": {}}, {"labels": {"alertname": ""}}, {"labels": {"a-b": "x",
                 "alertname": "x"}}, {"labels": {"alertname": "x"}, "unknown": 1},
                {"labels": {"alertname": "x"}, "status": None}):
        assert not check.is_valid(bad), bad
        with pytest.raises(BadRequest):
            parse_manual(bad)


@pytest.mark.parametrize("path", ["/api/alerts", "/api/alerts/history", "/api/sse/alerts",
                                  "/api/ws/ws/alerts"])
async def test_filters_are_non_empty_matchers_within_the_limit(document, path):
    doc, app = document
    schema = _param(doc, path, "filter")["schema"]
    check = _validator(doc, schema)
    limit = app[CONFIG_KEY].alerts.max_matchers
    assert schema["maxItems"] == limit
    for good in (['severity="critical"'], ['alertname=~"Host.*"', 'x!~"a|b"', 'y!=""']):
        check.validate(good)
        parse_filters(good, limit)
    for bad in ([""], ["severity"], ['a=~"("'], ['a="x"'] * (limit + 1)):
        assert not check.is_valid(bad), bad
        with pytest.raises(BadRequest):
            parse_filters(bad, limit)


@pytest.mark.parametrize(("path", "name"), [("/api/query", "query"),
                                            ("/api/query_range", "query"),
                                            ("/api/sse/metrics", "query")])
async def test_promql_parameters_forbid_empty_and_blank(document, path, name):
    doc, _ = document
    check = _validator(doc, _param(doc, path, name)["schema"])
    assert check.is_valid("up") and not check.is_valid("") and not check.is_valid("  ")


async def test_times_and_durations_the_schema_allows_parse(document):
    doc, _ = document
    params = {p["name"]: p["schema"] for p in
              doc["paths"]["/api/metrics/{name}"]["get"]["parameters"]}
    assert params["name"]["enum"] == list(DEFAULT_CATALOG_NAMES)
    time_ok, duration_ok = _validator(doc, params["start"]), _validator(doc, params["step"])
    for text in ("1764100000", "-5.5", "2026-11-25T20:00:00Z", "1000-01-28T00:00:00.5+23:59"):
        assert time_ok.is_valid(text), text
        parse_time(text, "start")
    for text in ("15", "0.5", "15s", "1ms", "9999y"):
        assert duration_ok.is_valid(text), text
        parse_duration(text, "step")
    for text in ("0", "0s", "nan", "1h30m", "2026-13-01T00:00:00Z", "1e3"):
        assert not (time_ok.is_valid(text) and duration_ok.is_valid(text)), text
    # An empty value is "not given", as the server reads it: the defaults.
    assert time_ok.is_valid("") and duration_ok.is_valid("")
    empty = parse_range({"start": "", "end": "", "range": "", "step": ""}, 1000.0, 600.0, 11000)
    assert empty == parse_range({}, 1000.0, 600.0, 11000)
