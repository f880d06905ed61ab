"""ksmd: node_exporter 1.5's families (and help texts) on its fixture, missing files."""

from __future__ import annotations

import pytest

from exporter.collectors.ksmd import FILES, KsmdCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import (
    E2E_HEADERS,
    SYS,
    assert_absent,
    assert_fails_alone,
    assert_off_by_default,
    assert_parity,
    e2e_config,
)

# Later releases reword every help text ("ksmd 'run' file." in 1.5) and add
# node_ksmd_general_profit_bytes (the `general_profit` file), which 1.5 does not read.
HELP_1_5 = {f"node_ksmd_{name}": f"ksmd '{file}' file." for name, file in [
    ("full_scans_total", "full_scans"), ("merge_across_nodes", "merge_across_nodes"),
    ("pages_shared", "pages_shared"), ("pages_sharing", "pages_sharing"),
    ("pages_to_scan", "pages_to_scan"), ("pages_unshared", "pages_unshared"),
    ("pages_volatile", "pages_volatile"), ("run", "run"), ("sleep_seconds", "sleep_millisecs")]}


def test_fixture_matches_node_exporter_1_5():
    got = assert_parity(KsmdCollector(e2e_config()), ("node_ksmd_",),
                        not_in_1_5=["node_ksmd_general_profit_bytes"], help_1_5=HELP_1_5)
    # sleep_millisecs is reported in seconds, full_scans as a counter.
    assert got[("node_ksmd_sleep_seconds", ())] == \
        int((SYS / "kernel/mm/ksm/sleep_millisecs").read_text()) / 1000
    assert E2E_HEADERS["node_ksmd_full_scans_total"]["TYPE"] == "counter"


def test_off_by_default():
    assert_off_by_default("ksmd")


def make(tmp_path, **override: str):
    ksm = tmp_path / "kernel" / "mm" / "ksm"
    ksm.mkdir(parents=True)
    for i, name in enumerate(FILES):
        (ksm / name).write_text(override.get(name, str(i * 10)) + "\n")
    return KsmdCollector(fixture_config(sysfs=tmp_path))


def test_every_file_is_one_family(tmp_path):
    got = samples(collect_text(make(tmp_path, sleep_millisecs="200", run="1")))
    assert got[("node_ksmd_sleep_seconds", ())] == 0.2
    assert got[("node_ksmd_run", ())] == 1
    assert got[("node_ksmd_pages_to_scan", ())] == 40
    assert len(got) == len(FILES)


@pytest.mark.parametrize("name,value", [("run", "on"), ("pages_shared", "-1"),
                                        ("full_scans", "")])
def test_a_file_that_is_no_number_fails(tmp_path, name, value):
    with pytest.raises(ValueError, match=name):
        list(make(tmp_path, **{name: value}).collect())


def test_a_missing_file_fails_only_ksmd(tmp_path, caplog):
    files = {f"sys/kernel/mm/ksm/{name}": "1\n" for name in FILES if name != "run"}
    assert_fails_alone(tmp_path, caplog, "ksmd", files)


def test_no_ksm_is_no_data(tmp_path):
    assert_absent(tmp_path, "ksmd", 0)
