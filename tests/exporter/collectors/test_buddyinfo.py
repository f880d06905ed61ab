"""buddyinfo: node_exporter 1.5's family on its fixture, procfs' parse checks, no file."""

from __future__ import annotations

import pytest

from exporter.collectors.buddyinfo import BuddyinfoCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import (
    assert_absent,
    assert_fails_alone,
    assert_off_by_default,
    assert_parity,
    e2e_config,
)


def collector(tmp_path, text: str) -> BuddyinfoCollector:
    (tmp_path / "buddyinfo").write_text(text)
    return BuddyinfoCollector(fixture_config(tmp_path))


def test_fixture_matches_node_exporter():
    assert_parity(BuddyinfoCollector(e2e_config()), ("node_buddyinfo_",))


def test_off_by_default():
    assert_off_by_default("buddyinfo")


def test_one_series_per_zone_and_order(tmp_path):
    text = "Node 0, zone      DMA      1      0      2\nNode 1, zone   Normal   7 8 9\n"
    got = samples(collect_text(collector(tmp_path, text)))
    assert got == {("node_buddyinfo_blocks", (("node", n), ("size", s), ("zone", z))): v
                   for n, z, s, v in [("0", "DMA", "0", 1), ("0", "DMA", "1", 0),
                                      ("0", "DMA", "2", 2), ("1", "Normal", "0", 7),
                                      ("1", "Normal", "1", 8), ("1", "Normal", "2", 9)]}


@pytest.mark.parametrize("text,match", [
    ("Node 0, zone DMA 1 2\nNode 0, zone Normal 1 2 3\n", "orders"),
    ("Node 0, zone DMA 1 x2\n", "invalid value"),
    ("Node 0,\n", "fields"),
])
def test_malformed_lines_fail(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        list(collector(tmp_path, text).collect())


def test_empty_file_is_no_family(tmp_path):
    assert collect_text(collector(tmp_path, "")) == ""


def test_garbled_file_fails_only_buddyinfo(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "buddyinfo",
                       {"proc/buddyinfo": "Node 0, zone DMA 1 2\nNode 0, zone DMA32 1\n"})


def test_no_file_is_no_data(tmp_path):
    assert_absent(tmp_path, "buddyinfo", 0)
