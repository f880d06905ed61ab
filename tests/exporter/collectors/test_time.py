"""time: clock, zone offset, clocksources from a synthetic sysfs."""

from __future__ import annotations

import time

from exporter.collectors.time import TimeCollector
from tests.exporter.helpers import collect_text, fixture_config, samples


def test_clock_zone_and_clocksources(tmp_path):
    base = tmp_path / "devices" / "system" / "clocksource" / "clocksource0"
    base.mkdir(parents=True)
    (base / "available_clocksource").write_text("tsc hpet acpi_pm\n")
    (base / "current_clocksource").write_text("tsc\n")
    before = time.time()
    got = samples(collect_text(TimeCollector(fixture_config(sysfs=tmp_path))))
    after = time.time()
    assert before <= got[("node_time_seconds", ())] <= after
    zone = [k for k in got if k[0] == "node_time_zone_offset_seconds"]
    assert len(zone) == 1 and got[zone[0]] == time.localtime().tm_gmtoff
    available = {dict(k[1])["clocksource"] for k in got
                 if k[0] == "node_time_clocksource_available_info"}
    assert available == {"tsc", "hpet", "acpi_pm"}
    assert got[("node_time_clocksource_current_info",
                (("clocksource", "tsc"), ("device", "0")))] == 1


def test_without_sysfs_clocksources_are_left_out(tmp_path):
    got = samples(collect_text(TimeCollector(fixture_config(sysfs=tmp_path))))
    assert not any("clocksource" in k[0] for k in got)
