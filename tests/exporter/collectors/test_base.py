"""base: the remembered regex match the device and mount filters share."""

from __future__ import annotations

from exporter.collectors.base import Matcher


def test_matcher_answers_like_search_and_stays_bounded():
    match = Matcher(r"^(lo|veth.+)$", limit=3)
    assert [match(n) for n in ("lo", "eth0", "veth1", "lo0", "lo")] == \
        [True, False, True, False, True]
    for i in range(10):
        assert match(f"veth{i}")
        assert len(match._seen) <= 3
