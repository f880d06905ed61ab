"""The generic loader: types from hints, a field's own check, an entry's own problem; every
error names the dotted key."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bridge.coercion import ConfigError, build, checked


@dataclass(frozen=True)
class Part:
    size: int = checked(1, check=lambda v: None if v < 10 else f"too big: {v}")
    label: str = ""

    def problem(self) -> str | None:
        return "a labelled part needs a size above 1" if self.label and self.size < 2 else None


@dataclass(frozen=True)
class Whole:
    parts: tuple[Part, ...] = ()
    ratio: float | None = None


def test_values_take_the_type_of_their_hints() -> None:
    whole = build(Whole, {"parts": [{"size": "3", "label": 7}], "ratio": "0.5"}, "env")
    assert whole == Whole((Part(3, "7"),), 0.5)


@pytest.mark.parametrize(("data", "key", "words"), [
    ({"parts": [{"size": 10}]}, "parts[0].size", "too big: 10"),
    ({"parts": [{}, {"label": "x"}]}, "parts[1]", "needs a size above 1"),
    ({"parts": [{"size": "ten"}]}, "parts[0].size", "expected int"),
    ({"ratio": [1]}, "ratio", "expected float"),
])
def test_each_rule_names_its_key(data, key, words) -> None:
    with pytest.raises(ConfigError) as info:
        build(Whole, data, "file.yml")
    assert info.value.source == "file.yml" and info.value.key == key
    assert words in info.value.problem
