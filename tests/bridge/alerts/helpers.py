"""Builders shared by the alert tests: Alertmanager-shaped payloads and notices, the app and a
store on the backend the `alert_store` fixture names, and waiting for a store's commits."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.alerts.model import Notice, Suppression, fingerprint, parse_time
from tests.bridge.streams import helpers as stream_helpers

# Wait for a condition of a store or hub in this process (a plain predicate, polled on the event
# loop): the streams tests' `until`. Its limit only stops a hang; no test asserts a duration.
until = stream_helpers.until


def am_alert(name: str = "HostDown", status: str = "firing", instance: str = "h1:9100",
             starts: str = "2026-01-01T00:00:00Z", annotations: dict[str, str] | None = None,
             **labels: str) -> dict[str, Any]:
    """One alert as Alertmanager's webhook carries it."""
    all_labels = {"alertname": name, "instance": instance, **labels}
    return {
        "status": status,
        "labels": all_labels,
        "annotations": annotations if annotations is not None else {"summary": f"{name} on "
                                                                               f"{instance}"},
        "startsAt": starts,
        "endsAt": "2026-01-01T01:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint(all_labels),
    }


def payload(*alerts: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    """A version 4 webhook body around `alerts`."""
    return {
        "version": "4", "receiver": "promwire-bridge", "groupKey": "{}:{}",
        "status": status or ("firing" if any(a["status"] == "firing" for a in alerts)
                             else "resolved"),
        "alerts": list(alerts), "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
    }


def notice(name: str = "HostDown", status: str = "firing", starts: str = "2026-01-01T00:00:00Z",
           annotations: dict[str, str] | None = None, source: str = "alertmanager",
           cluster: str = "default", suppression: Suppression | None = None,
           **labels: str) -> Notice:
    all_labels = {"alertname": name, "instance": "h1:9100", **labels}
    return Notice(fingerprint=fingerprint(all_labels), status=status, labels=all_labels,
                  annotations=annotations or {"summary": "s"}, starts_ms=parse_time(starts),
                  ends_ms=None, generator_url="", source=source, cluster=cluster,
                  suppression=suppression)


def silenced(*ids: str) -> Suppression:
    return Suppression("suppressed", tuple(sorted(ids)), ())


# Narrows a test taking the `alert_store` fixture (directly or through its client) to the SQLite
# backend: its subject is the SQLite file (a second connection, a lock, a full disk).
SQLITE_ONLY = pytest.mark.parametrize("alert_store", ["sqlite"], indirect=True)
# The same narrowing for a test whose subject is no store at all (input refused before any store
# call, an upstream down): a second backend would test nothing new and cost a database.
ONE_BACKEND = SQLITE_ONLY

TOKEN = "alerts-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_app(data_dir: Any, alertmanager_url: str = "", protect_reads: bool = False,
             reconcile_interval: float = 0.5, clusters: dict[str, list[str]] | None = None,
             **alerts: Any) -> Any:
    """The whole bridge app with a temp data dir, a token, and alert settings overridden;
    `clusters` (name -> peer URLs) instead of the one `alertmanager_url`."""
    from bridge.app import create_app
    from bridge.config import (
        AlertmanagerConfig,
        AlertsConfig,
        AuthConfig,
        BridgeConfig,
        ClusterConfig,
    )

    config = BridgeConfig(
        data_dir=str(data_dir),
        auth=AuthConfig(token=TOKEN, protect_reads=protect_reads),
        alertmanager=AlertmanagerConfig(url=alertmanager_url,
                                        clusters=tuple(ClusterConfig(name, tuple(peers))
                                                       for name, peers in (clusters or {}).items()),
                                        reconcile_interval=reconcile_interval,
                                        reconcile_backoff_max=1.0, timeout=2.0),
        alerts=AlertsConfig(**{"busy_timeout": 0.2, **alerts}),
    )
    return create_app(config)


def make_store(data_dir: Any, alerts: dict[str, Any]) -> Any:
    """The store (not opened) of the backend `alerts` names: the `alert_store` fixture's
    settings, as the app picks it (`bridge.alerts.backend.make_store`)."""
    from bridge.alerts.backend import make_store as pick
    from bridge.config import AlertsConfig, BridgeConfig

    return pick(BridgeConfig(data_dir=str(data_dir), alerts=AlertsConfig(**alerts)))
