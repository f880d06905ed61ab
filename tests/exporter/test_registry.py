"""Registry: per-collector timing and success; a failing collector breaks nothing else and
is logged once per failure, not per scrape."""

from __future__ import annotations

import logging

from exporter.collectors import COLLECTORS
from exporter.collectors.base import Collector, NoDataError
from exporter.exposition import Desc, single
from exporter.registry import Registry
from tests.exporter.helpers import fixture_config, headers, samples

PARTIAL = Desc("test_partial", "Yielded before the failure.", "gauge")


class Flaky(Collector):
    name = "flaky"

    def __init__(self, config) -> None:
        super().__init__(config)
        self.failing = True

    def collect(self):
        yield single(PARTIAL, 1)
        if self.failing:
            raise PermissionError(13, "Permission denied", "/proc/secret")


class Absent(Collector):
    name = "absent"

    def collect(self):
        raise NoDataError("no such hardware")
        yield


def registry(**extra):
    config = fixture_config()
    collectors = {"loadavg": COLLECTORS["loadavg"](config), **extra}
    return Registry(config, collectors)


def test_failure_is_success_zero_and_the_rest_is_intact(caplog):
    flaky = Flaky(fixture_config())
    reg = registry(flaky=flaky)
    caplog.set_level(logging.DEBUG, logger="exporter")
    for _ in range(3):
        got = samples(reg.render())
        assert got[("node_scrape_collector_success", (("collector", "flaky"),))] == 0
        assert got[("node_scrape_collector_success", (("collector", "loadavg"),))] == 1
        assert got[("node_load1", ())] == 0.21
        assert got[("test_partial", ())] == 1  # what it yielded before failing is kept
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "flaky" in errors[0].getMessage()
    assert "Permission denied" in errors[0].getMessage()
    flaky.failing = False
    got = samples(reg.render())
    assert got[("node_scrape_collector_success", (("collector", "flaky"),))] == 1
    assert any("succeeded again" in r.getMessage() for r in caplog.records)
    flaky.failing = True
    reg.render()
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 2


def test_no_data_is_success_zero_logged_at_debug(caplog):
    reg = registry(absent=Absent(fixture_config()))
    caplog.set_level(logging.DEBUG, logger="exporter")
    got = samples(reg.render())
    assert got[("node_scrape_collector_success", (("collector", "absent"),))] == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_every_collector_is_timed():
    reg = registry(absent=Absent(fixture_config()))
    got = samples(reg.render())
    for name in ("loadavg", "absent"):
        assert got[("node_scrape_collector_duration_seconds", (("collector", name),))] >= 0


def test_selected_collectors_only():
    config = fixture_config()
    reg = Registry(config, {n: COLLECTORS[n](config) for n in ("loadavg", "stat", "cpu")})
    text = reg.render(["stat"])
    assert "node_boot_time_seconds" in headers(text)
    assert "node_load1" not in headers(text) and "node_cpu_seconds_total" not in headers(text)
    assert {dict(k[1])["collector"] for k in samples(text)
            if k[0] == "node_scrape_collector_success"} == {"stat"}


def test_build_info_in_both_formats():
    reg = registry()
    text = reg.render()
    assert headers(text)["promwire_exporter_build_info"]["TYPE"] == "gauge"
    info = [k for k in samples(text) if k[0] == "promwire_exporter_build_info"]
    assert dict(info[0][1])["version"]
    assert "# TYPE promwire_exporter_build info\n" in reg.render(openmetrics=True)
