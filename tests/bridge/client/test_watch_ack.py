"""promwire-watch and the client for the alert console: cluster and acked/silenced state in the
view, `--ack` against a real bridge (its answer or its error, and the exit code), and
AlertsClient following the contract's frames (clusters, suppressed events, silence events
carrying acks; scripted, so each shape is fed exactly)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.client import ActionError, ack
from bridge.watchview import alert_lines, alert_state
from tests import servers
from tests.bridge.client.helpers import until
from tests.bridge.client.test_alerts import event, fast, scripted


def run_watch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge.watch", *args], capture_output=True,
                          text=True, timeout=60)


def firing(name: str, **extra: Any) -> dict[str, Any]:
    return {"status": "firing", "fingerprint": f"fp-{name}", "startsAt": "2026-12-03T10:00:00Z",
            "labels": {"alertname": name, "severity": "critical", "instance": f"{name}:9100"},
            "annotations": {}, **extra}


def test_view_shows_cluster_and_state_and_spells_out_acks() -> None:
    ack_body = {"by": "alice", "comment": "on it", "since": "2026-12-03T10:05:00Z",
                "until": "2026-12-03T11:05:00Z", "silenceID": "s1"}
    alerts = [firing("Plain"), firing("Muted", cluster="eu", state="suppressed",
                                      silencedBy=["s0"], inhibitedBy=[]),
              firing("Shadowed", cluster="eu", state="suppressed", silencedBy=[],
                     inhibitedBy=["fp-x"]),
              firing("Acked", cluster="us", state="suppressed", silencedBy=["s1"], ack=ack_body)]
    lines = alert_lines(alerts)
    header = lines[1].split()
    assert header == ["SEVERITY", "ALERT", "CLUSTER", "INSTANCE", "STATE", "SINCE", "SUMMARY"]
    cells = {line.split()[1]: line.split()[2:5] for line in lines[2:6]}
    assert cells == {"Plain": ["default", "Plain:9100", "active"],
                     "Muted": ["eu", "Muted:9100", "silenced"],
                     "Shadowed": ["eu", "Shadowed:9100", "inhibited"],
                     "Acked": ["us", "Acked:9100", "acked"]}
    (acked,) = lines[6:]
    assert acked.startswith("  acked Acked (Acked:9100, cluster us) by alice since ")
    assert " until " in acked and acked.endswith(": on it")
    assert alert_state({"state": "suppressed"}) == "suppressed"


def test_ack_flags_belong_together(capsys: pytest.CaptureFixture[str]) -> None:
    from bridge import watch

    for argv in (["--ack", "fp"], ["--ack", "fp", "--comment", " "], ["--comment", "x"],
                 ["--duration", "1h", "--once"]):
        with pytest.raises(SystemExit) as exc:
            watch.main(argv)
        assert exc.value.code == 2, argv
    err = capsys.readouterr().err
    assert "--ack needs --comment TEXT" in err and "--comment only go with --ack" in err


def test_ack_when_no_bridge_answers_exits_1_naming_each() -> None:
    urls = [f"http://127.0.0.1:{servers.free_port()}" for _ in range(2)]
    result = run_watch(",".join(urls), "--ack", "fp", "--comment", "x")
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"promwire-watch: ack failed: cannot reach {urls[0]}: ")
    assert f"; cannot reach {urls[1]}: " in line


def direct_ack(url: str, fingerprint: str, token: str | None, body: dict[str, Any]
               ) -> tuple[int, dict[str, Any]]:
    """What the bridge answers the same ack, asked directly."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url}/api/alerts/{fingerprint}/ack",
                                     data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.fixture
def plain_bridge(tmp_path: Path) -> Iterator[servers.Process]:
    bridge = servers.bridge(tmp_path / "bridge", "http://127.0.0.1:1",
                            alertmanager_url=f"http://127.0.0.1:{servers.free_port()}")
    bridge.start()
    try:
        yield bridge
    finally:
        bridge.stop()


@pytest.mark.integration
@pytest.mark.parametrize("token", ["test-token", None])
def test_ack_prints_the_apis_error_and_exits_1(plain_bridge: servers.Process,
                                               token: str | None) -> None:
    """An unknown fingerprint (404 once the endpoint exists; today there is no such route, also
    404), and without a token (401 then): the bridge's own words, exit 1."""
    args = [plain_bridge.url, "--ack", "no-such-fingerprint", "--comment", "on it",
            "--duration", "30m"]
    result = run_watch(*args, *(["--token", token] if token else []))
    status, body = direct_ack(plain_bridge.url, "no-such-fingerprint", token,
                              {"comment": "on it", "duration": "30m"})
    assert status >= 400
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"promwire-watch: ack failed: {status} {body['error']}: {body['detail']}"]
    with pytest.raises(ActionError) as exc:
        ack(plain_bridge.url, "no-such-fingerprint", "on it", token=token)
    assert (exc.value.status, exc.value.error) == (status, body["error"])


