"""schedstat: /proc/schedstat per CPU, as node_exporter 1.5."""

from __future__ import annotations

from exporter.collectors.schedstat import SchedstatCollector
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(SchedstatCollector(e2e_config()), ("node_schedstat_",))


def test_absent_file_is_no_data(tmp_path):
    assert_absent(tmp_path, "schedstat", 0)


def test_truncated_cpu_line_fails_only_schedstat(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "schedstat",
                       {"proc/schedstat": "version 15\ntimestamp 1\ncpu0 1 2 3\n"})
