"""softnet: hex columns per CPU line, node_exporter 1.5's three families, malformed lines."""

from __future__ import annotations

import pytest

from exporter.collectors.softnet import SoftnetCollector
from tests.exporter.helpers import collect_text, fixture_config, samples

ZEROS = " 00000000" * 8


def collector(tmp_path, text: str) -> SoftnetCollector:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "softnet_stat").write_text(text)
    return SoftnetCollector(fixture_config(tmp_path))


def test_lines_are_labelled_by_index(tmp_path):
    # Newer kernels have 13 columns (the last is the CPU id); 1.5 labels by line index.
    text = "0000000a 00000001 ffffffff" + ZEROS + "\n" + "00000010 0 2" + ZEROS + " 00000005\n"
    got = samples(collect_text(collector(tmp_path, text)))
    assert got == {
        ("node_softnet_processed_total", (("cpu", "0"),)): 10,
        ("node_softnet_dropped_total", (("cpu", "0"),)): 1,
        ("node_softnet_times_squeezed_total", (("cpu", "0"),)): 0xFFFFFFFF,
        ("node_softnet_processed_total", (("cpu", "1"),)): 16,
        ("node_softnet_dropped_total", (("cpu", "1"),)): 0,
        ("node_softnet_times_squeezed_total", (("cpu", "1"),)): 2}


@pytest.mark.parametrize("line,match", [
    ("0000000a 00000001 00000002 0 0\n", "5 columns"),
    ("0000000a 0000000g 00000002" + ZEROS + "\n", "hex"),
    ("100000000 0 0" + ZEROS + "\n", "hex"),  # wider than 32 bits
])
def test_malformed_lines_fail(tmp_path, line, match):
    with pytest.raises(ValueError, match=match):
        list(collector(tmp_path, line).collect())


def test_empty_file_is_no_family(tmp_path):
    assert collect_text(collector(tmp_path, "")) == ""
