"""Snapshot-shaped frames on the client side: the Snapshot in a `GET /api/metrics/current`
answer (for the polling fallback and `MetricsFetcher` alike), polled Snapshots turned into the
`metrics` frames the WebSocket would have sent (one per subscription, filtered to its metrics and
instances, so a consumer cannot tell the transports apart except through `client.transport`),
and delta frames merged back into full Snapshots.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bridge.client.common import Frame
from bridge.protocol import DEFAULT_ID, METRICS, sample_key


def parse_snapshot(url: str, status: int, body: bytes) -> dict[str, Any]:
    """The Snapshot in an answer to `GET url`; ValueError with one line saying what is wrong
    (the bridge's own `detail` for an error status)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise ValueError(f"GET {url}: {status} answer is not JSON") from None
    if status != 200:
        detail = data.get("detail") if isinstance(data, dict) else None
        raise ValueError(f"GET {url}: {status} {detail or data}")
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise ValueError(f"GET {url}: answer is not a Snapshot")
    return data


def subscription_frame(snapshot: Mapping[str, Any], sub_id: str,
                       subscription: Mapping[str, Any]) -> Frame | None:
    """The `metrics` frame a subscription would have received for this Snapshot, or None for
    subscriptions polling cannot serve (raw PromQL)."""
    if subscription.get("query"):
        return None
    wanted = set(subscription.get("metrics") or ())
    instances = set(subscription.get("instances") or ())
    metrics: dict[str, Any] = {}
    for name, body in snapshot.get("metrics", {}).items():
        if wanted and name not in wanted:
            continue
        if instances and isinstance(body, Mapping):
            samples = [s for s in body.get("samples") or () if s.get("instance") in instances]
            body = {**body, "samples": samples}
        metrics[name] = body
    errors = {k: v for k, v in (snapshot.get("errors") or {}).items()
              if not wanted or k in wanted}
    return {**snapshot, "type": METRICS, "id": sub_id, "metrics": metrics, "errors": errors}


def default_frame(snapshot: Mapping[str, Any]) -> Frame:
    return {**snapshot, "type": METRICS, "id": DEFAULT_ID}


def merge_delta(previous: Mapping[str, Any] | None, delta: Mapping[str, Any]) -> Frame:
    """A full `metrics` frame from the previous full one and a delta frame (`"delta": true`:
    only changed samples per metric, and `removed` [{instance, labels}] for vanished series)."""
    metrics: dict[str, Any] = {name: dict(body) for name, body
                               in ((previous or {}).get("metrics") or {}).items()}
    for name, change in (delta.get("metrics") or {}).items():
        old = metrics.get(name) or {}
        samples = {sample_key(name, s): s for s in old.get("samples") or ()}
        for gone in change.get("removed") or ():
            samples.pop(sample_key(name, gone), None)
        for sample in change.get("samples") or ():
            samples[sample_key(name, sample)] = sample
        body = {**old, **{k: v for k, v in change.items() if k not in ("samples", "removed")}}
        body["samples"] = list(samples.values())
        metrics[name] = body
    merged = {**delta, "metrics": metrics}
    merged.pop("delta", None)
    return merged
