"""thermal_zone: /sys/class/thermal zones and cooling devices, as node_exporter 1.5."""

from __future__ import annotations

from exporter.collectors.thermal_zone import ThermalZoneCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(ThermalZoneCollector(e2e_config()),
                  ("node_thermal_zone_", "node_cooling_device_"))


def test_negative_cur_state_and_zone_numbers(tmp_path):
    base = tmp_path / "class" / "thermal"
    for name, files in {"thermal_zone12": {"type": "acpitz", "temp": "-5000"},
                        "cooling_device3": {"type": "intel_powerclamp", "cur_state": "-1",
                                            "max_state": "50"}}.items():
        (base / name).mkdir(parents=True)
        for file, text in files.items():
            (base / name / file).write_text(text + "\n")
    got = samples(collect_text(ThermalZoneCollector(fixture_config(sysfs=tmp_path))))
    assert got == {
        ("node_thermal_zone_temp", (("type", "acpitz"), ("zone", "12"))): -5.0,
        ("node_cooling_device_cur_state", (("name", "3"), ("type", "intel_powerclamp"))): -1,
        ("node_cooling_device_max_state", (("name", "3"), ("type", "intel_powerclamp"))): 50}


def test_no_thermal_class_reports_nothing(tmp_path):
    assert_absent(tmp_path, "thermal_zone", 1)


def test_garbled_temperature_fails_only_thermal_zone(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "thermal_zone",
                       {"sys/class/thermal/thermal_zone0/type": "x86_pkg_temp\n",
                        "sys/class/thermal/thermal_zone0/temp": "hot\n"})
