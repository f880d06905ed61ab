"""cgroups: /proc/cgroups' controllers, as node_exporter 1.5."""

from __future__ import annotations

import pytest

from exporter.collectors.cgroups import CgroupsCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(CgroupsCollector(e2e_config()), ("node_cgroups_",))


def collector(tmp_path, text: str) -> CgroupsCollector:
    (tmp_path / "cgroups").write_text(text)
    return CgroupsCollector(fixture_config(tmp_path))


def test_comments_skipped_and_extra_fields_allowed(tmp_path):
    text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu 0 +3 1 extra\nmisc 0 1 0\n"
    got = samples(collect_text(collector(tmp_path, text)))
    assert got == {("node_cgroups_cgroups", (("subsys_name", "cpu"),)): 3,
                   ("node_cgroups_enabled", (("subsys_name", "cpu"),)): 1,
                   ("node_cgroups_cgroups", (("subsys_name", "misc"),)): 1,
                   ("node_cgroups_enabled", (("subsys_name", "misc"),)): 0}


@pytest.mark.parametrize("line,match", [("cpu 0 3\n", "3 fields"), ("cpu x 3 1\n", "integer"),
                                        ("cpu 0 3 yes\n", "integer"), ("\n", "0 fields")])
def test_malformed_lines_fail(tmp_path, line, match):
    with pytest.raises(ValueError, match=match):
        list(collector(tmp_path, line).collect())


def test_absent_file_fails(tmp_path):
    assert_absent(tmp_path, "cgroups", 0)


def test_garbled_file_fails_only_cgroups(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "cgroups", {"proc/cgroups": "cpu 1 2\n"})
