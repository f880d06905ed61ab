"""lnstat: /proc/net/stat/* per file and CPU, as node_exporter 1.5."""

from __future__ import annotations

import pytest

from exporter.collectors.lnstat import LnstatCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(LnstatCollector(e2e_config()), ("node_lnstat_",))


def collector(tmp_path, **files: str) -> LnstatCollector:
    (tmp_path / "net" / "stat").mkdir(parents=True)
    for name, text in files.items():
        (tmp_path / "net" / "stat" / name).write_text(text)
    return LnstatCollector(fixture_config(tmp_path))


def test_columns_shared_across_files(tmp_path):
    got = samples(collect_text(collector(tmp_path, a="entries hits\n0000000a 1\n0000000b 2\n",
                                         b="entries\nff\n")))
    assert got == {("node_lnstat_entries_total", (("cpu", "0"), ("subsystem", "a"))): 10,
                   ("node_lnstat_hits_total", (("cpu", "0"), ("subsystem", "a"))): 1,
                   ("node_lnstat_entries_total", (("cpu", "1"), ("subsystem", "a"))): 11,
                   ("node_lnstat_hits_total", (("cpu", "1"), ("subsystem", "a"))): 2,
                   ("node_lnstat_entries_total", (("cpu", "0"), ("subsystem", "b"))): 255}


@pytest.mark.parametrize("text,match", [("entries\n0000000g\n", "hex"),
                                        ("entries\n1 2\n", "2 values for 1 columns")])
def test_malformed_files_fail(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        list(collector(tmp_path, a=text).collect())


def test_no_directory_is_nothing(tmp_path):
    assert_absent(tmp_path, "lnstat", 1)


def test_garbled_file_fails_only_lnstat(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "lnstat", {"proc/net/stat/arp_cache": "entries\nxyz\n"})
