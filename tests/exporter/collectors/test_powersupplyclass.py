"""powersupplyclass: /sys/class/power_supply as node_exporter 1.5 reports it."""

from __future__ import annotations

import dataclasses

from exporter.collectors.powersupplyclass import (
    PowersupplyclassCollector,
    PowersupplyclassConfig,
)
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(PowersupplyclassCollector(e2e_config()), ("node_power_supply_",))


def test_ignored_supplies():
    config = dataclasses.replace(
        e2e_config(), powersupplyclass=PowersupplyclassConfig(ignored_supplies="^BAT"))
    got = samples(collect_text(PowersupplyclassCollector(config)))
    assert {dict(k[1])["power_supply"] for k in got} == {"AC"}


def test_units_and_empty_text(tmp_path):
    bat = tmp_path / "class" / "power_supply" / "BAT1"
    bat.mkdir(parents=True)
    for file, text in {"temp": "315", "current_now": "1500000", "time_to_empty_now": "3600",
                       "status": "", "voltage_avg": "garbage: never read"}.items():
        (bat / file).write_text(text + "\n")
    got = samples(collect_text(PowersupplyclassCollector(fixture_config(sysfs=tmp_path))))
    key = (("power_supply", "BAT1"),)
    assert got == {("node_power_supply_temp_celsius", key): 31.5,
                   ("node_power_supply_current_ampere", key): 1.5,
                   ("node_power_supply_time_to_empty_seconds", key): 3600,
                   ("node_power_supply_info", key): 1}


def test_no_class_is_no_data(tmp_path):
    assert_absent(tmp_path, "powersupplyclass", 0)


def test_garbled_number_fails_only_powersupplyclass(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "powersupplyclass",
                       {"sys/class/power_supply/BAT0/capacity": "full\n"})


def test_removed_supply_vanishes_on_the_next_scrape(tmp_path):
    import shutil

    base = tmp_path / "class" / "power_supply"
    for name in ("BAT0", "BAT1"):
        (base / name).mkdir(parents=True)
        (base / name / "capacity").write_text("50\n")
    collector = PowersupplyclassCollector(fixture_config(sysfs=tmp_path))
    assert len(samples(collect_text(collector))) == 4
    shutil.rmtree(base / "BAT1")
    got = samples(collect_text(collector))
    assert {dict(k[1])["power_supply"] for k in got} == {"BAT0"}
