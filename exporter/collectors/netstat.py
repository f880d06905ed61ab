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

from exporter.collectors.base import Collector, read_text
from exporter.config import ExporterConfig
from exporter.exposition import Desc, MetricFamily, single

INTEGER = re.compile(r"-?[0-9]+")
# What Go's strconv.ParseFloat takes for a decimal (node_exporter parses every value so).
FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|"
                   r"[-+]?(?i:inf|infinity|nan)")

Stats = dict[str, dict[str, str]]


def parse_pairs(path: str, text: str) -> Stats:
    """`Proto: A B` / `Proto: 1 2` line pairs into {proto: {name: value}}."""
    out: Stats = {}
    lines = text.splitlines()
    for i in range(0, len(lines), 2):
        names = lines[i].split(" ")
        values = lines[i + 1].split(" ") if i + 1 < len(lines) else [""]
        protocol = names[0][:-1]  # "Tcp:" -> "Tcp"
        if not names[0].endswith(":") or values[0] != names[0]:
            raise ValueError(f"{path}: line {i + 1}: expected a {names[0]!r} header and "
                             f"value line pair")
        if len(names) != len(values):
            raise ValueError(f"{path}: {protocol}: {len(names) - 1} names but "
                             f"{len(values) - 1} values")
        out[protocol] = dict(zip(names[1:], values[1:], strict=True))
    return out


def parse_snmp6(text: str) -> Stats:
    """`Ip6InReceives  7` lines into {"Ip6": {"InReceives": "7"}}; lines without a 6 are not
    per-protocol counters and are skipped, as node_exporter does."""
    out: Stats = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        six = fields[0].find("6")
        if six >= 0:
            out.setdefault(fields[0][:six + 1], {})[fields[0][six + 1:]] = fields[1]
    return out


def number(value: str, where: str) -> int | float:
    if INTEGER.fullmatch(value):
        return int(value)
    if FLOAT.fullmatch(value):
        return float(value)
    raise ValueError(f"{where}: invalid value {value[:40]!r}")


class NetstatCollector(Collector):
    name = "netstat"

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.fields = re.compile(config.netstat.fields)
        # Desc per key, or None when the field regex leaves the key out; keys are the
        # kernel's (a few hundred), so this stays small.
        self._descs: dict[str, Desc | None] = {}

    def desc(self, protocol: str, name: str) -> Desc | None:
        key = f"{protocol}_{name}"
        if key not in self._descs:
            if len(self._descs) > 10_000:  # garbled files must not grow it without bound
                self._descs.clear()
            self._descs[key] = (Desc(f"node_netstat_{key}", f"Statistic {protocol}{name}.",
                                     "untyped") if self.fields.search(key) else None)
        return self._descs[key]

    def read(self) -> Stats:
        stats = parse_pairs(path := self.proc("net", "netstat"), read_text(path))
        stats.update(parse_pairs(path := self.proc("net", "snmp"), read_text(path)))
        try:
            stats.update(parse_snmp6(read_text(self.proc("net", "snmp6"))))
        except FileNotFoundError:
            pass  # IPv6 disabled
        return stats

    def collect(self) -> Iterator[MetricFamily]:
        # Every value must be a number, reported or not: node_exporter fails on any.
        out = []
        for protocol, values in self.read().items():
            for name, value in values.items():
                parsed = number(value, f"netstat {protocol} {name}")
                desc = self.desc(protocol, name)
                if desc is not None:
                    out.append(single(desc, parsed))
        yield from out
