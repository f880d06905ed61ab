"""`interrupts` (off by default): interrupts per CPU from /proc/interrupts, as 1.5.

`node_interrupts_total{cpu,type,info,devices}`: `type` is the line's name without its colon
(`0`, `NMI`, `LOC`), `info` the controller and trigger of a numbered interrupt (its devices in
`devices`) or the description of a named one (`devices` empty). The header line gives the
number of CPU columns; lines with fewer columns (ERR, MIS) are skipped and, as 1.5 keys
interrupts by name, a repeated name keeps its last line. An empty file or a count that is no
number fails the collector; without the file the family is left out, success 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.collectors.go_float import parse_float
from exporter.exposition import Desc, Family, MetricFamily

INTERRUPTS = Desc("node_interrupts_total", "Interrupt details.", "counter",
                  ("cpu", "type", "info", "devices"))


def parse(text: str, path: str) -> dict[str, tuple[str, str, list[str]]]:
    """{name: (info, devices, counts per CPU)}, as node_exporter's parseInterrupts."""
    lines = text.splitlines()
    if not lines:
        raise ValueError(f"{path}: empty")
    cpus = len(lines[0].split())
    found: dict[str, tuple[str, str, list[str]]] = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < cpus + 2:
            continue
        name = parts[0][:-1]
        if name.isascii() and name.lstrip("+-").isdigit():
            found[name] = (parts[cpus + 1], " ".join(parts[cpus + 2:]), parts[1:cpus + 1])
        else:
            found[name] = (" ".join(parts[cpus + 1:]), "", parts[1:cpus + 1])
    return found


class InterruptsCollector(Collector):
    name = "interrupts"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("interrupts")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist") from None
        family = Family(INTERRUPTS)
        for name, (info, devices, counts) in parse(text, path).items():
            for cpu, count in enumerate(counts):
                value = parse_float(count, f"{path}: {name}")
                family.samples.append(((str(cpu), name, info, devices), value))
        if family.samples:
            yield family
