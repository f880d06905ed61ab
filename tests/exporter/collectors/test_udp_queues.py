"""udp_queues: sums of tx/rx queues per IP version, absent files, malformed lines."""

from __future__ import annotations

import pytest

from exporter.collectors.base import NoDataError
from exporter.collectors.udp_queues import UdpQueuesCollector
from tests.exporter.helpers import collect_text, fixture_config, samples

HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
          "timeout inode ref pointer drops\n")
V4 = ("  567: 00000000:0044 00000000:0000 07 00000010:00000200 00:00000000 00000000     0  "
      "      0 15961 2 0000000000000000 0\n"
      " 1010: 0100007F:0035 00000000:0000 07 00000001:00000002 00:00000000 00000000   101  "
      "      0 20000 2 0000000000000000 3\n")
V6 = ("  100: 00000000000000000000000001000000:0222 00000000000000000000000000000000:0000 07 "
      "0000000A:0000000B 00:00000000 00000000     0        0 30000 2 0000000000000000 0\n")


def collector(tmp_path, v4: str | None, v6: str | None) -> UdpQueuesCollector:
    (tmp_path / "net").mkdir()
    for leaf, text in (("udp", v4), ("udp6", v6)):
        if text is not None:
            (tmp_path / "net" / leaf).write_text(text)
    return UdpQueuesCollector(fixture_config(tmp_path))


def series(c) -> dict[tuple[str, str], float]:
    return {(dict(k)["ip"], dict(k)["queue"]): v
            for (_, k), v in samples(collect_text(c)).items()}


def test_sums_per_ip_version(tmp_path):
    assert series(collector(tmp_path, HEADER + V4, HEADER + V6)) == {
        ("v4", "tx"): 0x11, ("v4", "rx"): 0x202, ("v6", "tx"): 10, ("v6", "rx"): 11}


def test_no_sockets_is_zero_and_no_ipv6_is_left_out(tmp_path):
    assert series(collector(tmp_path, HEADER, None)) == {("v4", "tx"): 0, ("v4", "rx"): 0}


def test_neither_file_is_no_data(tmp_path):
    with pytest.raises(NoDataError):
        list(collector(tmp_path, None, None).collect())


@pytest.mark.parametrize("line", [
    "  567: 00000000:0044 00000000:0000 07 00000010 00:00000000 00000000 0 0 15961\n",
    "  567: 000000:0044 00000000:0000 07 00000010:0 00:00000000 00000000 0 0 15961\n",
    "  567: 00000000:0044 00000000:0000 07 0000001g:0 00:00000000 00000000 0 0 15961\n",
    "  567: 00000000:0044 00000000:0000 07 00000010:0 00:00000000\n",
    "garbage\n",
])
def test_malformed_line_fails(tmp_path, line):
    with pytest.raises(ValueError, match="not a socket line"):
        list(collector(tmp_path, HEADER + V4 + line, None).collect())
