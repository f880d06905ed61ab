"""rapl: powercap energy counters, as node_exporter 1.5 (also with its zone-label flag)."""

from __future__ import annotations

import dataclasses

from exporter.collectors.rapl import RaplCollector, RaplConfig
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import as_e2e_paths, assert_absent, assert_fails_alone, assert_parity


def test_fixture_matches_node_exporter(tmp_path):
    # The `path` label is the sysfs path as given: the e2e run's collector/fixtures/sys.
    with as_e2e_paths(tmp_path) as config:
        assert_parity(RaplCollector(config), ("node_rapl_",))


def test_zone_label_flag(tmp_path):
    with as_e2e_paths(tmp_path) as config:
        config = dataclasses.replace(config, rapl=RaplConfig(enable_zone_label=True))
        got = samples(collect_text(RaplCollector(config)))
    base = "collector/fixtures/sys/class/powercap/"
    assert got == {
        ("node_rapl_joules_total", (("index", "0"), ("path", base + "intel-rapl:0"),
                                    ("rapl_zone", "package"))): 240422.366267,
        ("node_rapl_joules_total", (("index", "0"), ("path", base + "intel-rapl:0:0"),
                                    ("rapl_zone", "core"))): 118821.284256}


def test_repeated_names_are_numbered(tmp_path):
    base = tmp_path / "class" / "powercap"
    for entry, name, uj in (("a", "dram", "1000000"), ("b", "dram", "2000000")):
        (base / entry).mkdir(parents=True)
        (base / entry / "name").write_text(name + "\n")
        (base / entry / "energy_uj").write_text(uj + "\n")
    got = samples(collect_text(RaplCollector(fixture_config(sysfs=tmp_path))))
    assert got == {("node_rapl_dram_joules_total", (("index", "0"), ("path", str(base / "a")))): 1,
                   ("node_rapl_dram_joules_total", (("index", "1"), ("path", str(base / "b")))): 2}


def test_no_powercap_is_no_data(tmp_path):
    assert_absent(tmp_path, "rapl", 0)


def test_garbled_counter_fails_only_rapl(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "rapl",
                       {"sys/class/powercap/intel-rapl:0/name": "package-0\n",
                        "sys/class/powercap/intel-rapl:0/energy_uj": "-1\n"})
