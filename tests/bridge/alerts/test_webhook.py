"""POST /api/alerts/webhook and POST /api/ws/broadcast/alert over real HTTP (pytest-aiohttp)."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import subprocess

import pytest

from bridge.alerts.model import fingerprint
from tests.bridge.alerts.helpers import (
    AUTH,
    ONE_BACKEND,
    SQLITE_ONLY,
    TOKEN,
    am_alert,
    make_app,
    payload,
)

WEBHOOK = "/api/alerts/webhook"


@pytest.fixture
async def client(aiohttp_client, tmp_path, alert_store):
    return await aiohttp_client(make_app(tmp_path, max_body_bytes=4096, **alert_store))


async def post(client, body, headers=AUTH, path=WEBHOOK):
    resp = await client.post(path, data=body if isinstance(body, bytes) else json.dumps(body),
                             headers={"Content-Type": "application/json", **headers})
    return resp.status, await resp.json()


async def metric(client, name):
    text = await (await client.get("/metrics")).text()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith(name)}


async def events_stored(data_dir, alert_store) -> int:
    """The events in the log, counted over a connection of its own (not the app's)."""
    if alert_store["store"] == "postgres":
        import asyncpg

        conn = await asyncpg.connect(alert_store["database_url"])
        try:
            return await conn.fetchval("SELECT count(*) FROM events")
        finally:
            await conn.close()
    with sqlite3.connect(data_dir / "alerts.db") as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


async def test_accepts_a_notification_and_commits_it_before_answering(client, tmp_path,
                                                                      alert_store):
    status, body = await post(client, payload(am_alert(), am_alert("DiskFull")))
    assert status == 200 and body == {"status": "ok", "alerts": 2, "events": 2, "seq": 2}
    # Durable: another connection sees the committed rows right after the 200.
    assert await events_stored(tmp_path, alert_store) == 2
    current = await (await client.get("/api/alerts")).json()
    assert {a["labels"]["alertname"] for a in current["alerts"]} == {"HostDown", "DiskFull"}
    assert (await metric(client, "promwire_bridge_webhooks_received_total")) == {
        "promwire_bridge_webhooks_received_total": 1.0}
    events = await metric(client, "promwire_bridge_alert_events_stored_total")
    assert events == {'promwire_bridge_alert_events_stored_total{source="alertmanager"}': 2.0}


async def test_duplicates_and_ha_twins_add_no_event(client):
    body = payload(am_alert())
    results = await asyncio.gather(*(post(client, body) for _ in range(5)))
    assert all(status == 200 for status, _ in results)
    assert sum(b["events"] for _, b in results) == 1
    history = await (await client.get("/api/alerts/history")).json()
    assert [e["seq"] for e in history["events"]] == [1]


async def test_resolve_and_refire_through_the_webhook(client):
    await post(client, payload(am_alert()))
    _, body = await post(client, payload(am_alert(status="resolved")))
    assert body["events"] == 1
    _, body = await post(client, payload(am_alert(starts="2026-01-01T05:00:00Z")))
    history = await (await client.get("/api/alerts/history")).json()
    assert [e["event"] for e in history["events"]] == ["firing", "resolved", "refired"]


@ONE_BACKEND
@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": "Basic " + base64.b64encode(b"alertmanager:wrong").decode()},
    {"Authorization": "Token " + TOKEN},
])
async def test_missing_or_wrong_credentials_are_401(client, headers):
    status, body = await post(client, payload(am_alert()), headers=headers)
    assert status == 401 and body["error"] == "unauthorized"
    rejected = await metric(client, "promwire_bridge_webhooks_rejected_total")
    assert rejected == {'promwire_bridge_webhooks_rejected_total{reason="unauthorized"}': 1.0}
    assert (await (await client.get("/api/alerts")).json())["alerts"] == []


async def test_basic_auth_with_the_token_as_password_works(client):
    basic = base64.b64encode(f"alertmanager:{TOKEN}".encode()).decode()
    status, _ = await post(client, payload(am_alert()), headers={"Authorization": f"Basic {basic}"})
    assert status == 200


