"""loadavg: the three load averages."""

from __future__ import annotations

import pytest

from exporter.collectors.loadavg import LoadavgCollector
from tests.exporter.helpers import collect_text, fixture_config, samples


def test_fixture():
    got = samples(collect_text(LoadavgCollector(fixture_config())))
    assert got == {("node_load1", ()): 0.21, ("node_load5", ()): 0.37, ("node_load15", ()): 0.39}


def test_short_file_raises(tmp_path):
    (tmp_path / "loadavg").write_text("0.1 0.2\n")
    with pytest.raises(ValueError, match="3 load averages"):
        list(LoadavgCollector(fixture_config(tmp_path)).collect())


def test_os_backend_reads_the_same_kernel_values():
    got = samples(collect_text(LoadavgCollector(fixture_config("/proc"), backend="os")))
    assert set(got) == {("node_load1", ()), ("node_load5", ()), ("node_load15", ())}
    assert all(v >= 0 for v in got.values())
