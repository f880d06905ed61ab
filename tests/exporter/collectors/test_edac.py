"""edac: EDAC memory error counters, as node_exporter 1.5."""

from __future__ import annotations

from exporter.collectors.edac import EdacCollector
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    # Per-channel counters came after 1.5: 1.5 wins.
    newer = ("node_edac_channel_correctable_errors_total",
             "node_edac_channel_uncorrectable_errors_total")
    assert_parity(EdacCollector(e2e_config()), ("node_edac_",), not_in_1_5=newer)


def test_no_edac_reports_nothing(tmp_path):
    assert_absent(tmp_path, "edac", 1)


def test_missing_counter_fails_only_edac(tmp_path, caplog):
    mc = "sys/devices/system/edac/mc/mc0/"
    assert_fails_alone(tmp_path, caplog, "edac", {mc + "ce_count": "1\n",
                                                  mc + "ce_noinfo_count": "x\n"})
