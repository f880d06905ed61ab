"""The shared HTTP plumbing: one error shape, CORS allowlist, token and Origin checks."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from pathlib import Path

import pytest
from aiohttp import web

from bridge.app import create_app
from bridge.config import AuthConfig, BridgeConfig, HttpConfig
from bridge.errors import BadRequest, UpstreamTimeout
from bridge.http import (
    check_origin,
    error_middleware,
    one_line,
    require_read_access,
    require_scope,
    start_stream,
)
from tests.bridge.rawhttp import OP_CLOSE, Reply, http_request, parse, upgrade, ws_frame

probe = web.RouteTableDef()


@probe.post("/_test/write")
async def write(request: web.Request) -> web.Response:
    require_scope(request, "admin")
    await request.read()
    return web.json_response({"ok": True})


@probe.get("/_test/read")
async def read(request: web.Request) -> web.Response:
    require_read_access(request)
    check_origin(request)
    return web.json_response({"ok": True})


@probe.get("/_test/boom")
async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals")


@probe.get("/_test/slow")
async def slow(request: web.Request) -> web.Response:
    raise UpstreamTimeout("prometheus took too long")


def make_app(data_dir: Path, **changes: object) -> web.Application:
    config = BridgeConfig(data_dir=str(data_dir), auth=AuthConfig(token="s3cret"),
                          http=HttpConfig(max_body_bytes=1024))
    config = dataclasses.replace(config, **changes)  # type: ignore[arg-type]
    app = create_app(config)
    app.add_routes(probe)
    return app


async def test_unknown_route_and_method_are_json(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(tmp_path))
    resp = await client.get("/nowhere")
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"
    resp = await client.delete("/metrics")
    assert resp.status == 405
    assert (await resp.json())["error"] == "method_not_allowed"


async def test_unexpected_exception_is_500_without_traceback(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(tmp_path))
    resp = await client.get("/_test/boom")
    assert resp.status == 500
    body = await resp.text()
    assert "secret internals" not in body and "Traceback" not in body
    assert (await resp.json())["error"] == "internal"


async def test_bridge_error_maps_to_its_status(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(tmp_path))
    resp = await client.get("/_test/slow")
    assert resp.status == 504
    assert await resp.json() == {"error": "timeout", "detail": "prometheus took too long"}


async def test_token_bearer_basic_and_missing(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(tmp_path))
    assert (await client.post("/_test/write")).status == 401
    bad = await client.post("/_test/write", headers={"Authorization": "Bearer nope"})
    assert bad.status == 401 and (await bad.json())["error"] == "unauthorized"
    ok = await client.post("/_test/write", headers={"Authorization": "Bearer s3cret"})
    assert ok.status == 200
    basic = base64.b64encode(b"alertmanager:s3cret").decode()
    assert (await client.post("/_test/write",
                              headers={"Authorization": f"Basic {basic}"})).status == 200


async def test_no_configured_token_means_writes_closed(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(tmp_path, auth=AuthConfig(token=None)))
    resp = await client.post("/_test/write", headers={"Authorization": "Bearer "})
    assert resp.status == 401


async def test_body_over_limit_is_413_json(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(tmp_path))
    resp = await client.post("/_test/write", data=b"x" * 4096,
                             headers={"Authorization": "Bearer s3cret"})
    assert resp.status == 413
    assert (await resp.json())["error"] == "payload_too_large"


async def test_protected_reads(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(
        tmp_path, auth=AuthConfig(token="s3cret", protect_reads=True)))
    assert (await client.get("/_test/read")).status == 401
    assert (await client.get("/_test/read?token=s3cret")).status == 200


async def test_cors_allowlist(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(
        tmp_path, http=HttpConfig(allowed_origins=("https://dash.example",))))
    listed = await client.get("/_test/read", headers={"Origin": "https://dash.example"})
    assert listed.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    foreign = await client.get("/_test/read", headers={"Origin": "https://evil.example"})
    assert foreign.status == 403
    assert "Access-Control-Allow-Origin" not in foreign.headers
    preflight = await client.options("/_test/read", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status == 403
    preflight = await client.options("/_test/read", headers={
        "Origin": "https://dash.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://dash.example"


async def test_same_origin_is_allowed_without_allowlist(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(tmp_path))
    own = f"http://{client.host}:{client.port}"
    assert (await client.get("/_test/read", headers={"Origin": own})).status == 200
    assert (await client.get("/_test/read", headers={"Origin": "http://x.example"})).status == 403


async def test_self_metrics_count_requests_by_route(aiohttp_client, tmp_path) -> None:
    client = await aiohttp_client(make_app(tmp_path))
    await client.get("/_test/slow")
    text = await (await client.get("/metrics")).text()
    sample = 'promwire_bridge_http_requests_total{method="GET",route="/_test/slow",status="504"}'
    assert f"{sample} 1.0" in text


streams = web.RouteTableDef()


@streams.get("/ws/{fault}")
async def failing_socket(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await start_stream(request, ws)
    if request.match_info["fault"] == "bad":
        raise BadRequest("found out after the upgrade")
    raise RuntimeError("a bug after the upgrade")


@streams.get("/sse")
async def failing_events(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await start_stream(request, resp)
    await resp.write(b"data: 1\n\n")
    raise RuntimeError("a bug mid-stream")


@streams.get("/by-hand")
async def failing_by_hand(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(request)
    await resp.write(b"partial")
    raise RuntimeError("a bug mid-answer")


async def _raw(port: int, data: bytes) -> Reply:
    """Everything the server sends until it closes; a close frame is answered, as a client
    does (the server waits for that answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    raw, answered = b"", False
    while chunk := await asyncio.wait_for(reader.read(65536), 10):
        raw += chunk
        if not answered and parse(raw).close_code is not None:
            writer.write(ws_frame(OP_CLOSE, b"\x03\xe8"))
            answered = True
    writer.close()
    return parse(raw)


@pytest.mark.parametrize(("fault", "code"), [("bad", 1008), ("bug", 1011)])
async def test_an_error_after_an_upgrade_closes_the_socket_with_a_code(aiohttp_server, fault,
                                                                      code) -> None:
    app = web.Application(middlewares=[error_middleware])
    app.add_routes(streams)
    server = await aiohttp_server(app)
    reply = await _raw(server.port, upgrade(f"/ws/{fault}"))
    assert reply.status == 101 and reply.close_code == code, reply.raw
    assert b"HTTP/1." not in reply.raw.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("path", ["/sse", "/by-hand"])
async def test_an_error_mid_stream_writes_no_second_status_line(aiohttp_server, path) -> None:
    app = web.Application(middlewares=[error_middleware])
    app.add_routes(streams)
    server = await aiohttp_server(app)
    reply = await _raw(server.port, http_request("GET", path, b"Connection: close\r\n"))
    assert reply.status == 200 and reply.raw.count(b"HTTP/1.") == 1, reply.raw


def test_one_line_keeps_the_reason_and_the_bytes_but_not_the_caret() -> None:
    assert one_line("Invalid header token:\n\n  b'Bad Header: 1'\n       ^") == (
        "Invalid header token: b'Bad Header: 1'")
    assert len(one_line("x" * 1000)) == 200
