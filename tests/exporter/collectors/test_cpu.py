"""cpu: /proc/stat per-CPU times in seconds; the psutil fallback agrees with /proc."""

from __future__ import annotations

import pytest

from exporter.collectors.cpu import CpuCollector
from tests.exporter.helpers import collect_text, fixture_config, samples


def test_fixture_times_in_seconds():
    got = samples(collect_text(CpuCollector(fixture_config())))
    assert got[("node_cpu_seconds_total", (("cpu", "0"), ("mode", "user")))] == 444.9
    assert got[("node_cpu_seconds_total", (("cpu", "7"), ("mode", "idle")))] == 11392.82
    assert got[("node_cpu_guest_seconds_total", (("cpu", "3"), ("mode", "nice")))] == 0.04
    cpus = {dict(k[1])["cpu"] for k in got}
    assert cpus == {str(i) for i in range(8)}  # the aggregate "cpu" line is not a CPU


def test_old_kernel_without_guest_columns(tmp_path):
    (tmp_path / "stat").write_text("cpu  1 2 3 4 5 6 7\ncpu0 100 200 300 400 500 600 700\n")
    got = samples(collect_text(CpuCollector(fixture_config(tmp_path))))
    assert got[("node_cpu_seconds_total", (("cpu", "0"), ("mode", "softirq")))] == 7.0
    assert ("node_cpu_seconds_total", (("cpu", "0"), ("mode", "steal"))) not in got
    assert not any(k[0] == "node_cpu_guest_seconds_total" for k in got)


def test_malformed_stat_raises(tmp_path):
    (tmp_path / "stat").write_text("cpu0 1 x 3\n")
    with pytest.raises(ValueError):
        list(CpuCollector(fixture_config(tmp_path)).collect())


def test_missing_stat_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(CpuCollector(fixture_config(tmp_path)).collect())


def test_psutil_backend_matches_proc():
    """On Linux psutil reads the same /proc/stat: same series, values within what passed."""
    procfs = samples(collect_text(CpuCollector(fixture_config("/proc"))))
    via_psutil = samples(collect_text(CpuCollector(fixture_config("/proc"), backend="psutil")))
    assert set(via_psutil) == set(procfs)
    for key, value in procfs.items():
        assert value - 0.01 <= via_psutil[key] <= value + 5, key
