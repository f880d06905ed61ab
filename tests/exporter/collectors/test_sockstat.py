"""sockstat: node_exporter's rules on real-looking files, and malformed ones fail the collector."""

from __future__ import annotations

import pytest

from exporter.collectors.sockstat import PAGE_SIZE, SockstatCollector
from tests.exporter.helpers import collect_text, fixture_config, samples


def write(tmp_path, v4: str | None, v6: str | None):
    (tmp_path / "net").mkdir()
    for leaf, text in (("sockstat", v4), ("sockstat6", v6)):
        if text is not None:
            (tmp_path / "net" / leaf).write_text(text)
    return SockstatCollector(fixture_config(tmp_path))


def values(collector) -> dict[str, float]:
    return {name: v for (name, _), v in samples(collect_text(collector)).items()}


def test_without_ipv6_only_ipv4_is_reported(tmp_path):
    got = values(write(tmp_path, "sockets: used 3\nTCP: inuse 2 orphan 0 tw 1 alloc 2 mem 5\n",
                       None))
    assert got == {"node_sockstat_sockets_used": 3, "node_sockstat_TCP_inuse": 2,
                   "node_sockstat_TCP_orphan": 0, "node_sockstat_TCP_tw": 1,
                   "node_sockstat_TCP_alloc": 2, "node_sockstat_TCP_mem": 5,
                   "node_sockstat_TCP_mem_bytes": 5 * PAGE_SIZE}


def test_inuse_is_always_reported_and_unknown_keys_are_not(tmp_path):
    # node_exporter reports `inuse` (0 when absent) and only the keys it knows.
    got = values(write(tmp_path, None, "SCTP6: memory 7 pressure 1\n"))
    assert got == {"node_sockstat_SCTP6_inuse": 0, "node_sockstat_SCTP6_memory": 7}


def test_neither_file_is_an_empty_success(tmp_path):
    assert values(write(tmp_path, None, None)) == {}


@pytest.mark.parametrize("text", ["TCP: inuse\n", "TCP:\n", "TCP: inuse 1 tw\n",
                                  "TCP: inuse x\n", "TCP: inuse 1_0\n", "TCP:  inuse 1\n"])
def test_malformed_line_fails(tmp_path, text):
    with pytest.raises(ValueError, match="sockstat"):
        list(write(tmp_path, "sockets: used 1\n", text).collect())
