"""interrupts: node_exporter 1.5's family on its fixture, named and numbered lines, errors."""

from __future__ import annotations

import pytest

from exporter.collectors.interrupts import InterruptsCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import (
    assert_absent,
    assert_fails_alone,
    assert_off_by_default,
    assert_parity,
    e2e_config,
)

HEADER = "           CPU0       CPU1\n"


def series(tmp_path, text: str) -> dict:
    (tmp_path / "interrupts").write_text(text)
    got = samples(collect_text(InterruptsCollector(fixture_config(tmp_path))))
    return {tuple(dict(labels)[k] for k in ("type", "cpu", "info", "devices")): value
            for (_, labels), value in got.items()}


def test_fixture_matches_node_exporter():
    assert_parity(InterruptsCollector(e2e_config()), ("node_interrupts_",))


def test_off_by_default():
    assert_off_by_default("interrupts")


def test_numbered_and_named_lines(tmp_path):
    text = HEADER + ("  24:   5   7  PCI-MSI 512000-edge  ahci[0000:00:1f.2], eth0\n"
                     "NMI:    1   2  Non-maskable interrupts\n"
                     "ERR:    0\n")  # fewer columns than CPUs: skipped, as 1.5
    assert series(tmp_path, text) == {
        ("24", "0", "PCI-MSI", "512000-edge ahci[0000:00:1f.2], eth0"): 5,
        ("24", "1", "PCI-MSI", "512000-edge ahci[0000:00:1f.2], eth0"): 7,
        ("NMI", "0", "Non-maskable interrupts", ""): 1,
        ("NMI", "1", "Non-maskable interrupts", ""): 2}


def test_a_repeated_name_keeps_its_last_line(tmp_path):
    text = HEADER + "LOC: 1 2 Local timer\nLOC: 3 4 Local timer again\n"
    assert series(tmp_path, text) == {("LOC", "0", "Local timer again", ""): 3,
                                      ("LOC", "1", "Local timer again", ""): 4}


@pytest.mark.parametrize("text,match", [("", "empty"), (HEADER + "  0: 1 zz IO-APIC\n", "zz")])
def test_malformed_files_fail(tmp_path, text, match):
    (tmp_path / "interrupts").write_text(text)
    with pytest.raises(ValueError, match=match):
        list(InterruptsCollector(fixture_config(tmp_path)).collect())


def test_garbled_count_fails_only_interrupts(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "interrupts",
                       {"proc/interrupts": HEADER + "  0: 1 -x IO-APIC timer\n"})


def test_no_file_is_no_data(tmp_path):
    assert_absent(tmp_path, "interrupts", 0)
