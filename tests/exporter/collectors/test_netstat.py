"""netstat: node_exporter's parsing of netstat/snmp/snmp6, the fields flag, malformed files."""

from __future__ import annotations

import pytest

from exporter.cli import build_parser, load
from exporter.collectors.netstat import DEFAULT_NETSTAT_FIELDS, NetstatCollector
from tests.exporter.helpers import collect_text, headers, samples

NETSTAT = ("TcpExt: SyncookiesSent TCPTimeouts TCPOFOQueue\nTcpExt: 1 2 3\n"
           "IpExt: InOctets OutOctets\nIpExt: 18446744073709551615 5\n")
SNMP = "Tcp: MaxConn InSegs\nTcp: -1 7\nUdp: InDatagrams\nUdp: 9\n"
SNMP6 = "Ip6InOctets                     \t11\nIcmp6InMsgs 2\nUdpLite6InErrors 0\nnotsix 4\n\n"


def collector(tmp_path, netstat=NETSTAT, snmp=SNMP, snmp6=SNMP6, fields=None):
    (tmp_path / "net").mkdir()
    for leaf, text in (("netstat", netstat), ("snmp", snmp), ("snmp6", snmp6)):
        if text is not None:
            (tmp_path / "net" / leaf).write_text(text)
    argv = [f"--path.procfs={tmp_path}"] + ([f"--collector.netstat.fields={fields}"]
                                            if fields is not None else [])
    return NetstatCollector(load(build_parser().parse_args(argv)))


def values(c) -> dict[str, float]:
    return {name: v for (name, _), v in samples(collect_text(c)).items()}


def test_default_fields(tmp_path):
    c = collector(tmp_path)
    assert c.config.netstat.fields == DEFAULT_NETSTAT_FIELDS
    got = values(c)
    assert got == {"node_netstat_TcpExt_SyncookiesSent": 1, "node_netstat_TcpExt_TCPTimeouts": 2,
                   "node_netstat_IpExt_InOctets": 18446744073709551615,
                   "node_netstat_IpExt_OutOctets": 5, "node_netstat_Tcp_InSegs": 7,
                   "node_netstat_Udp_InDatagrams": 9, "node_netstat_Ip6_InOctets": 11,
                   "node_netstat_Icmp6_InMsgs": 2, "node_netstat_UdpLite6_InErrors": 0}
    head = headers(collect_text(c))["node_netstat_Ip6_InOctets"]
    assert head == {"HELP": "Statistic Ip6InOctets.", "TYPE": "untyped"}


def test_fields_flag_searches_like_go(tmp_path):
    # Go's MatchString finds the pattern anywhere in PROTOCOL_Field, as re.search does.
    got = values(collector(tmp_path, fields="MaxConn|OFO"))
    assert got == {"node_netstat_Tcp_MaxConn": -1, "node_netstat_TcpExt_TCPOFOQueue": 3}


def test_without_snmp6_the_rest_is_reported(tmp_path):
    got = values(collector(tmp_path, snmp6=None))
    assert "node_netstat_Tcp_InSegs" in got and not any("6_" in k for k in got)


@pytest.mark.parametrize("missing", ["netstat", "snmp"])
def test_missing_netstat_or_snmp_fails(tmp_path, missing):
    with pytest.raises(FileNotFoundError):
        list(collector(tmp_path, **{missing: None}).collect())


@pytest.mark.parametrize("netstat,match", [
    ("TcpExt: A B\nTcpExt: 1\n", "2 names but 1 values"),
    ("TcpExt: A B\n", "line 2: expected the 'TcpExt' values"),  # truncated after a header
    ("TcpExt: A\nIpExt: 1\n", "line 2: expected the 'TcpExt' values"),
    ("TcpExt A\nTcpExt 1\n", "line 1: expected a 'Proto:' header"),
    ("TcpExt: A B\nTcpExt: 1 x\n", "invalid value"),  # B is not reported, still checked
    ("TcpExt: A\nTcpExt: 1_0\n", "invalid value"),
])
def test_malformed_netstat_fails(tmp_path, netstat, match):
    with pytest.raises(ValueError, match=match):
        list(collector(tmp_path, netstat=netstat).collect())



def test_a_bad_snmp6_value_fails_even_when_not_reported(tmp_path):
    with pytest.raises(ValueError, match="Ip6InReceives"):
        list(collector(tmp_path, snmp6=SNMP6 + "Ip6InReceives  x7\n").collect())


def test_float_values_are_accepted_as_go_parses_them(tmp_path):
    got = values(collector(tmp_path, netstat="TcpExt: TCPTimeouts\nTcpExt: 1.5e3\n"))
    assert got["node_netstat_TcpExt_TCPTimeouts"] == 1500


def test_a_name_given_twice_keeps_its_last_value(tmp_path):
    got = values(collector(tmp_path, netstat="TcpExt: TCPTimeouts TCPTimeouts\nTcpExt: 1 2\n"))
    assert got["node_netstat_TcpExt_TCPTimeouts"] == 2


def test_the_same_file_twice_reuses_the_header_cache(tmp_path):
    c = collector(tmp_path)
    first = values(c)
    (tmp_path / "net" / "netstat").write_text(NETSTAT.replace("1 2 3", "4 5 6"))
    second = values(c)
    assert first["node_netstat_TcpExt_TCPTimeouts"] == 2
    assert second["node_netstat_TcpExt_TCPTimeouts"] == 5
