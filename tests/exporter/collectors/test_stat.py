"""stat: boot time, context switches, interrupts, forks, run queue."""

from __future__ import annotations

import logging

import pytest

from exporter.collectors import COLLECTORS
from exporter.collectors.stat import StatCollector, StatConfig
from exporter.registry import Registry
from tests.exporter.helpers import PROC, collect_text, fixture_config, headers, samples
from tests.exporter.parity import assert_parity, e2e_config


def test_fixture_values_and_types():
    text = collect_text(StatCollector(fixture_config()))
    got = samples(text)
    assert got[("node_boot_time_seconds", ())] == 1418183276
    assert got[("node_intr_total", ())] == 8885917
    assert got[("node_forks_total", ())] == 26442
    assert headers(text)["node_context_switches_total"]["TYPE"] == "counter"
    assert headers(text)["node_procs_running"]["TYPE"] == "gauge"


def test_missing_lines_are_left_out_not_zero(tmp_path):
    (tmp_path / "stat").write_text("cpu 1 2 3 4\nbtime 100\nctxt 5\n")
    got = samples(collect_text(StatCollector(fixture_config(tmp_path))))
    assert got == {("node_boot_time_seconds", ()): 100, ("node_context_switches_total", ()): 5}


def test_no_btime_is_an_error(tmp_path):
    (tmp_path / "stat").write_text("ctxt 5\n")
    with pytest.raises(ValueError, match="btime"):
        list(StatCollector(fixture_config(tmp_path)).collect())


def test_psutil_backend_boot_time_matches_proc():
    procfs = samples(collect_text(StatCollector(fixture_config("/proc"))))
    via_psutil = samples(collect_text(StatCollector(fixture_config("/proc"), backend="psutil")))
    key = ("node_boot_time_seconds", ())
    assert abs(via_psutil[key] - procfs[key]) <= 1
    assert via_psutil[("node_context_switches_total", ())] >= \
        procfs[("node_context_switches_total", ())]


def test_softirq_vectors_match_node_exporter():
    """--collector.stat.softirq, as the e2e run has it."""
    collector = StatCollector(e2e_config(stat=StatConfig(softirq=True)))
    got = assert_parity(collector, ("node_softirqs_total", "node_boot_time", "node_context",
                                    "node_intr_total", "node_forks", "node_procs_"))
    assert got[("node_softirqs_total", (("vector", "net_rx"),))] == 211099


def test_softirq_is_off_by_default():
    assert "node_softirqs_total" not in collect_text(StatCollector(e2e_config()))


def test_truncated_softirq_line_fails_only_stat(tmp_path, caplog):
    text = (PROC / "stat").read_text()
    (tmp_path / "stat").write_text(text.replace("softirq 5057579 250191 1481983 1647",
                                                "softirq 5057579 250191"))
    (tmp_path / "loadavg").write_text((PROC / "loadavg").read_text())
    config = fixture_config(tmp_path, stat=StatConfig(softirq=True))
    registry = Registry(config, {n: COLLECTORS[n](config) for n in ("stat", "loadavg")})
    with caplog.at_level(logging.ERROR, logger="exporter"):
        got = samples(registry.render())
        samples(registry.render())
    assert got[("node_scrape_collector_success", (("collector", "stat"),))] == 0
    assert got[("node_scrape_collector_success", (("collector", "loadavg"),))] == 1
    assert sum("collector stat failed" in r.getMessage() for r in caplog.records) == 1
