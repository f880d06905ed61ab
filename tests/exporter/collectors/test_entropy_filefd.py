"""entropy and filefd: node_exporter's fixture values, and a malformed file fails the collector."""

from __future__ import annotations

import pytest

from exporter.collectors.entropy import EntropyCollector
from exporter.collectors.filefd import FilefdCollector
from tests.exporter.helpers import collect_text, fixture_config, samples


def test_entropy_fixture():
    got = samples(collect_text(EntropyCollector(fixture_config())))
    assert got == {("node_entropy_available_bits", ()): 1337,
                   ("node_entropy_pool_size_bits", ()): 4096}


def test_filefd_fixture():
    got = samples(collect_text(FilefdCollector(fixture_config())))
    assert got == {("node_filefd_allocated", ()): 1024, ("node_filefd_maximum", ()): 1631329}


def test_truncated_file_nr_raises(tmp_path):
    (tmp_path / "sys" / "fs").mkdir(parents=True)
    (tmp_path / "sys" / "fs" / "file-nr").write_text("1024\t0\n")
    with pytest.raises(ValueError, match="3 integers"):
        list(FilefdCollector(fixture_config(tmp_path)).collect())


def test_garbled_entropy_raises(tmp_path):
    (tmp_path / "sys" / "kernel" / "random").mkdir(parents=True)
    (tmp_path / "sys" / "kernel" / "random" / "entropy_avail").write_text("x1\n")
    with pytest.raises(ValueError, match="integer"):
        list(EntropyCollector(fixture_config(tmp_path)).collect())


def test_missing_pool_size_fails(tmp_path):
    (tmp_path / "sys" / "kernel" / "random").mkdir(parents=True)
    (tmp_path / "sys" / "kernel" / "random" / "entropy_avail").write_text("256\n")
    with pytest.raises(OSError):
        list(EntropyCollector(fixture_config(tmp_path)).collect())
