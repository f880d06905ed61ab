"""The field checks: the quick acceptance of a well-formed label set agrees with the walk that
names what is wrong, and errors name the field by its path."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.alerts import fields
from bridge.errors import BadRequest

_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Text with lone surrogates (as JSON's "\ud800" escapes decode), label names and near misses.
_TEXT = st.one_of(st.text(max_size=6), st.from_regex(_NAME, fullmatch=True),
                  st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010),
                          max_size=3))
_VALUE = st.one_of(_TEXT, st.integers(), st.none(), st.booleans(), st.lists(st.text(), max_size=1))


def _valid(value: dict[Any, Any], names: bool) -> bool:
    """The rule, written plainly: strings without lone surrogates, names matching."""
    def clean(text: Any) -> bool:
        return isinstance(text, str) and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    return all(clean(k) and clean(v) and (not names or _NAME.fullmatch(k))
               for k, v in value.items())


@given(st.dictionaries(_TEXT, _VALUE, max_size=4), st.booleans())
def test_labels_accepts_exactly_the_well_formed(value: dict[str, Any], names: bool) -> None:
    if _valid(value, names):
        assert fields.labels(value, "alerts[0]", "labels", names=names) is value
    else:
        with pytest.raises(BadRequest, match=r"^alerts\[0\]\.labels"):
            fields.labels(value, "alerts[0]", "labels", names=names)


@pytest.mark.parametrize(("value", "detail"), [
    ({"a": 1}, "alerts[2].labels.a: expected a string, got int"),
    ({"a": "\ud800"}, "alerts[2].labels.a: '\\ud800' holds a lone surrogate (not valid Unicode)"),
    ({"1a": "x"}, "alerts[2].labels: invalid label name '1a'"),
    ([], "alerts[2].labels: expected an object of strings, got list"),
])
def test_labels_names_the_offending_field(value: Any, detail: str) -> None:
    with pytest.raises(BadRequest) as exc:
        fields.labels(value, "alerts[2]", "labels")
    assert exc.value.detail == detail


def test_paths_at_the_top_have_no_dot() -> None:
    with pytest.raises(BadRequest) as exc:
        fields.require({}, "", "version")
    assert exc.value.detail == "version: missing"
    assert fields.path("[3]", "startsAt") == "[3].startsAt"
