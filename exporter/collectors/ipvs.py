"""`ipvs`: IP Virtual Server totals and backends from /proc/net/ip_vs*, as node_exporter 1.5.

Totals (hex counters) come from /proc/net/ip_vs_stats; per backend, /proc/net/ip_vs gives the
weight and active/inactive connections, summed over backends that share the reported label
values (`--collector.ipvs.backend-labels` picks them, all six by default). Without the ip_vs
module the files do not exist: no families, success 0 (1.5's "no data"), never a 0 that
would read as "no connections".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, NoDataError, option, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

BACKEND_LABELS = ("local_address", "local_port", "remote_address", "remote_port", "proto",
                  "local_mark")


def _total(name: str, help: str) -> Desc:
    return Desc(f"node_ipvs_{name}", help, "counter")


TOTALS = (_total("connections_total", "The total number of connections made."),
          _total("incoming_packets_total", "The total number of incoming packets."),
          _total("outgoing_packets_total", "The total number of outgoing packets."),
          _total("incoming_bytes_total", "The total amount of incoming data."),
          _total("outgoing_bytes_total", "The total amount of outgoing data."))
HEX = re.compile(r"[0-9a-fA-F]{1,16}")
DECIMAL = re.compile(r"[0-9]{1,20}")


def parse_labels(text: str) -> tuple[str, ...]:
    """`--collector.ipvs.backend-labels`: a comma separated subset, kept in 1.5's order."""
    wanted = {label for label in text.split(",") if label}
    return tuple(label for label in BACKEND_LABELS if label in wanted)


def unknown_labels(text: str) -> str | None:
    """What 1.5 refuses to start with: a backend label it does not know."""
    unknown = sorted({label for label in text.split(",") if label} - set(BACKEND_LABELS))
    if unknown:
        return (f"unknown IPVS backend labels: {', '.join(unknown)}; valid: "
                f"{', '.join(BACKEND_LABELS)}")
    return None


@dataclass(frozen=True)
class IpvsConfig:
    backend_labels: str = option(
        "--collector.ipvs.backend-labels", ",".join(BACKEND_LABELS),
        "comma separated list of IPVS backend stats labels", check=unknown_labels)


def parse_stats(path: str, text: str) -> list[int]:
    """The five totals on the third line of ip_vs_stats (hex), as procfs reads them."""
    lines = text.split("\n", 3)
    if len(lines) != 4:
        raise ValueError(f"{path}: corrupt: too short")
    fields = lines[2].split()
    if len(fields) != 5 or not all(HEX.fullmatch(f) for f in fields):
        raise ValueError(f"{path}: corrupt: expected five hex counters on line 3")
    return [int(f, 16) for f in fields]


def go_ip(packed: bytes) -> str:
    """net.IP.String(): dotted IPv4 (also for v4-mapped v6), else the compressed IPv6 form."""
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def ip_port(text: str) -> tuple[str, str]:
    """procfs' parseIPPort: `C0A80016:0CEA` or `[v6 address]:PORT` into (address, port)."""
    if len(text) == 13 and HEX.fullmatch(text[:8]) and len(text[:8]) == 8:
        address = go_ip(bytes.fromhex(text[:8]))
    elif len(text) == 46:
        try:
            address = go_ip(ipaddress.IPv6Address(text[1:40]).packed)
        except ValueError:
            raise ValueError(f"invalid IPv6 address: {text[1:40]!r}") from None
    else:
        raise ValueError(f"unexpected IP:Port: {text[:60]!r}")
    port = text[-4:]
    if HEX.fullmatch(port) is None:
        raise ValueError(f"unexpected port: {port!r}")
    return address, str(int(port, 16))


def parse_backends(path: str, text: str) -> list[tuple[dict[str, str], tuple[int, int, int]]]:
    """Per backend line: its labels and (active, inactive, weight)."""
    out = []
    service = {"local_address": "", "local_port": "0", "proto": "", "local_mark": ""}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] in ("IP", "Prot") or fields[1:2] == ["RemoteAddress:Port"]:
            continue
        if fields[0] in ("TCP", "UDP") and len(fields) > 1:
            address, port = ip_port(fields[1])
            service = {"local_address": address, "local_port": port, "proto": fields[0],
                       "local_mark": ""}
        elif fields[0] == "FWM" and len(fields) > 1:
            service = {"local_address": "", "local_port": "0", "proto": "FWM",
                       "local_mark": fields[1]}
        elif fields[0] == "->" and len(fields) >= 6:
            address, port = ip_port(fields[1])
            numbers = fields[3:6]
            if not all(DECIMAL.fullmatch(n) for n in numbers):
                raise ValueError(f"{path}: line {number}: weight and connections must be "
                                 f"unsigned integers")
            weight, active, inactive = (int(n) for n in numbers)
            out.append(({**service, "remote_address": address, "remote_port": port},
                        (active, inactive, weight)))
    return out


class IpvsCollector(Collector):
    name = "ipvs"
    options = IpvsConfig

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.labels = parse_labels(config.ipvs.backend_labels)
        self.backend_descs = (
            Desc("node_ipvs_backend_connections_active",
                 "The current active connections by local and remote address.", "gauge",
                 self.labels),
            Desc("node_ipvs_backend_connections_inactive",
                 "The current inactive connections by local and remote address.", "gauge",
                 self.labels),
            Desc("node_ipvs_backend_weight",
                 "The current backend weight by local and remote address.", "gauge",
                 self.labels))

    def read(self, leaf: str) -> tuple[str, str]:
        path = self.proc("net", leaf)
        try:
            return path, read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist: ip_vs not loaded") from None

    def collect(self) -> Iterator[MetricFamily]:
        path, text = self.read("ip_vs_stats")
        for desc, value in zip(TOTALS, parse_stats(path, text), strict=True):
            yield Family(desc, [((), value)])
        path, text = self.read("ip_vs")
        sums: dict[tuple[str, ...], list[int]] = {}
        for labels, values in parse_backends(path, text):
            key = tuple(labels[name] for name in self.labels)
            total = sums.setdefault(key, [0, 0, 0])
            for i, value in enumerate(values):
                total[i] += value
        families = [Family(desc) for desc in self.backend_descs]
        for key, values in sums.items():
            for family, value in zip(families, values, strict=True):
                family.samples.append((key, value))
        yield from (family for family in families if family.samples)
