"""zoneinfo: node_exporter 1.5's families on its fixture, per-node stats, protection, errors."""

from __future__ import annotations

import pytest

from exporter.collectors.zoneinfo import ZoneinfoCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import (
    assert_absent,
    assert_fails_alone,
    assert_off_by_default,
    assert_parity,
    e2e_config,
)

ZONES = """Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 230
      nr_dirtied   7
  pages free     3952
        min      33
        spanned  4095
        unknown_field 9
        protection: (0, 2877, 7826)
Node 0, zone    DMA32
  pages free     8
        min      5
        protection: (0, 1, x)
"""


def series(tmp_path, text: str) -> dict:
    (tmp_path / "zoneinfo").write_text(text)
    got = samples(collect_text(ZoneinfoCollector(fixture_config(tmp_path))))
    return {(name, dict(labels)["zone"]): v for (name, labels), v in got.items()}


def test_fixture_matches_node_exporter():
    assert_parity(ZoneinfoCollector(e2e_config()), ("node_zoneinfo_",))


def test_off_by_default():
    assert_off_by_default("zoneinfo")


def test_known_fields_per_zone_block(tmp_path):
    # per-node stats go to the zone they are printed in; "pages free" is not nr_free_pages;
    # a protection array that does not parse is left out, as in procfs.
    assert series(tmp_path, ZONES) == {
        ("node_zoneinfo_nr_inactive_anon_pages", "DMA"): 230,
        ("node_zoneinfo_nr_dirtied_total", "DMA"): 7,
        ("node_zoneinfo_min_pages", "DMA"): 33,
        ("node_zoneinfo_spanned_pages", "DMA"): 4095,
        ("node_zoneinfo_protection_0", "DMA"): 0,
        ("node_zoneinfo_protection_1", "DMA"): 2877,
        ("node_zoneinfo_protection_2", "DMA"): 7826,
        ("node_zoneinfo_min_pages", "DMA32"): 5}


@pytest.mark.parametrize("line", ["        min      3x3", "        numa_hit -", "  nr_dirtied 1e3"])
def test_a_known_field_that_is_no_integer_fails(tmp_path, line):
    (tmp_path / "zoneinfo").write_text(f"Node 0, zone DMA\n{line}\n")
    with pytest.raises(ValueError, match="expected an integer"):
        list(ZoneinfoCollector(fixture_config(tmp_path)).collect())


def test_garbled_file_fails_only_zoneinfo(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "zoneinfo",
                       {"proc/zoneinfo": "Node 0, zone DMA\n  managed 12.5\n"})


def test_no_file_is_no_data(tmp_path):
    assert_absent(tmp_path, "zoneinfo", 0)
