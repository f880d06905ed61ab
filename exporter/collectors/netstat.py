"""`netstat`: protocol counters from /proc/net/netstat, /proc/net/snmp and /proc/net/snmp6.

Named as node_exporter 1.5 names them: node_netstat_<Protocol>_<Field> (untyped), for the
fields `--collector.netstat.fields` matches (1.5's default: the ones its dashboards and
alerts use). netstat and snmp are header/value line pairs; snmp6 is one `Ip6InReceives 7`
per line, the protocol ending at the first "6". A missing netstat or snmp file, a value that
is no number or a header/value pair that does not line up fails the collector; a missing
snmp6 (IPv6 disabled) is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, option, read_text
from exporter.exposition import Desc, MetricFamily, single

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

INTEGER = re.compile(r"-?[0-9]+")
INTEGERS = re.compile(r"(?: -?[0-9]+)*")  # a value line after its "Proto:"
# What Go's strconv.ParseFloat takes for a decimal (node_exporter parses every value so).
FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|"
                   r"[-+]?(?i:inf|infinity|nan)")
# snmp6: a first field holding a "6" (the protocol ends there) and a second one.
SNMP6_LINE = re.compile(r"^[ \t]*([^\s6]*6\S*)[ \t]+(\S+)", re.MULTILINE)
CACHE_LIMIT = 1000  # header lines and snmp6 names are the kernel's: a few dozen

# {protocol: [(family, value text)]} of the reported fields.
Stats = dict[str, list[tuple[Desc, str]]]


def number(value: str, where: str) -> int | float:
    if INTEGER.fullmatch(value):
        return int(value)
    if FLOAT.fullmatch(value):
        return float(value)
    raise ValueError(f"{where}: invalid value {value[:40]!r}")


# 1.5's; later releases add TcpExt_TCPOFOQueue and TcpExt_TCPRcvQDrop.
DEFAULT_NETSTAT_FIELDS = (
    r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
    r"|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)"
    r"|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)"
    r"|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$")


@dataclass(frozen=True)
class NetstatConfig:
    fields: str = option("--collector.netstat.fields", DEFAULT_NETSTAT_FIELDS,
                         "regex of netstat fields (PROTOCOL_Name) to report", regex=True)


class NetstatCollector(Collector):
    name = "netstat"
    options = NetstatConfig

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.fields = re.compile(config.netstat.fields)
        # Per header line: (protocol, field count, [(column, family)] of reported fields);
        # per snmp6 name: (protocol, family or None). Built once, the files' shape is fixed.
        self._headers: dict[str, tuple[str, int, list[tuple[int, Desc]]]] = {}
        self._snmp6: dict[str, tuple[str, Desc | None]] = {}

    def desc(self, protocol: str, name: str) -> Desc | None:
        """The family of a field, or None when --collector.netstat.fields leaves it out."""
        key = f"{protocol}_{name}"
        if not self.fields.search(key):
            return None
        return Desc(f"node_netstat_{key}", f"Statistic {protocol}{name}.", "untyped")

    def header(self, path: str, number: int, line: str) -> tuple[str, int, list]:
        got = self._headers.get(line)
        if got is None:
            names = line.split(" ")
            if not names[0].endswith(":"):
                raise ValueError(f"{path}: line {number}: expected a 'Proto:' header")
            protocol = names[0][:-1]
            # A name given twice keeps its last column, as node_exporter's map does.
            columns = {name: i for i, name in enumerate(names[1:], 1)}
            picks = [(i, d) for name, i in columns.items()
                     if (d := self.desc(protocol, name)) is not None]
            if len(self._headers) >= CACHE_LIMIT:
                self._headers.clear()
            got = self._headers[line] = (protocol, len(names), picks)
        return got

    def pairs(self, path: str, text: str) -> Stats:
        """`Proto: A B` / `Proto: 1 2` line pairs; every value is checked, reported or not."""
        out: Stats = {}
        lines = text.splitlines()
        for i in range(0, len(lines), 2):
            protocol, count, picks = self.header(path, i + 1, lines[i])
            line = lines[i + 1] if i + 1 < len(lines) else ""
            values = line.split(" ")
            if values[0] != f"{protocol}:":
                raise ValueError(f"{path}: line {i + 2}: expected the {protocol!r} values")
            if len(values) != count:
                raise ValueError(f"{path}: {protocol}: {count - 1} names but "
                                 f"{len(values) - 1} values")
            if not INTEGERS.fullmatch(line, len(values[0])):
                for value in values[1:]:
                    number(value, f"{path}: {protocol}")
            out[protocol] = [(desc, values[i]) for i, desc in picks]
        return out

    def snmp6(self, path: str, text: str) -> Stats:
        """`Ip6InReceives  7` lines; lines without a 6 are skipped, as node_exporter does."""
        out: Stats = {}
        cache = self._snmp6
        for token, value in SNMP6_LINE.findall(text):
            got = cache.get(token)
            if got is None:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                six = token.index("6") + 1
                got = cache[token] = (token[:six], self.desc(token[:six], token[six:]))
            protocol, desc = got
            fields = out.setdefault(protocol, [])
            if desc is not None:
                fields.append((desc, value))
            elif not INTEGER.fullmatch(value):
                number(value, f"{path}: {token}")
        return out

    def read(self) -> Stats:
        stats = self.pairs(path := self.proc("net", "netstat"), read_text(path))
        stats.update(self.pairs(path := self.proc("net", "snmp"), read_text(path)))
        try:
            path = self.proc("net", "snmp6")
            stats.update(self.snmp6(path, read_text(path)))
        except FileNotFoundError:
            pass  # IPv6 disabled
        return stats

    def collect(self) -> Iterator[MetricFamily]:
        out = [single(desc, number(value, f"netstat {desc.name}"))
               for fields in self.read().values() for desc, value in fields]
        yield from out
