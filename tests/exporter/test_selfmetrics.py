"""The exporter's own process_* metrics, checked against psutil's reading of the same process,
and --web.disable-exporter-metrics. (test_live.py compares names with node_exporter's.)"""

from __future__ import annotations

import resource
import urllib.request

import psutil
import pytest

from exporter.selfmetrics import UNLIMITED, ProcessMetrics
from tests import servers
from tests.exporter.helpers import headers, samples

FAMILIES = {"process_cpu_seconds_total": "counter", "process_open_fds": "gauge",
            "process_max_fds": "gauge", "process_virtual_memory_bytes": "gauge",
            "process_virtual_memory_max_bytes": "gauge", "process_resident_memory_bytes": "gauge",
            "process_start_time_seconds": "gauge"}


def scrape(url: str, query: str = "") -> str:
    with urllib.request.urlopen(f"{url}/metrics{query}", timeout=10) as resp:
        return resp.read().decode()


def values(text: str) -> dict[str, float]:
    return {name: v for (name, _), v in samples(text).items() if name.startswith("process_")}


def test_this_process_as_psutil_sees_it():
    from exporter.exposition import render

    me = psutil.Process()
    cpu_before = sum(me.cpu_times()[:2])
    got = values(render(ProcessMetrics().collect()))
    cpu_after = sum(me.cpu_times()[:2])
    assert set(got) == set(FAMILIES)
    assert cpu_before - 0.011 <= got["process_cpu_seconds_total"] <= cpu_after + 0.011
    assert got["process_start_time_seconds"] == pytest.approx(me.create_time(), abs=0.02)
    memory = me.memory_info()
    assert got["process_virtual_memory_bytes"] == pytest.approx(memory.vms, rel=0.05)
    assert got["process_resident_memory_bytes"] == pytest.approx(memory.rss, rel=0.05)
    assert abs(got["process_open_fds"] - me.num_fds()) <= 1  # the listing's own fd
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert got["process_max_fds"] == soft
    address_space = resource.getrlimit(resource.RLIMIT_AS)[0]
    assert got["process_virtual_memory_max_bytes"] == (
        UNLIMITED if address_space == resource.RLIM_INFINITY else address_space)


@pytest.mark.integration
def test_a_running_exporter_reports_its_own_process(tmp_path):
    proc = servers.exporter(tmp_path / "on", "--collector.disable-defaults",
                            "--collector.loadavg").start()
    off = servers.exporter(tmp_path / "off", "--web.disable-exporter-metrics").start()
    try:
        ps = psutil.Process(proc.proc.pid)
        cpu_before = sum(ps.cpu_times()[:2])
        text = scrape(proc.url)
        cpu_after = sum(ps.cpu_times()[:2])
        got = values(text)
        assert {n: h["TYPE"] for n, h in headers(text).items() if n in FAMILIES} == FAMILIES
        assert cpu_before - 0.011 <= got["process_cpu_seconds_total"] <= cpu_after + 0.011
        assert got["process_start_time_seconds"] == pytest.approx(ps.create_time(), abs=0.02)
        assert got["process_resident_memory_bytes"] == pytest.approx(ps.memory_info().rss,
                                                                     rel=0.1)
        assert got["process_max_fds"] == ps.rlimit(psutil.RLIMIT_NOFILE)[0]
        assert got["process_open_fds"] >= 3
        # As node_exporter: served with a collect[] filter too, without a collector's name.
        assert set(values(scrape(proc.url, "?collect[]=loadavg"))) == set(FAMILIES)
        assert "node_scrape_collector_success" in scrape(off.url)
        assert values(scrape(off.url)) == {}
    finally:
        proc.stop()
        off.stop()


def test_a_scrape_imports_neither_prometheus_client_nor_psutil_on_linux():
    """Importing prometheus_client costs ~12 MiB of RSS: the exporter must not need it."""
    import subprocess
    import sys

    code = ("import sys\nfrom exporter.cli import build_parser, load\n"
            "from exporter.registry import Registry\n"
            "Registry(load(build_parser().parse_args([]))).render()\n"
            "print(sorted(m for m in ('prometheus_client', 'psutil') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
