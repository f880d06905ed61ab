"""meminfo: every /proc/meminfo field, node_exporter's names and units."""

from __future__ import annotations

import pytest

from exporter.collectors.meminfo import MeminfoCollector
from tests.exporter.helpers import collect_text, fixture_config, headers, samples


def test_names_and_units():
    text = collect_text(MeminfoCollector(fixture_config()))
    got = samples(text)
    assert got[("node_memory_MemTotal_bytes", ())] == 3742148 * 1024
    assert got[("node_memory_Active_anon_bytes", ())] == 2020004 * 1024
    assert got[("node_memory_HugePages_Total", ())] == 0  # no unit, no _bytes
    assert headers(text)["node_memory_MemTotal_bytes"] == {
        "HELP": "Memory information field MemTotal_bytes.", "TYPE": "gauge"}


def test_every_line_becomes_a_family(tmp_path):
    (tmp_path / "meminfo").write_text("MemTotal: 10 kB\n\nNewField(x): 3 kB\nCount: 7\n")
    got = samples(collect_text(MeminfoCollector(fixture_config(tmp_path))))
    assert got == {("node_memory_MemTotal_bytes", ()): 10240,
                   ("node_memory_NewField_x_bytes", ()): 3072,
                   ("node_memory_Count", ()): 7}


@pytest.mark.parametrize("line", ["MemTotal 10 kB", "MemTotal: ten kB", "MemTotal: 1 kB x"])
def test_malformed_line_raises(tmp_path, line):
    (tmp_path / "meminfo").write_text(line + "\n")
    with pytest.raises(ValueError):
        list(MeminfoCollector(fixture_config(tmp_path)).collect())


def test_psutil_backend_memtotal_matches_proc():
    procfs = samples(collect_text(MeminfoCollector(fixture_config("/proc"))))
    via_psutil = samples(collect_text(MeminfoCollector(fixture_config("/proc"),
                                                       backend="psutil")))
    key = ("node_memory_MemTotal_bytes", ())
    assert via_psutil[key] == procfs[key]
    assert set(via_psutil) <= set(procfs)  # same names, a subset of the fields


def test_psutil_backend_reads_the_configured_procfs():
    """psutil follows the collector's procfs (psutil.PROCFS_PATH): the fixture's MemTotal."""
    import psutil

    saved = psutil.PROCFS_PATH
    try:
        got = samples(collect_text(MeminfoCollector(fixture_config(), backend="psutil")))
    finally:
        psutil.PROCFS_PATH = saved
    assert got[("node_memory_MemTotal_bytes", ())] == 3742148 * 1024
