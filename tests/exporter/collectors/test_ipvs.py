"""ipvs: /proc/net/ip_vs_stats and /proc/net/ip_vs as node_exporter 1.5's ipvs families."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from exporter.collectors.ipvs import IpvsCollector, IpvsConfig
from tests.exporter.helpers import FIXTURES, collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    got = assert_parity(IpvsCollector(e2e_config()), ("node_ipvs_",))
    assert got[("node_ipvs_connections_total", ())] == 0x16AA370


def test_backend_labels_pick_and_sum(tmp_path):
    """--collector.ipvs.backend-labels=local_port: backends sharing a port are summed (the
    figures of node_exporter's own test, ip_vs_result_lbs_local_port.txt)."""
    config = dataclasses.replace(fixture_config(), ipvs=IpvsConfig(backend_labels="local_port"))
    got = samples(collect_text(IpvsCollector(config)))
    active = {dict(labels)["local_port"]: v for (name, labels), v in got.items()
              if name == "node_ipvs_backend_connections_active"}
    assert active == {"3306": 3741, "0": 385}
    weight = {dict(labels)["local_port"]: v for (name, labels), v in got.items()
              if name == "node_ipvs_backend_weight"}
    assert weight == {"3306": 600, "0": 120}


def test_unknown_backend_label_exits_2():
    result = subprocess.run([sys.executable, "-m", "exporter",
                             "--collector.ipvs.backend-labels=local_port,color"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert "ipvs" in result.stderr and "color" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_ip_vs_is_no_data(tmp_path):
    assert_absent(tmp_path, "ipvs", success=0)


def test_garbled_stats_fail_only_ipvs(tmp_path, caplog):
    stats = (FIXTURES / "proc/net/ip_vs_stats").read_text().replace("E33656E5", "E33656G5")
    assert_fails_alone(tmp_path, caplog, "ipvs", {"proc/net/ip_vs_stats": stats,
                                                 "proc/net/ip_vs": ""})


def test_garbled_backend_fails_only_ipvs(tmp_path, caplog):
    backends = (FIXTURES / "proc/net/ip_vs").read_text().replace("C0A85216:0CEA", "C0A8521:0CEA")
    assert_fails_alone(tmp_path, caplog, "ipvs", {
        "proc/net/ip_vs_stats": (FIXTURES / "proc/net/ip_vs_stats").read_text(),
        "proc/net/ip_vs": backends})
