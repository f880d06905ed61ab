"""hwmon: every sensor type from synthetic sysfs trees and node_exporter's fixture."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from exporter.collectors.base import NoDataError
from exporter.collectors.hwmon import HwmonCollector, HwmonConfig, clean_name
from tests.exporter.helpers import collect_text, fixture_config, headers, samples
from tests.exporter.parity import E2E_HEADERS, E2E_SAMPLES, e2e_config


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
    assert got[("node_hwmon_in_volts", (("chip", chip), ("sensor", "in0")))] == 1.2
    assert headers(text)["node_hwmon_temp_celsius"]["TYPE"] == "gauge"


def test_no_hwmon_is_no_data(tmp_path):
    with pytest.raises(NoDataError):
        list(HwmonCollector(fixture_config(sysfs=tmp_path)).collect())


def test_clean_name():
    assert clean_name("platform_applesmc.768") == "platform_applesmc_768"
    # 1.5 keeps colons and replaces each other character on its own.
    assert clean_name("0000:00:18.3") == "0000:00:18_3"
    assert clean_name("_Asus WMI--sensors_\n") == "asus_wmi__sensors"


E2E_NEWER_CHIPS = re.compile(r"^(ieee80211_phy0_|platform_asus_nb_wmi_)")
# Chip names two directories share here; later releases add the `name` file to tell them
# apart, 1.5 does not: it serves the first directory's series and reports the duplicates.
SHARED_CHIPS = {"ieee80211_phy0", "platform_asus_nb_wmi"}


def _chip(labels) -> str:
    return dict(labels).get("chip", "")


# end-to-end-test.sh's --collector.hwmon.chip-include (a later release's flag, accepted here).
E2E_HWMON = HwmonConfig(chip_include="(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)")


def test_fixture_matches_node_exporter():
    """Every e2e hwmon sample, with the e2e run's chip-include, less what 1.5 does not have:
    the freq sensors and the disambiguated chip names of later releases."""
    text = collect_text(HwmonCollector(e2e_config(hwmon=E2E_HWMON)))
    ours = samples(text)
    theirs = {k: v for k, v in E2E_SAMPLES.items() if k[0].startswith("node_hwmon_")
              and not k[0].startswith("node_hwmon_freq")
              and not (k[0] == "node_hwmon_sensor_label" and dict(k[1])["sensor"][:4] == "freq")
              and not E2E_NEWER_CHIPS.match(_chip(k[1]))}
    mine = {k: v for k, v in ours.items() if _chip(k[1]) not in SHARED_CHIPS}
    assert mine == theirs
    assert len(theirs) > 100
    for family, header in headers(text).items():
        assert header == E2E_HEADERS[family], family
    # hwmon10, hwmon8 and hwmon9 are all chip ieee80211_phy0: hwmon10 (listed first) wins.
    assert ours[("node_hwmon_temp_celsius", (("chip", "ieee80211_phy0"),
                                             ("sensor", "temp1")))] == 57
    # Without the include regex (1.5 has none) the chip "bogus" is reported too.
    plain = samples(collect_text(HwmonCollector(e2e_config())))
    assert plain[("node_hwmon_chip_names", (("chip", "bogus"), ("chip_name", "bogus")))] == 1
    assert not any(_chip(labels) == "bogus" for _, labels in ours)


def _write(directory, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        (directory / name).write_text(value + "\n")


def test_units_of_each_sensor_type(tmp_path):
    _write(tmp_path / "class" / "hwmon" / "hwmon0", {
        "name": "acpi", "fan1_input": "1200", "fan1_alarm": "1", "in1_input": "3300",
        "curr1_input": "1500", "power1_input": "12500000", "power1_average_interval": "1000",
        "power1_accuracy": "50000", "energy1_input": "2500000", "humidity1_input": "45500",
        "intrusion0_alarm": "0", "temp1_input": "nope", "update_interval": "2000",
        "beep_enable": "1", "pwm1": "128", "other1_input": "7"})
    got = samples(collect_text(HwmonCollector(fixture_config(sysfs=tmp_path))))
    chip = (("chip", "acpi"),)
    assert got == {
        ("node_hwmon_chip_names", (("chip", "acpi"), ("chip_name", "acpi"))): 1,
        ("node_hwmon_fan_rpm", (*chip, ("sensor", "fan1"))): 1200,
        ("node_hwmon_fan_alarm", (*chip, ("sensor", "fan1"))): 1,
        # millivolts times 0.001, as 1.5 computes it (3.3000000000000003)
        ("node_hwmon_in_volts", (*chip, ("sensor", "in1"))): 3300 * 0.001,
        ("node_hwmon_curr_amps", (*chip, ("sensor", "curr1"))): 1.5,
        ("node_hwmon_power_watt", (*chip, ("sensor", "power1"))): 12.5,
        ("node_hwmon_power_average_interval_seconds", (*chip, ("sensor", "power1"))): 1,
        ("node_hwmon_power_accuracy", (*chip, ("sensor", "power1"))): 0.05,
        ("node_hwmon_energy_joule_total", (*chip, ("sensor", "energy1"))): 2.5,
        ("node_hwmon_humidity", (*chip, ("sensor", "humidity1"))): 0.0455,
        ("node_hwmon_intrusion_alarm", (*chip, ("sensor", "intrusion0"))): 0,
        ("node_hwmon_update_interval_seconds", (*chip, ("sensor", "update_interval0"))): 2,
        ("node_hwmon_beep_enabled", (*chip, ("sensor", "beep_enable0"))): 1,
        ("node_hwmon_pwm", (*chip, ("sensor", "pwm1"))): 128,
    }  # temp1_input is no number and `other` no sensor type: left out, as in 1.5


def test_sensors_are_read_on_every_scrape_and_vanished_chips_vanish(tmp_path):
    chip = tmp_path / "class" / "hwmon" / "hwmon0"
    _write(chip, {"name": "nct6779", "fan2_input": "900"})
    collector = HwmonCollector(fixture_config(sysfs=tmp_path))
    key = ("node_hwmon_fan_rpm", (("chip", "nct6779"), ("sensor", "fan2")))
    assert samples(collect_text(collector))[key] == 900
    _write(chip, {"fan2_input": "950"})
    assert samples(collect_text(collector))[key] == 950
    shutil.rmtree(chip)
    assert collect_text(collector) == ""


def test_unreadable_sensor_is_skipped(tmp_path):
    chip = tmp_path / "class" / "hwmon" / "hwmon0"
    _write(chip, {"name": "k10temp", "temp1_input": "40000"})
    (chip / "temp2_input").mkdir()  # EISDIR on read, as for a broken driver's EIO
    got = samples(collect_text(HwmonCollector(fixture_config(sysfs=tmp_path))))
    assert got[("node_hwmon_temp_celsius", (("chip", "k10temp"), ("sensor", "temp1")))] == 40
    assert not any(dict(labels).get("sensor") == "temp2" for _, labels in got)


def test_chip_and_sensor_filters(tmp_path):
    _write(tmp_path / "class" / "hwmon" / "hwmon0", {"name": "nct6779", "fan1_input": "900",
                                                     "fan2_input": "950"})
    _write(tmp_path / "class" / "hwmon" / "hwmon1", {"name": "acpi", "temp1_input": "40000"})
    config = fixture_config(sysfs=tmp_path, hwmon=HwmonConfig(chip_exclude="^acpi$",
                                                              sensor_exclude=";fan2$"))
    got = samples(collect_text(HwmonCollector(config)))
    assert {dict(labels).get("sensor") for name, labels in got} == {"fan1", None}
    assert {dict(labels)["chip"] for _, labels in got} == {"nct6779"}