@pytest.mark.integration
def test_ack_through_a_real_alertmanager_shows_as_acked(node_stack: Any, tmp_path: Path) -> None:
    from tests.bridge.alerts.test_integration import TOKEN, start_am_and_bridge

    am, bridge = start_am_and_bridge(tmp_path, node_stack.prometheus.url, resend_interval=60)
    labels = {"alertname": "WatchAck", "severity": "critical", "instance": "db-1:9100"}
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    try:
        request = urllib.request.Request(am.url + "/api/v2/alerts", data=json.dumps(
            [{"labels": labels, "endsAt": ends}]).encode(),
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()
        alert = servers.wait_for(lambda: next((a for a in servers.http_json(
            bridge.url + "/api/alerts")[1]["alerts"] if a["labels"] == labels), None),
            timeout=60, message="the alert at the bridge")
        result = run_watch(bridge.url, "--ack", alert["fingerprint"], "--comment", "on it",
                           "--duration", "30m", "--cluster", "default", "--token", TOKEN)
        assert result.returncode == 0, result.stderr
        line = result.stdout.strip()
        assert line.startswith(f"acked {alert['fingerprint']} in cluster default until ")
        silence_id = line.rsplit("(silence ", 1)[1].rstrip(")")
        silences = servers.http_json(am.url + "/api/v2/silences")[1]
        (made,) = [s for s in silences if s["id"] == silence_id]
        assert made["comment"] == "ACK! on it"
        assert {m["name"]: m["value"] for m in made["matchers"]} == labels
        shown = servers.wait_for(lambda: next((line for line in run_watch(
            bridge.url, "--once").stdout.splitlines() if "acked WatchAck" in line), None),
            timeout=60, message="the ack in --once")
        assert shown.endswith(": on it")
    finally:
        bridge.stop()
        am.stop()


def silence_frame(seq: int, event_name: str, state: str) -> dict[str, Any]:
    return {"type": "silence", "seq": seq, "epoch": "E1", "event": event_name,
            "timestamp": "2026-12-03T10:05:00Z", "silence": {
                "cluster": "eu", "id": "ack-1", "matchers": [], "createdBy": "alice",
                "comment": "ACK! on it", "state": state, "startsAt": "2026-12-03T10:05:00Z",
                "endsAt": "2026-12-03T11:05:00Z", "ack": {"fingerprint": "fp-Twin"}}}


@pytest.mark.parametrize(("state", "kept"), [(None, ["eu"]), ("all", ["eu", "us"])])
async def test_client_keys_by_cluster_and_follows_suppression_and_acks(
        aiohttp_server: Any, state: str | None, kept: list[str]) -> None:
    twin_eu, twin_us = firing("Twin", cluster="eu"), firing("Twin", cluster="us")
    suppressed = {**event(2, name="Twin"), "event": "suppressed",
                  "alert": {**twin_us, "state": "suppressed", "silencedBy": ["s9"]}}
    bridge, url = await scripted(aiohttp_server, [[
        {"type": "snapshot", "epoch": "E1", "seq": 1, "alerts": [twin_eu, twin_us]},
        suppressed, silence_frame(3, "created", "active"), "hold"]])
    client = fast(url, state=state)
    delivered: list[dict[str, Any]] = []
    client.set_callback(delivered.append)
    async with client:
        await until(lambda: client.seq == 3)
        # The same fingerprint in two clusters is two alerts; the suppressed one stays only
        # when asked for every state.
        assert sorted(cluster for cluster, _ in client.alerts) == kept
        assert client.alerts[("eu", "fp-Twin")]["ack"] == {
            "by": "alice", "comment": "on it", "since": "2026-12-03T10:05:00Z",
            "until": "2026-12-03T11:05:00Z", "silenceID": "ack-1"}
    assert [f["type"] for f in delivered] == ["snapshot", "alert", "silence"]
    assert bridge.queries[0] == ({"state": [state]} if state else {})


async def test_an_expired_ack_silence_unmarks_its_alert(aiohttp_server: Any) -> None:
    _, url = await scripted(aiohttp_server, [[
        {"type": "snapshot", "epoch": "E1", "seq": 1, "alerts": [firing("Twin", cluster="eu")]},
        silence_frame(2, "created", "active"), silence_frame(3, "expired", "expired"), "hold"]])
    client = fast(url)
    async with client:
        await until(lambda: client.seq == 3)
        assert client.alerts[("eu", "fp-Twin")]["ack"] is None
    with pytest.raises(ValueError, match="state"):
        fast(url, state="silenced")
