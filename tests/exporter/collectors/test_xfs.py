"""xfs: /sys/fs/xfs/*/stats/stats as node_exporter 1.5's xfs families."""

from __future__ import annotations

from exporter.collectors.xfs import XfsCollector
from tests.exporter.helpers import FIXTURES, collect_text, fixture_config, samples
from tests.exporter.parity import assert_fails_alone, assert_parity, e2e_config

STATS = FIXTURES / "sys/fs/xfs/sda1/stats/stats"


def test_fixture_matches_node_exporter():
    got = assert_parity(XfsCollector(e2e_config()), ("node_xfs_",))
    # procfs reads the kernel's `rw 28 0` as write calls, then read calls.
    assert got[("node_xfs_write_calls_total", (("device", "sda1"),))] == 28
    assert got[("node_xfs_read_calls_total", (("device", "sda1"),))] == 0


def test_filesystems_come_and_go(tmp_path):
    stats = tmp_path / "fs" / "xfs" / "dm-0" / "stats"
    stats.mkdir(parents=True)
    (stats / "stats").write_text(STATS.read_text())
    collector = XfsCollector(fixture_config(sysfs=tmp_path))
    assert ("node_xfs_vnode_get_total", (("device", "dm-0"),)) in samples(collect_text(collector))
    (stats / "stats").unlink()
    assert collect_text(collector) == ""


def test_missing_category_leaves_its_series_out(tmp_path):
    stats = tmp_path / "fs" / "xfs" / "sdb" / "stats"
    stats.mkdir(parents=True)
    (stats / "stats").write_text("rw 5 6\n")
    got = samples(collect_text(XfsCollector(fixture_config(sysfs=tmp_path))))
    assert got == {("node_xfs_read_calls_total", (("device", "sdb"),)): 6,
                   ("node_xfs_write_calls_total", (("device", "sdb"),)): 5}


def test_garbled_stats_fail_only_xfs(tmp_path, caplog):
    garbled = STATS.read_text().replace("blk_map 61 29 1 1 1 91 0", "blk_map 61 29 1")
    assert_fails_alone(tmp_path, caplog, "xfs", {"sys/fs/xfs/sda1/stats/stats": garbled})


def test_negative_counter_fails_only_xfs(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "xfs", {"sys/fs/xfs/sda1/stats/stats": "rw -1 0\n"})
