"""The one JSON encoder: compact, with Prometheus' spellings of NaN and the infinities."""

from __future__ import annotations

from bridge.jsonenc import dumps, finite


def test_dumps_writes_prometheus_special_floats_as_strings() -> None:
    assert dumps({"v": [float("nan"), float("inf"), -float("inf"), 1.5]}) == \
        '{"v":["NaN","+Inf","-Inf",1.5]}'


def test_finite_reaches_every_depth_for_msgpack_too() -> None:
    assert finite({"a": [1.0, {"b": (float("-inf"),)}]}) == {"a": [1.0, {"b": ["-Inf"]}]}
