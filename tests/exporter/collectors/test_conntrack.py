"""conntrack: sums over CPUs, families left out without the module, malformed files."""

from __future__ import annotations

import pytest

from exporter.collectors.base import NoDataError
from exporter.collectors.conntrack import ConntrackCollector
from exporter.registry import Registry
from tests.exporter.helpers import fixture_config, samples

HEADER = ("entries  clashres found new invalid ignore delete chainlength insert insert_failed "
          "drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n")
CPU0 = "00000000  00000000 00000001 0 00000002 00000003 0 0 00000004 5 6 7 0  0 0 0 00000008\n"
CPU1 = "00000000  00000000 00000010 0 00000020 00000030 0 0 00000040 5 6 7 0  0 0 0 00000080\n"


def tree(tmp_path, count="12\n", limit="262144\n", stat=HEADER + CPU0 + CPU1):
    netfilter = tmp_path / "sys" / "net" / "netfilter"
    netfilter.mkdir(parents=True)
    (tmp_path / "net" / "stat").mkdir(parents=True)
    for path, text in ((netfilter / "nf_conntrack_count", count),
                       (netfilter / "nf_conntrack_max", limit),
                       (tmp_path / "net" / "stat" / "nf_conntrack", stat)):
        if text is not None:
            path.write_text(text)
    return fixture_config(tmp_path)


def scrape(config) -> dict[str, float]:
    registry = Registry(config, {"conntrack": ConntrackCollector(config)})
    return {name + (str(dict(labels)) if labels else ""): value
            for (name, labels), value in samples(registry.render()).items()
            if name.startswith(("node_nf_", "node_scrape_collector_success"))}


def test_statistics_are_summed_over_cpus(tmp_path):
    assert scrape(tree(tmp_path)) == {
        "node_nf_conntrack_entries": 12, "node_nf_conntrack_entries_limit": 262144,
        "node_nf_conntrack_stat_found": 0x11, "node_nf_conntrack_stat_invalid": 0x22,
        "node_nf_conntrack_stat_ignore": 0x33, "node_nf_conntrack_stat_insert": 0x44,
        "node_nf_conntrack_stat_insert_failed": 10, "node_nf_conntrack_stat_drop": 12,
        "node_nf_conntrack_stat_early_drop": 14, "node_nf_conntrack_stat_search_restart": 0x88,
        "node_scrape_collector_success{'collector': 'conntrack'}": 1}


def test_without_the_module_nothing_is_reported_and_success_is_0(tmp_path):
    assert scrape(fixture_config(tmp_path)) == {
        "node_scrape_collector_success{'collector': 'conntrack'}": 0}
    with pytest.raises(NoDataError):
        list(ConntrackCollector(fixture_config(tmp_path)).collect())


def test_without_statistics_entries_and_limit_are_kept(tmp_path):
    # As node_exporter 1.5: what was read before the missing file is reported, success 0.
    assert scrape(tree(tmp_path, stat=None)) == {
        "node_nf_conntrack_entries": 12, "node_nf_conntrack_entries_limit": 262144,
        "node_scrape_collector_success{'collector': 'conntrack'}": 0}


@pytest.mark.parametrize("files,match", [
    ({"count": "12x\n"}, "integer"),
    ({"limit": "-1\n"}, "unsigned"),
    ({"stat": HEADER + CPU0[:-10] + "\n"}, "17 hex fields"),
    ({"stat": HEADER + CPU0.replace("00000004", "0000000z")}, "17 hex fields"),
])
def test_malformed_files_fail(tmp_path, files, match):
    with pytest.raises(ValueError, match=match):
        list(ConntrackCollector(tree(tmp_path, **files)).collect())
