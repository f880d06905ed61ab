"""nvme: /sys/class/nvme controllers, as node_exporter 1.5."""

from __future__ import annotations

from exporter.collectors.nvme import NvmeCollector
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config

# Namespace families and the info's cntlid label came after 1.5: 1.5 wins.
NEWER = ("node_nvme_namespace_capacity_bytes", "node_nvme_namespace_info",
         "node_nvme_namespace_logical_block_size_bytes", "node_nvme_namespace_size_bytes",
         "node_nvme_namespace_used_bytes")


def test_fixture_matches_node_exporter():
    assert_parity(NvmeCollector(e2e_config()), ("node_nvme_",), not_in_1_5=NEWER,
                  newer_labels={"node_nvme_info": ["cntlid"]})


def test_no_nvme_is_no_data(tmp_path):
    assert_absent(tmp_path, "nvme", 0)


def test_unreadable_attribute_fails_only_nvme(tmp_path, caplog):
    # A directory where an attribute should be: the read fails with EISDIR.
    assert_fails_alone(tmp_path, caplog, "nvme",
                       {"sys/class/nvme/nvme0/firmware_rev/x": "",
                        "sys/class/nvme/nvme0/model": "m",
                        "sys/class/nvme/nvme0/serial": "s", "sys/class/nvme/nvme0/state": "live"})
