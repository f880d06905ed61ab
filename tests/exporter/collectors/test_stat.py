"""stat: boot time, context switches, interrupts, forks, run queue."""

from __future__ import annotations

import pytest

from exporter.collectors.stat import StatCollector
from tests.exporter.helpers import collect_text, fixture_config, headers, samples


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
