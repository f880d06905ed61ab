"""Who may write silences and acks, on the real write routes against a real Alertmanager HA
pair: a token without the `silence` scope and a bridge in `auth.read_only` get 403, and what
the peers hold shows that nothing was written; the right token's writes go through."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridge.alerts.model import fingerprint
from tests.bridge.alerts.amlive import am_post, bridge_app, eventually, push_alert
from tests.bridge.alerts.helpers import AUTH, ONE_BACKEND
from tests.servers import Process, http_json, wait_for

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def peer_silences(pair: tuple[Process, Process], name: str) -> list[set[tuple[str, str, str]]]:
    """Per peer, (id, state, createdBy) of every silence with a matcher alertname=`name`."""
    seen = []
    for peer in pair:
        status, silences = http_json(f"{peer.url}/api/v2/silences")
        assert status == 200, silences
        seen.append({(s["id"], s["status"]["state"], s["createdBy"]) for s in silences
                     if {"name": "alertname", "value": name} in
                     [{"name": m["name"], "value": m["value"]} for m in s["matchers"]]})
    return seen


LABELS = {"instance": "web-3:9100"}


async def write_targets(pair: tuple[Process, Process], name: str) -> tuple[str, str]:
    """A silence made in Alertmanager (seen on both peers) and an alert sent to it, both
    alertname=`name`, so that each write would change Alertmanager if it were let through:
    (silence id, the alert's fingerprint)."""
    labels = {"alertname": name, **LABELS}
    await asyncio.to_thread(push_alert, pair[0].url, labels)
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    made = await asyncio.to_thread(am_post, pair[0].url, "/api/v2/silences", {
        "matchers": [{"name": "alertname", "value": name, "isRegex": False, "isEqual": True}],
        "startsAt": datetime.now(UTC).isoformat(), "endsAt": ends, "createdBy": "alice",
        "comment": "to be expired"})
    sid = made["silenceID"]
    untouched = [{(sid, "active", "alice")}] * 2
    await asyncio.to_thread(wait_for, lambda: peer_silences(pair, name) == untouched, 15, 0.1,
                            "the silence on both peers")
    return sid, fingerprint(labels)


async def until_firing(client: Any, fp: str) -> None:
    """Until the bridge's reconciliation has brought alert `fp` in (an ack needs it firing;
    `state=all`, as the silence made in Alertmanager suppresses it)."""
    async def fires() -> int:
        alerts = (await (await client.get("/api/alerts?state=all")).json())["alerts"]
        return sum(a["fingerprint"] == fp for a in alerts)
    await eventually(fires, 1)


async def silence_writes(client: Any, headers: dict[str, str], name: str, sid: str, fp: str
                         ) -> list[tuple[int, Any]]:
    """(status, body) of creating a silence, expiring `sid` and acking `fp`, in that order."""
    answers = []
    for resp in (await client.post("/api/silences", headers=headers, json={
                     "cluster": "ha", "matchers": [f'alertname="{name}"'], "duration": "1h",
                     "comment": "should it be let through?"}),
                 await client.delete(f"/api/silences/ha/{sid}", headers=headers),
                 await client.post(f"/api/alerts/{fp}/ack", headers=headers,
                                   json={"comment": "on it"})):
        answers.append((resp.status, await resp.json()))
    return answers


def forbidden(detail: str) -> tuple[int, Any]:
    return 403, {"error": "forbidden", "detail": detail}


@ONE_BACKEND
async def test_a_token_without_the_silence_scope_writes_nothing_to_alertmanager(bridge, pair):
    name = "ScopeTest"
    sid, fp = await write_targets(pair, name)
    await until_firing(bridge, fp)
    for token, who in (("v1ew", "viewer"), ("h00k", "alertmanager")):
        answers = await silence_writes(bridge, bearer(token), name, sid, fp)
        assert answers == [forbidden(f"token '{who}' lacks the 'silence' scope")] * 3
    assert await asyncio.to_thread(peer_silences, pair, name) == [{(sid, "active", "alice")}] * 2

    # The token with the scope: the same three writes go through, under its name.
    answers = await silence_writes(bridge, bearer("0ncall"), name, sid, fp)
    assert [status for status, _ in answers] == [200] * 3, answers
    made, ack = answers[0][1]["silence"], answers[2][1]["silence"]
    on_a_peer = set().union(*await asyncio.to_thread(peer_silences, pair, name))
    assert {(sid, "expired", "alice"), (made["id"], "active", "oncall"),
            (ack["id"], "active", "oncall")} <= on_a_peer
    for made_here in (made["id"], ack["id"]):
        await bridge.delete(f"/api/silences/ha/{made_here}", headers=AUTH)
    await asyncio.to_thread(push_alert, pair[0].url, {"alertname": name, **LABELS}, True)


@ONE_BACKEND
async def test_a_read_only_bridge_refuses_silence_writes_even_to_an_all_scope_token(
        aiohttp_client, tmp_path, bridge, pair, alert_store):
    refusing = await aiohttp_client(bridge_app(tmp_path / "ro", (pair[0].url, pair[1].url),
                                               alert_store, read_only=True))
    name = "ReadOnlyWrite"
    sid, fp = await write_targets(pair, name)
    await until_firing(refusing, fp)
    refusal = "read-only mode: this bridge refuses {} (auth.read_only)"
    for headers in (AUTH, bearer("0ncall")):
        assert await silence_writes(refusing, headers, name, sid, fp) == [
            forbidden(refusal.format("POST /api/silences")),
            forbidden(refusal.format(f"DELETE /api/silences/ha/{sid}")),
            forbidden(refusal.format(f"POST /api/alerts/{fp}/ack"))]
    assert await asyncio.to_thread(peer_silences, pair, name) == [{(sid, "active", "alice")}] * 2

    # The same token on a bridge that is not read-only: the same writes go through.
    await until_firing(bridge, fp)
    answers = await silence_writes(bridge, AUTH, name, sid, fp)
    assert [status for status, _ in answers] == [200] * 3, answers
    on_a_peer = set().union(*await asyncio.to_thread(peer_silences, pair, name))
    assert (sid, "expired", "alice") in on_a_peer
    for _, body in (answers[0], answers[2]):
        await bridge.delete(f"/api/silences/ha/{body['silence']['id']}", headers=AUTH)
    await asyncio.to_thread(push_alert, pair[0].url, {"alertname": name, **LABELS}, True)
