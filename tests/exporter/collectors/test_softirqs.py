"""softirqs: /proc/softirqs per CPU and type, as node_exporter 1.6 (1.5 has no softirqs)."""

from __future__ import annotations

import pytest

from exporter.collectors.softirqs import SoftirqsCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(SoftirqsCollector(e2e_config()), ("node_softirqs_functions_",))


def test_off_by_default():
    assert SoftirqsCollector.default_enabled is False


def collector(tmp_path, text: str) -> SoftirqsCollector:
    (tmp_path / "softirqs").write_text(text)
    return SoftirqsCollector(fixture_config(tmp_path))


def test_unknown_and_short_lines_are_skipped(tmp_path):
    text = "  CPU0 CPU1\n  HI: 1 2\n  NEW_ONE: 5 6\n  TIMER:\n  RCU: 7 8\n"
    got = samples(collect_text(collector(tmp_path, text)))
    assert got == {("node_softirqs_functions_total", (("cpu", c), ("type", t))): v
                   for c, t, v in (("0", "HI", 1), ("1", "HI", 2), ("0", "RCU", 7),
                                   ("1", "RCU", 8))}


@pytest.mark.parametrize("text,match", [("", "empty"), ("CPU0\n HI: 1 x\n", "integer"),
                                        ("CPU0\n HI: -1\n", "integer")])
def test_malformed_file_fails(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        list(collector(tmp_path, text).collect())


def test_absent_file_fails(tmp_path):
    assert_absent(tmp_path, "softirqs", 0)


def test_garbled_file_fails_only_softirqs(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "softirqs", {"proc/softirqs": "CPU0\n NET_RX: 1a\n"})
