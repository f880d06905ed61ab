"""slabinfo: /proc/slabinfo 2.1, as node_exporter 1.5."""

from __future__ import annotations

import pytest

from exporter.collectors.slabinfo import SlabinfoCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config

HEAD = "slabinfo - version: 2.1\n# name <active_objs> ...\n"
LINE = "kmalloc-8 {} 148 8192 4 8 : tunables 0 0 0 : slabdata 37 37 0\n"


def test_fixture_matches_node_exporter():
    assert_parity(SlabinfoCollector(e2e_config()), ("node_slabinfo_",))


def collector(tmp_path, text: str) -> SlabinfoCollector:
    (tmp_path / "slabinfo").write_text(text)
    return SlabinfoCollector(fixture_config(tmp_path))


def test_five_gauges_per_slab(tmp_path):
    got = samples(collect_text(collector(tmp_path, HEAD + LINE.format(132))))
    key = (("slab", "kmalloc-8"),)
    assert got == {("node_slabinfo_active_objects", key): 132,
                   ("node_slabinfo_objects", key): 148,
                   ("node_slabinfo_object_size_bytes", key): 8192,
                   ("node_slabinfo_objects_per_slab", key): 4,
                   ("node_slabinfo_pages_per_slab", key): 8}


@pytest.mark.parametrize("line,match", [
    (LINE.format("x"), "integer"),
    ("kmalloc-8 1 2 3 4 5 : tunables 0 0 0 : slabdata 37 37\n", "15 fields"),
    (LINE.replace(" 37 37 0", " 37 37 z").format(1), "integer"),  # checked, as procfs does
])
def test_malformed_lines_fail(tmp_path, line, match):
    with pytest.raises(ValueError, match=match):
        list(collector(tmp_path, HEAD + line).collect())


def test_absent_file_fails(tmp_path):
    assert_absent(tmp_path, "slabinfo", 0)


def test_truncated_file_fails_only_slabinfo(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "slabinfo",
                       {"proc/slabinfo": HEAD + LINE.format(1)[:30] + "\n"})
