"""cpu: /proc/stat per-CPU times in seconds; the psutil fallback agrees with /proc."""

from __future__ import annotations

import logging
import shutil

import pytest

from exporter.collectors import COLLECTORS
from exporter.collectors.cpu import CpuCollector, CpuConfig
from exporter.registry import Registry
from tests.exporter.helpers import FIXTURES, collect_text, fixture_config, samples
from tests.exporter.parity import assert_parity, e2e_config


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


E2E_CPU = CpuConfig(info=True, info_bugs_include="^(cpu_meltdown|spectre_.*|mds)$",
                    info_flags_include="^(aes|avx.?|constant_tsc)$")  # end-to-end-test.sh's


def test_info_throttles_and_isolated_match_node_exporter():
    """--collector.cpu.info with the e2e run's flags-include/bugs-include: every e2e sample of
    the families below (node_cpu_vulnerabilities_info is a later release's collector)."""
    got = assert_parity(CpuCollector(e2e_config(cpu=E2E_CPU)),
                        ("node_cpu_info", "node_cpu_flag_info", "node_cpu_bug_info",
                         "node_cpu_core_throttles", "node_cpu_package_throttles",
                         "node_cpu_isolated", "node_cpu_seconds", "node_cpu_guest"))
    # Package 1's cores are counted once per core though two CPUs share each.
    assert got[("node_cpu_core_throttles_total", (("core", "1"), ("package", "1")))] == 9


def test_info_is_off_by_default_and_an_include_regex_turns_it_on():
    plain = samples(collect_text(CpuCollector(e2e_config())))
    assert not any(name.startswith("node_cpu_info") for name, _ in plain)
    flags = samples(collect_text(CpuCollector(e2e_config(cpu=CpuConfig(
        info_flags_include="^avx2$")))))
    assert flags[("node_cpu_flag_info", (("flag", "avx2"),))] == 1
    assert sum(name == "node_cpu_info" for name, _ in flags) == 8
    assert not any(name == "node_cpu_bug_info" for name, _ in flags)


def test_no_guest_flag_leaves_guest_seconds_out():
    got = samples(collect_text(CpuCollector(fixture_config(cpu=CpuConfig(guest=False)))))
    assert not any(name == "node_cpu_guest_seconds_total" for name, _ in got)
    assert ("node_cpu_seconds_total", (("cpu", "0"), ("mode", "user"))) in got


def test_throttle_counts_are_read_on_every_scrape(tmp_path):
    cpu = tmp_path / "devices" / "system" / "cpu" / "cpu0"
    for rel, value in {"topology/physical_package_id": "0", "topology/core_id": "2",
                       "thermal_throttle/core_throttle_count": "4",
                       "thermal_throttle/package_throttle_count": "7"}.items():
        (cpu / rel).parent.mkdir(parents=True, exist_ok=True)
        (cpu / rel).write_text(value + "\n")
    collector = CpuCollector(fixture_config(sysfs=tmp_path))
    key = ("node_cpu_core_throttles_total", (("core", "2"), ("package", "0")))
    assert samples(collect_text(collector))[key] == 4
    (cpu / "thermal_throttle/core_throttle_count").write_text("5\n")
    got = samples(collect_text(collector))
    assert got[key] == 5
    assert got[("node_cpu_package_throttles_total", (("package", "0"),))] == 7


@pytest.mark.parametrize("cpuinfo", ["processor\t: 0\ncpu MHz\t\t: fast\n",
                                     "vendor_id\t: GenuineIntel\n"])
def test_garbled_cpuinfo_fails_only_cpu(tmp_path, caplog, cpuinfo):
    for name in ("stat", "loadavg"):
        shutil.copy(FIXTURES / "proc" / name, tmp_path / name)
    (tmp_path / "cpuinfo").write_text(cpuinfo)
    config = fixture_config(tmp_path, cpu=CpuConfig(info=True))
    registry = Registry(config, {n: COLLECTORS[n](config) for n in ("cpu", "loadavg")})
    with caplog.at_level(logging.ERROR, logger="exporter"):
        got = samples(registry.render())
        samples(registry.render())
    assert got[("node_scrape_collector_success", (("collector", "cpu"),))] == 0
    assert got[("node_scrape_collector_success", (("collector", "loadavg"),))] == 1
    assert sum("collector cpu failed" in r.getMessage() for r in caplog.records) == 1
