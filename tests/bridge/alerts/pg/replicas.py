"""Bridge replicas as real processes on one PostgreSQL database, and what the tests do to them:
subscribe over WebSocket, post webhooks, read /health."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import websockets

from tests import servers
from tests.bridge.alerts.helpers import payload

TOKEN = "replica-token"


def replica(base: Path, name: str, database_url: str, *, prometheus_url: str = "http://127.0.0.1:1",
            alertmanager_url: str = "", port: int | None = None, reconcile_interval: float = 1.0,
            **alerts: Any) -> servers.Process:
    """One bridge on the shared log (not started). Without `alertmanager_url` it does not
    reconcile."""
    config = {
        "alerts": {"store": "postgres", "database_url": database_url, "replica_id": name,
                   "leader_retry": 0.5, "poll_interval": 0.5, "heartbeat": 1.0,
                   "database_timeout": 2.0, "resend_interval": 1.0, **alerts},
        "alertmanager": {"url": alertmanager_url, "reconcile_interval": reconcile_interval,
                         "reconcile_backoff_max": 1.0},
    }
    proc = servers.bridge(base / name, prometheus_url, port=port, token=TOKEN, config=config)
    proc.name = name
    return proc


def start_all(procs: list[servers.Process]) -> list[servers.Process]:
    """Start every replica at the same moment (threads), and wait until each answers."""
    errors: list[BaseException] = []

    def run(proc: servers.Process) -> None:
        try:
            proc.start()
        except BaseException as exc:
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return procs


@contextlib.contextmanager
def running(procs: list[servers.Process]) -> Iterator[list[servers.Process]]:
    try:
        yield start_all(procs)
    finally:
        for proc in procs:
            proc.stop()


def health(proc: servers.Process) -> dict[str, Any]:
    _, body = servers.http_json(proc.url + "/health", timeout=5)
    return body


def alerts_check(proc: servers.Process) -> dict[str, Any]:
    return health(proc)["checks"]["alerts"]


def post(proc: servers.Process, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(proc.url + "/api/alerts/webhook", data=json.dumps(body).encode(),
                                 method="POST", headers={"Authorization": f"Bearer {TOKEN}",
                                                         "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post_alerts(proc: servers.Process, *alerts: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return post(proc, payload(*alerts))


def current_names(proc: servers.Process) -> set[str]:
    """The alertnames firing on a replica (GET /api/alerts)."""
    _, body = servers.http_json(proc.url + "/api/alerts", timeout=5,
                                headers={"Authorization": f"Bearer {TOKEN}"})
    return {a["labels"]["alertname"] for a in body["alerts"]}


def counter(proc: servers.Process, name: str) -> float:
    _, body = servers.http_get(proc.url + "/metrics")
    pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", re.M)
    return sum(float(v) for v in pattern.findall(body.decode()))


def ws_url(proc: servers.Process, query: str = "") -> str:
    return proc.url.replace("http://", "ws://") + "/api/ws/ws/alerts" + query


class Subscriber:
    """A WebSocket alert subscriber collecting every frame in the background."""

    def __init__(self, proc: servers.Process, query: str = "") -> None:
        self.proc, self.query = proc, query
        self.frames: list[dict[str, Any]] = []
        self.closed: BaseException | None = None
        self.opened = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async with websockets.connect(ws_url(self.proc, self.query)) as ws:
                self.opened.set()
                async for message in ws:
                    self.frames.append(json.loads(message))
        except (OSError, websockets.ConnectionClosed) as exc:
            self.closed = exc
        finally:
            self.opened.set()

    async def ready(self) -> Subscriber:
        """Connected, and its opening frame (snapshot or replay start) received."""
        await asyncio.wait_for(self.opened.wait(), 15)
        for _ in range(750):
            if self.frames or self.closed is not None:
                return self
            await asyncio.sleep(0.02)
        raise AssertionError("no opening frame")

    def alerts(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "alert"]

    def positions(self) -> list[tuple[str, int]]:
        return [(f["epoch"], f["seq"]) for f in self.alerts()]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def eventually(predicate: Any, within: float = 30.0, message: str = "condition") -> Any:
    """Poll `predicate` (run in a thread: it may do blocking HTTP) until it is truthy."""
    return await asyncio.to_thread(servers.wait_for, predicate, within, 0.1, message)
