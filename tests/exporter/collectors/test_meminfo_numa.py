"""meminfo_numa: node_exporter 1.5's families on its fixture, parse errors, no NUMA."""

from __future__ import annotations

import pytest

from exporter.collectors.meminfo_numa import MeminfoNumaCollector
from tests.exporter.helpers import collect_text, fixture_config, headers, samples
from tests.exporter.parity import (
    assert_absent,
    assert_fails_alone,
    assert_off_by_default,
    assert_parity,
    e2e_config,
)


def make(tmp_path, meminfo: str, numastat: str = "numa_hit 5\n") -> MeminfoNumaCollector:
    node = tmp_path / "devices" / "system" / "node" / "node3"
    node.mkdir(parents=True)
    (node / "meminfo").write_text(meminfo)
    (node / "numastat").write_text(numastat)
    (node / "cpu0").mkdir()
    return MeminfoNumaCollector(fixture_config(sysfs=tmp_path))


def test_fixture_matches_node_exporter():
    assert_parity(MeminfoNumaCollector(e2e_config()), ("node_memory_numa_",))


def test_off_by_default():
    assert_off_by_default("meminfo_numa")


def test_kilobytes_become_bytes_and_numastat_counters(tmp_path):
    c = make(tmp_path, "Node 3 MemTotal:  4 kB\nNode 3 Active(anon): 2 kB\n"
                       "Node 3 HugePages_Total: 7\n\n", "numa_hit 5\nlocal_node 6\n")
    text = collect_text(c)
    assert samples(text) == {
        ("node_memory_numa_MemTotal", (("node", "3"),)): 4096,
        ("node_memory_numa_Active_anon", (("node", "3"),)): 2048,
        ("node_memory_numa_HugePages_Total", (("node", "3"),)): 7,
        ("node_memory_numa_numa_hit_total", (("node", "3"),)): 5,
        ("node_memory_numa_local_node_total", (("node", "3"),)): 6}
    assert headers(text)["node_memory_numa_numa_hit_total"] == {
        "HELP": "Memory information field numa_hit_total.", "TYPE": "counter"}


@pytest.mark.parametrize("meminfo,numastat,match", [
    ("Node 3 MemTotal: 4 MB\n", "numa_hit 5\n", "invalid line"),
    ("Node 3 MemTotal: four kB\n", "numa_hit 5\n", "invalid value"),
    ("Node 3 MemTotal:\n", "numa_hit 5\n", "invalid line"),
    ("Node 3 MemTotal: 4 kB\n", "numa_hit 5 6\n", "2 fields"),
    ("Node 3 MemTotal: 4 kB\n", "numa_hit x\n", "invalid value"),
])
def test_malformed_lines_fail(tmp_path, meminfo, numastat, match):
    with pytest.raises(ValueError, match=match):
        list(make(tmp_path, meminfo, numastat).collect())


def test_a_node_without_numastat_fails_only_meminfo_numa(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "meminfo_numa",
                       {"sys/devices/system/node/node0/meminfo": "Node 0 MemFree: 1 kB\n"})


def test_no_numa_directory_is_nothing_but_success(tmp_path):
    assert_absent(tmp_path, "meminfo_numa", 1)
