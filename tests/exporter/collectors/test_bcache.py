"""bcache: /sys/fs/bcache as node_exporter 1.5 reports it, with and without priorityStats."""

from __future__ import annotations

import dataclasses

import pytest

from exporter.collectors.bcache import BcacheCollector, BcacheConfig, dehumanize
from tests.exporter.helpers import collect_text, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter_with_priority_stats():
    # The e2e run passes --collector.bcache.priorityStats.
    config = dataclasses.replace(e2e_config(), bcache=BcacheConfig(priority_stats=True))
    assert_parity(BcacheCollector(config), ("node_bcache_",))


def test_priority_stats_are_off_by_default():
    got = samples(collect_text(BcacheCollector(e2e_config())))
    assert not [k for k in got if k[0].startswith("node_bcache_priority_stats")]
    assert ("node_bcache_written_bytes_total",
            (("cache_device", "cache0"), ("uuid", "deaddd54-c735-46d5-868e-f331c5fd7c74"))) in got


@pytest.mark.parametrize("text,value", [("0", 0), ("1.1M", 1150976), ("427.5k", 437748),
                                        ("20.4G", 21894266880), ("512", 512), ("3Q", 0)])
def test_dehumanize_as_procfs(text, value):
    assert dehumanize(text, "x") == value


def test_no_bcache_reports_nothing(tmp_path):
    assert_absent(tmp_path, "bcache", 1)


def test_garbled_value_fails_only_bcache(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "bcache",
                       {"sys/fs/bcache/0-1/tree_depth": "deep\n"})
