"""pressure: PSI totals in seconds; kernels without PSI report no data."""

from __future__ import annotations

import pytest

from exporter.collectors.base import NoDataError
from exporter.collectors.pressure import PressureCollector
from tests.exporter.helpers import collect_text, fixture_config, samples


def test_fixture_totals():
    got = samples(collect_text(PressureCollector(fixture_config())))
    assert got[("node_pressure_io_waiting_seconds_total", ())] == 159.886802
    assert got[("node_pressure_irq_stalled_seconds_total", ())] == 0.008494
    assert ("node_pressure_cpu_stalled_seconds_total", ()) not in got


def test_no_psi_is_no_data(tmp_path):
    with pytest.raises(NoDataError):
        list(PressureCollector(fixture_config(tmp_path)).collect())


def test_kernel_without_irq_pressure(tmp_path):
    (tmp_path / "pressure").mkdir()
    (tmp_path / "pressure" / "cpu").write_text(
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\n")
    got = samples(collect_text(PressureCollector(fixture_config(tmp_path))))
    assert got == {("node_pressure_cpu_waiting_seconds_total", ()): 2.0}


def test_garbage_total_raises(tmp_path):
    (tmp_path / "pressure").mkdir()
    (tmp_path / "pressure" / "cpu").write_text("some avg10=0.00 total=abc\n")
    with pytest.raises(ValueError):
        list(PressureCollector(fixture_config(tmp_path)).collect())