@ONE_BACKEND
async def test_body_over_the_limit_is_413_with_or_without_content_length(client):
    big = payload(*(am_alert(f"A{i}") for i in range(40)))
    status, body = await post(client, big)
    assert status == 413 and body["error"] == "payload_too_large"

    async def chunks():
        data = json.dumps(big).encode()
        for i in range(0, len(data), 1000):
            yield data[i:i + 1000]
    resp = await client.post(WEBHOOK, data=chunks(), headers=AUTH)
    assert resp.status == 413
    rejected = await metric(client, "promwire_bridge_webhooks_rejected_total")
    assert rejected == {'promwire_bridge_webhooks_rejected_total{reason="too_large"}': 2.0}


@ONE_BACKEND
@pytest.mark.parametrize(("body", "detail"), [
    (b"{not json", "malformed JSON"),
    (b"", "empty body"),
    (b"\xff\xfe", "malformed JSON"),
    (b"[" * 3000, "malformed JSON"),  # nested deeper than the decoder's recursion limit
    ({**payload(am_alert()), "version": "3"}, 'version: expected "4", got \'3\''),
    ({k: v for k, v in payload(am_alert()).items() if k != "alerts"}, "alerts: missing"),
    (payload({**am_alert(), "startsAt": 5}), "alerts[0].startsAt: expected a string"),
])
async def test_malformed_input_is_400_naming_the_problem(client, body, detail):
    status, answer = await post(client, body)
    assert status == 400 and answer["error"] == "bad_request"
    assert detail in answer["detail"]


