"""Typed, flat views of metric stream frames: what `MetricsWebSocketClient(typed=True)` hands
to its callback and `async for`.

A `metrics` frame nests values three levels deep (`frame["metrics"]["cpu"]["samples"][0]
["value"]`) and arrives among acks, statuses and heartbeats. `MetricsUpdate` is one full frame
(deltas already merged) as flat `Sample`s with lookups by metric, instance and labels;
`Control` is any other frame, delivered only to consumers that ask for them (`control=True`).
Both are read-only; `.frame` keeps the raw dict for whatever the view does not cover.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.client.buffer import sample_value
from bridge.client.common import Frame
from bridge.protocol import DEFAULT_ID


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one series: `labels` are the extra labels (mountpoint, device, direction)
    beyond the instance."""

    metric: str
    instance: str
    labels: Mapping[str, str]
    value: float  # NaN / inf as floats, like the bridge's "NaN" / "+Inf" strings
    timestamp: float | None

    def matches(self, instance: str | None, labels: Mapping[str, str] | None) -> bool:
        """Same instance (when given) and every given label equal (a subset match)."""
        if instance is not None and self.instance != instance:
            return False
        return all(self.labels.get(k) == v for k, v in (labels or {}).items())


@dataclass(frozen=True, slots=True)
class MetricsUpdate:
    """One full `metrics` frame of a subscription, flattened.

    `stale` is true when the bridge said so or when the client knows the values cannot be
    fresh (Prometheus reported down). For raw PromQL subscriptions `query` is set, `metrics` is
    empty and each vector element is a Sample whose `metric` is the query text.
    """

    id: str
    timestamp: float
    stale: bool
    age: float
    transport: str | None
    metrics: tuple[str, ...]
    instances: tuple[str, ...]
    all_samples: tuple[Sample, ...]
    errors: Mapping[str, Any]
    warnings: tuple[str, ...]
    units: Mapping[str, str]
    titles: Mapping[str, str]
    query: str | None
    frame: Frame = field(repr=False)

    def samples(self, metric: str | None = None, instance: str | None = None,
                labels: Mapping[str, str] | None = None) -> list[Sample]:
        """The samples of `metric` (all metrics when None), of one instance and carrying the
        given labels when those are given."""
        return [s for s in self.all_samples
                if (metric is None or s.metric == metric) and s.matches(instance, labels)]

    def value(self, metric: str, instance: str | None = None,
              labels: Mapping[str, str] | None = None) -> float | None:
        """The value of the first matching sample, or None when there is none.

        `update.value("cpu", "host:9100")`; for a per-mountpoint metric give the label:
        `update.value("disk", "host:9100", {"mountpoint": "/"})`.
        """
        for sample in self.all_samples:
            if sample.metric == metric and sample.matches(instance, labels):
                return sample.value
        return None

    def by_instance(self, metric: str) -> dict[str, float]:
        """{instance: value} of a metric with one sample per instance (the first one wins
        when a metric has several, e.g. one per mountpoint: use `samples()` for those)."""
        values: dict[str, float] = {}
        for sample in self.all_samples:
            if sample.metric == metric:
                values.setdefault(sample.instance, sample.value)
        return values


@dataclass(frozen=True, slots=True)
class Control:
    """Any frame other than `metrics` (`subscribed`, `unsubscribed`, `status`, `error`,
    `heartbeat`), for consumers created with `control=True`."""

    type: str
    id: str | None
    frame: Frame = field(repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        """A field of the frame: `status.get("prometheus")`, `error.get("detail")`."""
        return self.frame.get(key, default)


def to_update(frame: Mapping[str, Any], *, stale: bool = False,
              transport: str | None = None) -> MetricsUpdate:
    """A full (non-delta) `metrics` frame as a MetricsUpdate; `stale` forces it stale."""
    if frame.get("query") is not None:
        samples = _query_samples(str(frame["query"]), frame.get("result"))
        names: tuple[str, ...] = ()
        units: dict[str, str] = {}
        titles: dict[str, str] = {}
    else:
        bodies = {str(k): v for k, v in (frame.get("metrics") or {}).items()
                  if isinstance(v, Mapping)}
        samples = tuple(s for name, body in bodies.items() for s in _samples(name, body))
        names = tuple(bodies)
        units = {name: str(body.get("unit") or "") for name, body in bodies.items()}
        titles = {name: str(body.get("title") or name) for name, body in bodies.items()}
    timestamp = frame.get("timestamp")
    return MetricsUpdate(
        id=str(frame.get("id") or DEFAULT_ID),
        timestamp=float(timestamp) if isinstance(timestamp, int | float) else math.nan,
        stale=bool(frame.get("stale")) or stale,
        age=_number(frame.get("age"), 0.0),
        transport=transport,
        metrics=names,
        instances=tuple(sorted({s.instance for s in samples if s.instance})),
        all_samples=samples,
        errors=dict(frame.get("errors") or {}),
        warnings=tuple(str(w) for w in frame.get("warnings") or ()),
        units=units, titles=titles,
        query=frame.get("query"),
        frame=dict(frame),
    )


def to_control(frame: Mapping[str, Any]) -> Control:
    sub_id = frame.get("id")
    return Control(str(frame.get("type")), None if sub_id is None else str(sub_id), dict(frame))


def _samples(metric: str, body: Mapping[str, Any]) -> tuple[Sample, ...]:
    out = []
    for raw in body.get("samples") or ():
        if not isinstance(raw, Mapping):
            continue
        out.append(Sample(metric, str(raw.get("instance", "")),
                          {str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
                          _value(raw.get("value")), _number(raw.get("timestamp"), None)))
    return tuple(out)


def _query_samples(query: str, result: Any) -> tuple[Sample, ...]:
    """Vector results of a raw query (`[{"metric": {...}, "value": [t, "v"]}]`) as Samples;
    other result types stay in `frame`."""
    out = []
    for item in result if isinstance(result, list) else ():
        if not isinstance(item, Mapping) or not isinstance(item.get("value"), list | tuple):
            continue
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        instance = labels.pop("instance", "")
        at, value = [*item["value"], None, None][:2]
        out.append(Sample(query, instance, labels, _value(value), _number(at, None)))
    return tuple(out)


def _value(value: Any) -> float:
    try:
        return sample_value(value)
    except (TypeError, ValueError):
        return math.nan


def _number(value: Any, default: Any) -> Any:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else default
