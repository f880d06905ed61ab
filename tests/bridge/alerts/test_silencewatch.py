"""The silence watcher's reads: a silence missing from one read of a peer (a failover to one
that has not caught up on gossip) is not expired; missing from two reads of the same peer it
is, on either backend's store. Alertmanager's peers are stand-ins here: lagging gossip on
loopback cannot be forced."""

from __future__ import annotations

from typing import Any

from bridge.alerts.silencewatch import ClusterWatch
from bridge.config import AlertmanagerConfig
from tests.bridge.alerts.helpers import make_store


def am(sid: str) -> dict[str, Any]:
    return {"id": sid, "status": {"state": "active"}, "comment": "c", "createdBy": "ann",
            "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
            "matchers": [{"name": "alertname", "value": "X", "isRegex": False,
                          "isEqual": True}]}


class Peers:
    """A cluster whose answering peer and list each read sets."""

    name = "ha"

    def __init__(self) -> None:
        self.active_url = "http://a"
        self.answer: list[dict[str, Any]] = []

    async def get_json(self, _path: str, _params: dict[str, str]) -> Any:
        return self.answer


async def test_a_silence_is_expired_only_when_two_reads_of_one_peer_lack_it(tmp_path,
                                                                            alert_store):
    store = make_store(tmp_path, alert_store)
    await store.open()
    try:
        peers = Peers()
        watch = ClusterWatch(peers, store, AlertmanagerConfig())  # type: ignore[arg-type]
        peers.answer = [am("s1"), am("s2")]
        assert await watch.poll_once() == 2  # created, created
        peers.active_url, peers.answer = "http://b", [am("s2")]  # failover: b lacks s1
        assert await watch.poll_once() == 0
        peers.answer = [am("s1"), am("s2")]  # b caught up
        assert await watch.poll_once() == 0
        peers.answer = [am("s2")]  # s1 deleted: b's next read lacks it too
        assert await watch.poll_once() == 0
        assert await watch.poll_once() == 1
        states = {s["id"]: s["state"] for _, s in await store.known_silences()}
        assert states == {"s1": "expired", "s2": "active"}
    finally:
        await store.close()