@SQLITE_ONLY
async def test_storage_locked_is_503_and_the_retry_is_stored(client, tmp_path):
    await post(client, payload(am_alert("First")))
    blocker = sqlite3.connect(tmp_path / "alerts.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        status, body = await post(client, payload(am_alert()))
        assert status == 503 and body["error"] == "storage_unavailable"
        assert "locked" in body["detail"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    rejected = await metric(client, "promwire_bridge_webhooks_rejected_total")
    assert rejected == {
        'promwire_bridge_webhooks_rejected_total{reason="storage_unavailable"}': 1.0}
    status, body = await post(client, payload(am_alert()))  # Alertmanager's retry
    assert status == 200 and body["events"] == 1 and body["seq"] == 2


async def test_manual_alert_needs_the_token_and_is_stored_and_streamed(client):
    path = "/api/ws/broadcast/alert"
    ws = await client.ws_connect("/api/ws/ws/alerts")
    assert (await ws.receive_json())["type"] == "snapshot"
    manual = {"labels": {"alertname": "Deploy", "env": "prod"},
              "annotations": {"summary": "deploying"}}
    status, _ = await post(client, manual, headers={}, path=path)
    assert status == 401
    status, body = await post(client, {"labels": {"env": "prod"}}, path=path)
    assert status == 400 and "alertname" in body["detail"]
    status, body = await post(client, manual, path=path)
    assert status == 200
    assert body["fingerprint"] == fingerprint(manual["labels"])
    assert body["event"]["alert"]["source"] == "manual" and body["event"]["event"] == "firing"
    frame = await ws.receive_json()
    assert frame == body["event"]
    status, body = await post(client, {**manual, "status": "resolved"}, path=path)
    assert body["event"]["event"] == "resolved"
    assert body["event"]["alert"]["startsAt"] == frame["alert"]["startsAt"]
    assert (await ws.receive_json())["event"] == "resolved"
    await ws.close()


async def test_a_store_that_cannot_open_answers_503_and_shows_in_health(aiohttp_client, tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data dir should be")
    client = await aiohttp_client(make_app(blocked))
    status, body = await post(client, payload(am_alert()))
    assert status == 503 and body["error"] == "storage_unavailable"
    assert (await client.get("/api/alerts/history")).status == 503
    check = (await (await client.get("/health")).json())["checks"]["alerts"]
    assert check["ok"] is False and check["store"]["error"]


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs for the data dir: a disk that really fills up. Needs root (mount)."""
    where = tmp_path / "small"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


async def test_a_full_disk_is_503_keeps_what_was_acknowledged_and_the_retry_is_stored(
        aiohttp_client, small_disk):
    client = await aiohttp_client(make_app(small_disk))
    note = {"summary": "x" * 20_000}  # ~20 KB a notification: the disk fills in a few dozen
    acknowledged, refused = [], None
    for i in range(200):
        body = payload(am_alert(f"Fill{i}", annotations=note))
        status, answer = await post(client, body)
        if status != 200:
            refused = (status, answer, body)
            break
        acknowledged.append(f"Fill{i}")
    assert refused is not None, "the disk never filled up"
    status, answer, body = refused
    assert status == 503 and answer["error"] == "storage_unavailable"
    assert "disk full" in answer["detail"]
    assert len(acknowledged) >= 2
    # /health tells the operator why webhooks are refused.
    check = (await (await client.get("/health")).json())["checks"]["alerts"]
    assert check["ok"] is False and check["store"]["ok"] is False
    assert "disk full" in check["store"]["error"]
    # Every notification answered 200 is on disk (read by a separate connection).
    with sqlite3.connect(small_disk / "alerts.db") as conn:
        stored = [json.loads(frame)["alert"]["labels"]["alertname"]
                  for (frame,) in conn.execute("SELECT frame FROM events ORDER BY seq")]
    assert stored == acknowledged
    # Room again (an operator frees space): Alertmanager's retry of the refused one is stored.
    await asyncio.to_thread(subprocess.run, ["mount", "-o", "remount,size=8m", str(small_disk)],
                            check=True)
    status, answer = await post(client, body)
    assert status == 200 and answer["events"] == 1 and answer["seq"] == len(acknowledged) + 1
    for _ in range(50):  # probe results are shared for a second
        check = (await (await client.get("/health")).json())["checks"]["alerts"]
        if check["ok"]:
            break
        await asyncio.sleep(0.1)
    assert check["ok"] is True and check["store"] == {**check["store"], "ok": True, "error": None}


async def test_the_reply_seq_is_the_last_event_this_request_stored(aiohttp_client, tmp_path,
                                                                   alert_store):
    """A post bigger than one fan-out slice: the hub is still publishing when the commit is
    acknowledged, yet the reply names the seq of this request's own last event."""
    from bridge.alerts.hub import FANOUT_SLICE

    client = await aiohttp_client(make_app(tmp_path, max_body_bytes=16 << 20, **alert_store))
    status, first = await post(client, payload(am_alert("Before")))
    assert status == 200 and first["seq"] == 1
    count = FANOUT_SLICE * 2 + 500
    alerts = [am_alert("Many", instance=f"h{i}:9100") for i in range(count)]
    status, body = await post(client, payload(*alerts))
    assert status == 200 and body["events"] == count
    assert body["seq"] == 1 + count
    history = await (await client.get(f"/api/alerts/history?since={body['seq'] - 1}")).json()
    assert [e["seq"] for e in history["events"]] == [body["seq"]]
    assert history["events"][0]["alert"]["labels"]["instance"] == f"h{count - 1}:9100"


async def test_a_webhook_is_in_the_cluster_of_its_sender(aiohttp_client, tmp_path, alert_store):
    """The cluster is the one of whose peers the payload's externalURL is, or `?cluster=`;
    from anywhere else a webhook is refused (400 naming the origin), as is an unknown name."""
    peers = {"prod": ["http://127.0.0.1:1", "http://LOCALHOST:2/"],
             "lab": ["http://127.0.0.1:3"]}
    c = await aiohttp_client(make_app(tmp_path, clusters=peers, reconcile_interval=0,
                                      **alert_store))

    def sent_by(url, *alerts):
        return {**payload(*alerts), "externalURL": url}
    status, body = await post(c, sent_by("http://localhost:2", am_alert()))
    assert status == 200 and body["events"] == 1
    status, body = await post(c, sent_by("http://elsewhere:9093", am_alert()),
                              path=WEBHOOK + "?cluster=lab")
    assert status == 200 and body["events"] == 1
    # The same alert from the other peer of prod: a duplicate, not a third alert.
    status, body = await post(c, sent_by("http://127.0.0.1:1/", am_alert()))
    assert status == 200 and body["events"] == 0
    current = (await (await c.get("/api/alerts")).json())["alerts"]
    assert sorted(a["cluster"] for a in current) == ["lab", "prod"]
    assert len({a["fingerprint"] for a in current}) == 1
    status, body = await post(c, sent_by("http://stranger:9093", am_alert("X")))
    assert status == 400 and body["error"] == "bad_request"
    assert "http://stranger:9093" in body["detail"] and "?cluster=" in body["detail"]
    status, body = await post(c, sent_by("http://127.0.0.1:1", am_alert("X")),
                              path=WEBHOOK + "?cluster=nope")
    assert status == 400 and "'nope'" in body["detail"] and "prod, lab" in body["detail"]
    rejected = await metric(c, "promwire_bridge_webhooks_rejected_total")
    assert rejected == {'promwire_bridge_webhooks_rejected_total{reason="bad_request"}': 2}


async def test_a_manual_alert_is_defaults_or_the_cluster_it_names(aiohttp_client, tmp_path,
                                                                  alert_store):
    c = await aiohttp_client(make_app(tmp_path, clusters={"prod": ["http://127.0.0.1:1"]},
                                      reconcile_interval=0, **alert_store))
    path = "/api/ws/broadcast/alert"
    status, body = await post(c, {"labels": {"alertname": "M"}}, path=path)
    assert status == 200 and body["cluster"] == "default"
    assert body["event"]["alert"]["cluster"] == "default"
    status, body = await post(c, {"labels": {"alertname": "M"}, "cluster": "prod"}, path=path)
    assert status == 200 and body["event"]["alert"]["cluster"] == "prod"
    assert body["event"]["event"] == "firing"  # another alert than default's
    status, body = await post(c, {"labels": {"alertname": "M"}, "cluster": "nope"}, path=path)
    assert status == 400 and "unknown cluster 'nope'" in body["detail"]


async def muted(aiohttp_client, tmp_path, alert_store):
    """An app whose one `prod` alert the live view holds as suppressed, with its store leading
    (only the leader reconciles); the reconciler, and a webhook from `prod` notifying it."""
    from bridge.alerts.backend import STORE_KEY
    from bridge.alerts.model import now_ms
    from bridge.alerts.reconcile import RECONCILER_KEY
    from tests.bridge.alerts.helpers import notice, silenced, until

    c = await aiohttp_client(make_app(tmp_path, clusters={"prod": ["http://127.0.0.1:1"]},
                                      reconcile_interval=0, **alert_store))
    await until(lambda: c.app[STORE_KEY].leader)
    await c.app[STORE_KEY].reconcile([notice(source="reconcile", cluster="prod",
                                             suppression=silenced("s1"))],
                                     now_ms() + 1, cluster="prod")
    hook = {**payload(am_alert(instance="h1:9100", annotations={"summary": "s"})),
            "externalURL": "http://127.0.0.1:1"}
    return c, c.app[RECONCILER_KEY].by_name["prod"], hook


async def test_a_webhook_notifying_a_muted_alert_triggers_a_reconciliation(aiohttp_client,
                                                                           tmp_path,
                                                                           alert_store):
    """Alertmanager notifies only unmuted alerts: a firing notice for an alert held as
    suppressed means its silence may have ended, which only Alertmanager's list says. The
    leader is asked (on PostgreSQL through the database, after the answer: awaited)."""
    from tests.bridge.alerts.helpers import until

    c, reconciler, hook = await muted(aiohttp_client, tmp_path, alert_store)
    status, body = await post(c, hook)
    assert status == 200 and body["events"] == 0  # the state is Alertmanager's list's to change
    await until(lambda: reconciler.triggers == 1)


@ONE_BACKEND
async def test_a_webhook_notifying_only_unmuted_alerts_asks_for_nothing(aiohttp_client,
                                                                        tmp_path, alert_store):
    """Which alerts are muted is the live view's (the hub's, either backend); on SQLite an ask
    reaches the reconciler before the answer, so none having come is seen at once."""
    c, reconciler, hook = await muted(aiohttp_client, tmp_path, alert_store)
    status, _ = await post(c, {**hook, "alerts": [am_alert("Other")]})
    assert status == 200 and reconciler.triggers == 0
