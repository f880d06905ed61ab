"""Prometheus API answers as data: parsed results, and splitting/stitching of range queries.

Pure functions (no I/O), used by `bridge.upstream.prometheus`; garbage raises `UpstreamInvalid`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import UpstreamInvalid


@dataclass(frozen=True)
class Series:
    """One series of a result: its labels and its (timestamp, value) points.

    An instant vector element has one point; values are floats, NaN and +-Inf included.
    """

    labels: dict[str, str]
    points: list[tuple[float, float]]

    @property
    def timestamp(self) -> float:
        return self.points[-1][0]

    @property
    def value(self) -> float:
        return self.points[-1][1]


@dataclass
class QueryResult:
    """A parsed successful answer.

    `data` is Prometheus' `data` object verbatim (what raw pass-through re-serves); `series` is
    the same result parsed (vector/matrix elements; a scalar is one label-less series; a string
    result has none). `warnings` and `infos` are passed through to the caller.
    """

    result_type: str
    data: dict[str, Any]
    series: list[Series]
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)


def parse_value(raw: Any) -> float:
    """A Prometheus sample value ("1.5", "NaN", "+Inf", "-Inf") as a float."""
    if not isinstance(raw, str):
        raise UpstreamInvalid(f"sample value is not a string: {raw!r}")
    try:
        return float(raw)
    except ValueError:
        raise UpstreamInvalid(f"sample value is not a number: {raw!r}") from None


def _point(raw: Any) -> tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2 or not isinstance(raw[0], int | float):
        raise UpstreamInvalid(f"malformed sample {raw!r}")
    return float(raw[0]), parse_value(raw[1])


def _labels(item: Any) -> dict[str, str]:
    if not isinstance(item, dict) or not isinstance(item.get("metric", {}), dict):
        raise UpstreamInvalid(f"malformed series {item!r:.200}")
    return item.get("metric", {})


def parse_data(data: Any) -> tuple[str, list[Series]]:
    """Validate and parse a `data` object; garbage raises UpstreamInvalid."""
    if not isinstance(data, dict) or "resultType" not in data or "result" not in data:
        raise UpstreamInvalid("answer has no data.resultType/data.result")
    kind, result = data["resultType"], data["result"]
    if kind in ("vector", "matrix"):
        if not isinstance(result, list):
            raise UpstreamInvalid(f"{kind} result is not a list")
        series = []
        for item in result:
            labels = _labels(item)
            if kind == "vector":
                # Native-histogram samples carry "histogram" instead of "value": no float point.
                points = [_point(item["value"])] if "value" in item else []
            else:
                raw_points = item.get("values", [])
                if not isinstance(raw_points, list):
                    raise UpstreamInvalid("matrix values is not a list")
                points = [_point(p) for p in raw_points]
            series.append(Series(labels, points))
        return kind, series
    if kind == "scalar":
        return kind, [Series({}, [_point(result)])]
    if kind == "string":
        return kind, []
    raise UpstreamInvalid(f"unknown resultType {kind!r}")


def split_range(start: float, end: float, step: float, max_points: int
                ) -> list[tuple[float, float]]:
    """Consecutive [start, end] chunks on the step grid of the whole range, each at most
    `max_points` points, so their stitched results equal one unlimited query."""
    if step <= 0:
        raise ValueError("step must be > 0")
    total = math.floor((end - start) / step + 1e-9) + 1
    chunks = []
    first = 0
    while first < total:
        last = min(total, first + max_points) - 1
        chunks.append((start + first * step, min(end, start + last * step)))
        first = last + 1
    return chunks


def stitch(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Merge matrix `data` objects from consecutive chunks: one series per label set, points in
    time order, a timestamp present in two chunks kept once."""
    merged: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for data in parts:
        for item in data.get("result", []):
            key = tuple(sorted(item.get("metric", {}).items()))
            into = merged.setdefault(key, {"metric": item.get("metric", {}), "values": []})
            values = into["values"]
            for point in item.get("values", []):
                if not values or point[0] > values[-1][0]:
                    values.append(point)
    return {"resultType": "matrix", "result": list(merged.values())}
