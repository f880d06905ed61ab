"""cpufreq: sysfs cpufreq in Hz per CPU, as node_exporter 1.5."""

from __future__ import annotations

from exporter.collectors.cpufreq import CpufreqCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    # node_cpu_frequency_hertz{core,package} in e2e-output.txt is newer releases' cpu.info
    # (/proc/cpuinfo); node_cpu_scaling_governor is newer than 1.5.
    assert_parity(CpufreqCollector(e2e_config()), ("node_cpu_scaling_frequency",))


def test_cpuinfo_files_and_missing_ones(tmp_path):
    freq = tmp_path / "devices" / "system" / "cpu" / "cpu10" / "cpufreq"
    freq.mkdir(parents=True)
    (freq / "cpuinfo_cur_freq").write_text("1200000\n")
    (freq / "cpuinfo_max_freq").write_text("3000000\n")
    (tmp_path / "devices" / "system" / "cpu" / "cpu2").mkdir()  # no cpufreq: a VM's CPU
    got = samples(collect_text(CpufreqCollector(fixture_config(sysfs=tmp_path))))
    assert got == {("node_cpu_frequency_hertz", (("cpu", "10"),)): 1.2e9,
                   ("node_cpu_frequency_max_hertz", (("cpu", "10"),)): 3e9}


def test_no_cpu_dir_is_no_family(tmp_path):
    assert_absent(tmp_path, "cpufreq", 1)


def test_garbled_frequency_fails_only_cpufreq(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "cpufreq",
                       {"sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq": "fast\n"})
