"""hwmon: temperatures from a synthetic sysfs, chip names from the device path."""

from __future__ import annotations

import os

import pytest

from exporter.collectors.base import NoDataError
from exporter.collectors.hwmon import HwmonCollector, clean_name
from tests.exporter.helpers import collect_text, fixture_config, headers, samples


@pytest.fixture
def sysfs(tmp_path):
    device = tmp_path / "devices" / "platform" / "coretemp.0"
    device.mkdir(parents=True)
    hwmon = tmp_path / "class" / "hwmon" / "hwmon0"
    hwmon.mkdir(parents=True)
    os.symlink(device, hwmon / "device")
    for name, value in {"name": "coretemp", "temp1_input": "45000", "temp1_label": "Core 0",
                        "temp1_max": "80000", "temp1_crit": "100000", "temp1_crit_alarm": "0",
                        "temp2_input": "47500", "in0_input": "1200"}.items():
        (hwmon / name).write_text(value + "\n")
    nameless = tmp_path / "class" / "hwmon" / "hwmon1"
    nameless.mkdir()
    (nameless / "temp1_input").write_text("30000\n")
    return tmp_path


def test_temperatures(sysfs):
    text = collect_text(HwmonCollector(fixture_config(sysfs=sysfs)))
    got = samples(text)
    chip = "platform_coretemp_0"
    assert got[("node_hwmon_temp_celsius", (("chip", chip), ("sensor", "temp1")))] == 45.0
    assert got[("node_hwmon_temp_celsius", (("chip", chip), ("sensor", "temp2")))] == 47.5
    assert got[("node_hwmon_temp_max_celsius", (("chip", chip), ("sensor", "temp1")))] == 80.0
    assert got[("node_hwmon_temp_crit_celsius", (("chip", chip), ("sensor", "temp1")))] == 100
    assert got[("node_hwmon_chip_names", (("chip", chip), ("chip_name", "coretemp")))] == 1
    assert got[("node_hwmon_sensor_label",
                (("chip", chip), ("label", "Core 0"), ("sensor", "temp1")))] == 1
    assert got[("node_hwmon_temp_celsius", (("chip", "hwmon1"), ("sensor", "temp1")))] == 30
    assert not any("in0" in str(k) for k in got)  # only temperatures
    assert headers(text)["node_hwmon_temp_celsius"]["TYPE"] == "gauge"


def test_no_hwmon_is_no_data(tmp_path):
    with pytest.raises(NoDataError):
        list(HwmonCollector(fixture_config(sysfs=tmp_path)).collect())


def test_clean_name():
    assert clean_name("platform_applesmc.768") == "platform_applesmc_768"
    assert clean_name("0000:00:18.3") == "0000_00_18_3"
