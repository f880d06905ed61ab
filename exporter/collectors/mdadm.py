"""`mdadm`: Linux software RAID from /proc/mdstat, as node_exporter 1.5 reports it.

1.5 reads only /proc/mdstat (through prometheus/procfs 0.8): per md device its activity
state, required/active/failed/spare disks, and total and synced blocks. The parser follows
procfs' rules line for line, so a device it rejects makes the collector fail here too (success
0) instead of reporting a guess. Without /proc/mdstat (no md driver) the families are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.exposition import Desc, Family, MetricFamily

STATE = Desc("node_md_state", "Indicates the state of md-device.", "gauge", ("device", "state"))
DISKS = Desc("node_md_disks", "Number of active/failed/spare disks of device.", "gauge",
             ("device", "state"))
DISKS_REQUIRED = Desc("node_md_disks_required", "Total number of disks of device.", "gauge",
                      ("device",))
BLOCKS = Desc("node_md_blocks", "Total number of blocks on device.", "gauge", ("device",))
BLOCKS_SYNCED = Desc("node_md_blocks_synced", "Number of blocks synced on device.", "gauge",
                     ("device",))
# node_md_state's label value -> the activity state procfs reports for it.
STATES = (("active", "active"), ("inactive", "inactive"), ("recovering", "recovering"),
          ("resync", "resyncing"), ("check", "checking"))

STATUS_LINE = re.compile(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]")
RECOVERY_BLOCKS = re.compile(r"\((\d+)/\d+\)")
RECOVERY_PCT = re.compile(r"= (.+)%")
RECOVERY_FINISH = re.compile(r"finish=(.+)min")
RECOVERY_SPEED = re.compile(r"speed=(.+)[A-Z]")
# strconv.ParseInt(s, 10, 64) and ParseFloat(s, 64) as procfs uses them.
GO_DECIMAL = re.compile(r"[+-]?[0-9]+")
GO_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|"
                      r"[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])")


@dataclass(frozen=True)
class MDStat:
    name: str
    state: str
    active: int
    total: int
    failed: int
    spare: int
    blocks: int
    synced: int


def go_int(text: str, where: str) -> int:
    if GO_DECIMAL.fullmatch(text) is None or not -(1 << 63) <= int(text) < 1 << 63:
        raise ValueError(f"{where}: expected an integer, got {text[:40]!r}")
    return int(text)


def check_float(text: str, where: str) -> None:
    if GO_FLOAT.fullmatch(text) is None:
        raise ValueError(f"{where}: expected a number, got {text[:40]!r}")


def status_line(device_line: str, status: str) -> tuple[int, int, int]:
    """(active, total, size) from a device's first two lines, as procfs' evalStatusLine."""
    fields = status.split()
    if not fields:
        raise ValueError(f"unexpected status line {status!r}")
    size = go_int(fields[0], f"status line {status!r}")
    if "raid0" in device_line or "linear" in device_line:
        total = device_line.count("[")
        return total, total, size
    if "inactive" in device_line:
        return 0, 0, size
    m = STATUS_LINE.search(status)
    if m is None:
        raise ValueError(f"status line {status!r}: no [total/active] [U_] part")
    return go_int(m.group(3), status), go_int(m.group(2), status), size


def synced_blocks(line: str) -> int:
    """Blocks done from a recovery/resync/check line; its percentage, finish and speed must
    parse too, as procfs requires."""
    m = RECOVERY_BLOCKS.search(line)
    if m is None:
        raise ValueError(f"unexpected recovery line {line!r}")
    synced = go_int(m.group(1), line)
    for pattern, what in ((RECOVERY_PCT, "percentage"), (RECOVERY_FINISH, "finish time"),
                          (RECOVERY_SPEED, "speed")):
        found = pattern.search(line)
        if found is None:
            raise ValueError(f"recovery line {line!r}: no {what}")
        check_float(found.group(1).strip() if what == "percentage" else found.group(1), line)
    return synced


def parse_mdstat(text: str) -> list[MDStat]:
    """procfs' parseMDStat: one entry per `mdN : state ...` line and the lines below it."""
    out = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip() or line[0] == " " or line.startswith(("Personalities", "unused")):
            continue
        fields = line.split()
        if len(fields) < 3:
            raise ValueError(f"not enough fields in md line {line[:80]!r}")
        name, state = fields[0], fields[2]
        if len(lines) <= i + 3:
            raise ValueError(f"too few lines for md device {name}")
        active, total, size = status_line(line, lines[i + 1])
        sync_index = i + 3 if "bitmap" in lines[i + 2] else i + 2
        sync_line = lines[sync_index]
        synced = size
        for word, activity in (("recovery", "recovering"), ("check", "checking"),
                               ("resync", "resyncing")):
            if word in sync_line:
                state = activity
                break
        else:
            sync_line = ""
        if sync_line:
            if "PENDING" in sync_line or "DELAYED" in sync_line:
                synced = 0
            else:
                synced = synced_blocks(sync_line)
        out.append(MDStat(name, state, active, total, line.count("(F)"), line.count("(S)"),
                          size, synced))
    return out


class MdadmCollector(Collector):
    name = "mdadm"

    def collect(self) -> Iterator[MetricFamily]:
        path = self.proc("mdstat")
        try:
            text = read_text(path)
        except FileNotFoundError:
            raise NoDataError(f"{path} does not exist: no md driver") from None
        try:
            devices = parse_mdstat(text)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        required, disks, state = Family(DISKS_REQUIRED), Family(DISKS), Family(STATE)
        blocks, synced = Family(BLOCKS), Family(BLOCKS_SYNCED)
        for md in devices:
            key = (md.name,)
            required.add(key, md.total)
            disks.add((md.name, "active"), md.active)
            disks.add((md.name, "failed"), md.failed)
            disks.add((md.name, "spare"), md.spare)
            for label, activity in STATES:
                state.add((md.name, label), 1 if md.state == activity else 0)
            blocks.add(key, md.blocks)
            synced.add(key, md.synced)
        if devices:
            yield from (required, disks, state, blocks, synced)
