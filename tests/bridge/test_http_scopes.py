"""Scopes over real HTTP: the whole bridge app with named tokens (pytest-aiohttp), and the
bridge as a process in read-only mode. 401 for no or unknown token, 403 naming the scope a
token lacks, read-only refusing writes but taking webhooks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web

from bridge.app import create_app
from bridge.config import (
    AlertmanagerConfig,
    AuthConfig,
    BridgeConfig,
    MetricsConfig,
    TokenConfig,
)
from bridge.http import PRINCIPAL_KEY, identify, require_scope
from tests import servers
from tests.bridge.alerts.helpers import am_alert, payload

TOKENS = (TokenConfig(name="alertmanager", token="h00k", scopes=("webhook",)),
          TokenConfig(name="ops", token="0ps", scopes=("admin",)),
          TokenConfig(name="viewer", token="v1ew", scopes=("read",)),
          TokenConfig(name="oncall", token="0ncall", scopes=("read", "silence")))
WEBHOOK, BROADCAST = "/api/alerts/webhook", "/api/ws/broadcast/alert"
MANUAL = {"labels": {"alertname": "Manual", "severity": "info"}, "status": "firing"}

probe = web.RouteTableDef()


@probe.post("/_test/silence")
async def act(request: web.Request) -> web.Response:
    """What a silence handler does: require its scope, then read who acts (createdBy)."""
    principal = require_scope(request, "silence")
    assert request[PRINCIPAL_KEY] is principal
    return web.json_response({"createdBy": request[PRINCIPAL_KEY].name})


@probe.get("/_test/whoami")
async def whoami(request: web.Request) -> web.Response:
    principal = identify(request)
    return web.json_response({"name": principal.name if principal else None})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_client(aiohttp_client, tmp_path: Path, **auth: Any):
    config = BridgeConfig(data_dir=str(tmp_path), auth=AuthConfig(tokens=TOKENS, **auth),
                          alertmanager=AlertmanagerConfig(url=""),
                          metrics=MetricsConfig(raw_queries=True))
    app = create_app(config)
    app.add_routes(probe)
    return await aiohttp_client(app)


async def post(client, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    resp = await client.post(path, data=json.dumps(body),
                             headers={"Content-Type": "application/json",
                                      **(bearer(token) if token else {})})
    return resp.status, await resp.json()


async def test_no_or_unknown_token_is_401_with_today_s_body(aiohttp_client, tmp_path):
    client = await make_client(aiohttp_client, tmp_path)
    for headers in ({}, bearer("n0t-a-token"), bearer("")):
        resp = await client.post(BROADCAST, json=MANUAL, headers=headers)
        assert resp.status == 401
        assert await resp.json() == {
            "error": "unauthorized",
            "detail": "a valid token is required (Authorization: Bearer <token>)"}
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="promwire"'


async def test_a_webhook_token_feeds_alerts_but_cannot_broadcast(aiohttp_client, tmp_path):
    client = await make_client(aiohttp_client, tmp_path)
    status, body = await post(client, WEBHOOK, payload(am_alert()), "h00k")
    assert status == 200 and body["events"] == 1
    status, body = await post(client, BROADCAST, MANUAL, "h00k")
    assert status == 403
    assert body == {"error": "forbidden",
                    "detail": "token 'alertmanager' lacks the 'admin' scope"}
    alerts = await (await client.get("/api/alerts")).json()
    assert [a["labels"]["alertname"] for a in alerts["alerts"]] == ["HostDown"]


async def test_an_admin_token_broadcasts_and_runs_raw_promql_but_is_no_webhook(
        aiohttp_client, tmp_path):
    client = await make_client(aiohttp_client, tmp_path)
    status, body = await post(client, BROADCAST, MANUAL, "0ps")
    assert status == 200 and body["event"]["alert"]["labels"]["alertname"] == "Manual"
    # Scopes are independent: admin does not imply webhook.
    status, body = await post(client, WEBHOOK, payload(am_alert()), "0ps")
    assert status == 403 and body["detail"] == "token 'ops' lacks the 'webhook' scope"
    # Raw PromQL needs admin: a read token is refused before Prometheus is asked.
    resp = await client.get("/api/query?query=up", headers=bearer("v1ew"))
    assert resp.status == 403
    assert (await resp.json())["detail"] == "token 'viewer' lacks the 'admin' scope"
    resp = await client.get("/api/query?query=up")
    assert resp.status == 401
    # With admin it passes the scope check and reaches Prometheus (none runs here: 503).
    resp = await client.get("/api/query?query=up", headers=bearer("0ps"))
    assert resp.status == 503 and (await resp.json())["error"] == "unavailable"


async def test_the_acting_token_s_name_is_kept_on_the_request(aiohttp_client, tmp_path):
    client = await make_client(aiohttp_client, tmp_path)
    assert await post(client, "/_test/silence", {}, "0ncall") == (200, {"createdBy": "oncall"})
    status, body = await post(client, "/_test/silence", {}, "v1ew")
    assert status == 403 and body["detail"] == "token 'viewer' lacks the 'silence' scope"
    whoami = await client.get("/_test/whoami", headers=bearer("0ncall"))
    assert await whoami.json() == {"name": "oncall"}
    assert await (await client.get("/_test/whoami")).json() == {"name": None}


async def test_auth_token_is_default_with_every_scope(aiohttp_client, tmp_path):
    client = await make_client(aiohttp_client, tmp_path, token="old-style")
    assert (await post(client, WEBHOOK, payload(am_alert()), "old-style"))[0] == 200
    assert (await post(client, BROADCAST, MANUAL, "old-style"))[0] == 200
    assert await post(client, "/_test/silence", {}, "old-style") == (200,
                                                                     {"createdBy": "default"})


async def test_protected_reads_need_the_read_scope(aiohttp_client, tmp_path):
    client = await make_client(aiohttp_client, tmp_path, protect_reads=True)
    assert (await client.get("/api/alerts")).status == 401
    assert (await client.get("/api/alerts", headers=bearer("v1ew"))).status == 200
    assert (await client.get("/api/alerts?token=0ncall")).status == 200
    resp = await client.get("/api/alerts", headers=bearer("h00k"))
    assert resp.status == 403
    assert await resp.json() == {"error": "forbidden",
                                 "detail": "token 'alertmanager' lacks the 'read' scope"}


async def test_open_reads_stay_open(aiohttp_client, tmp_path):
    client = await make_client(aiohttp_client, tmp_path)
    assert (await client.get("/api/alerts")).status == 200
    assert (await client.get("/api/alerts", headers=bearer("h00k"))).status == 200


async def test_read_only_refuses_writes_whatever_the_token_and_accepts_webhooks(
        aiohttp_client, tmp_path):
    client = await make_client(aiohttp_client, tmp_path, token="old-style", read_only=True)
    for token in ("old-style", "0ps", None):
        status, body = await post(client, BROADCAST, MANUAL, token)
        assert status == 403
        assert body == {"error": "forbidden", "detail": "read-only mode: this bridge refuses "
                        f"POST {BROADCAST} (auth.read_only)"}
    status, body = await post(client, "/_test/silence", {}, "0ncall")
    assert status == 403 and body["detail"].startswith("read-only mode: ")
    status, body = await post(client, WEBHOOK, payload(am_alert()), "h00k")
    assert status == 200 and body["events"] == 1
    status, _ = await post(client, WEBHOOK, payload(am_alert("Other")), "v1ew")
    assert status == 403  # still only webhook tokens
    alerts = await (await client.get("/api/alerts")).json()
    assert [a["labels"]["alertname"] for a in alerts["alerts"]] == ["HostDown"]
    # Reads are reads: raw PromQL (GET) passes read-only and its admin check (then 503).
    assert (await client.get("/api/query?query=up", headers=bearer("0ps"))).status == 503


def _post(url: str, body: Any, token: str) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **bearer(token)})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_bridge_process_in_read_only_mode_logs_names_never_tokens(tmp_path):
    hook_file = tmp_path / "hook-token"
    hook_file.write_text("h00k-s3cret-from-file\n")
    config = {"alertmanager": {"url": ""}, "auth": {"tokens": [
        {"name": "alertmanager", "token_file": str(hook_file), "scopes": ["webhook"]},
        {"name": "ops", "token": "0ps-s3cret", "scopes": ["admin", "read"]}]}}
    nowhere = f"http://127.0.0.1:{servers.free_port()}"
    bridge = servers.bridge(tmp_path / "b", nowhere, "--read-only", token="d3fault-s3cret",
                            config=config)
    try:
        bridge.start()
        status, body = _post(bridge.url + BROADCAST, MANUAL, "0ps-s3cret")
        assert status == 403 and body["detail"].startswith("read-only mode: ")
        status, body = _post(bridge.url + WEBHOOK, payload(am_alert()), "h00k-s3cret-from-file")
        assert status == 200 and body["events"] == 1
        status, body = _post(bridge.url + BROADCAST, MANUAL, "h00k-s3cret-from-file")
        assert status == 403  # read-only first: no write passes, whoever asks
    finally:
        bridge.stop()
    log = bridge.log_path.read_text()
    assert ("auth: tokens default [admin read silence webhook], alertmanager [webhook], "
            "ops [admin read]; read_only on; reads open") in log
    assert "s3cret" not in log
