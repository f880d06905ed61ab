"""`cpu`: time per CPU and mode from /proc/stat, as node_exporter 1.5's cpu collector.

Also, on Linux: thermal throttle counts per core and package from
/sys/devices/system/cpu/cpu*/thermal_throttle (read once per core and per package, as 1.5
does; CPUs without topology files are skipped), isolated CPUs from
/sys/devices/system/cpu/isolated, and with `--collector.cpu.info` the /proc/cpuinfo families
(node_cpu_info per CPU; node_cpu_flag_info and node_cpu_bug_info for the first CPU's flags
and bugs that match `--collector.cpu.info.flags-include` / `bugs-include`; either regex turns
the info on, as in 1.5). /proc/cpuinfo is parsed with procfs' x86 rules.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, go_uint, option, read_text
from exporter.exposition import Desc, Family, MetricFamily

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

# node_exporter (prometheus/procfs) assumes USER_HZ = 100, as every Linux ABI in use does.
USER_HZ = 100
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
GUEST_MODES = ("user", "nice")

SECONDS = Desc("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "counter",
               ("cpu", "mode"))
GUEST = Desc("node_cpu_guest_seconds_total",
             "Seconds the CPUs spent in guests (VMs) for each mode.", "counter", ("cpu", "mode"))


INFO = Desc("node_cpu_info", "CPU information from /proc/cpuinfo.", "gauge",
            ("cachesize", "core", "cpu", "family", "microcode", "model", "model_name", "package",
             "stepping", "vendor"))
FLAG_INFO = Desc("node_cpu_flag_info", "The `flags` field of CPU information from /proc/cpuinfo "
                 "taken from the first core.", "gauge", ("flag",))
BUG_INFO = Desc("node_cpu_bug_info", "The `bugs` field of CPU information from /proc/cpuinfo "
                "taken from the first core.", "gauge", ("bug",))
CORE_THROTTLES = Desc("node_cpu_core_throttles_total",
                      "Number of times this CPU core has been throttled.", "counter",
                      ("core", "package"))
PACKAGE_THROTTLES = Desc("node_cpu_package_throttles_total",
                         "Number of times this CPU package has been throttled.", "counter",
                         ("package",))
ISOLATED = Desc("node_cpu_isolated", "Whether each core is isolated, information from "
                "/sys/devices/system/cpu/isolated.", "gauge", ("cpu",))
# /proc/cpuinfo keys whose values procfs parses as numbers (a bad one fails the parse).
CPUINFO_UINTS = ("processor", "siblings", "cpu cores", "cpuid level", "clflush size",
                 "cache_alignment")
CPUINFO_FLOATS = ("cpu MHz", "bogomips")
GO_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
UINT = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class CpuConfig:
    guest: bool = option("--collector.cpu.guest", True,
                         "report node_cpu_guest_seconds_total")
    info: bool = option("--collector.cpu.info", False,
                        "report node_cpu_info from /proc/cpuinfo")
    info_flags_include: str = option(
        "--collector.cpu.info.flags-include", "",
        "regex of /proc/cpuinfo flags to report as node_cpu_flag_info (implies info)",
        regex=True)
    info_bugs_include: str = option(
        "--collector.cpu.info.bugs-include", "",
        "regex of /proc/cpuinfo bugs to report as node_cpu_bug_info (implies info)",
        regex=True)


def parse_cpuinfo(path: str, text: str) -> list[dict[str, str]]:
    """procfs' parseCPUInfoX86: one dict per `processor` block; values after `: `."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("processor") or ":" not in lines[0]:
        raise ValueError(f"{path}: invalid cpuinfo file: {lines[0][:60] if lines else ''!r}")
    cpus: list[dict[str, str]] = []
    for line in lines:
        if ":" not in line:
            continue
        key, _, value = line.partition(": ")
        key = key.strip()
        if key == "processor":
            cpus.append({})
        if key in CPUINFO_UINTS and (go_uint(value) is None or go_uint(value) >= 1 << 32):
            raise ValueError(f"{path}: {key}: {value[:30]!r} is no unsigned integer")
        if key in CPUINFO_FLOATS and GO_FLOAT.fullmatch(value) is None:
            raise ValueError(f"{path}: {key}: {value[:30]!r} is no number")
        if key == "vendor":
            key = "vendor_id"
        cpus[-1][key] = value
    return cpus


def cpu_list(text: str, where: str) -> list[str]:
    """A kernel CPU list ("1,3-5,9") as CPU numbers; empty text is no CPU."""
    out: list[str] = []
    for part in text.strip().split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not UINT.fullmatch(low) or (dash and not UINT.fullmatch(high)):
            raise ValueError(f"{where}: invalid CPU list part {part[:20]!r}")
        out.extend(str(n) for n in range(int(low), int(high if dash else low) + 1))
    return out


def read_uint(path: str) -> int | None:
    """readUintFromFile: the file's trimmed decimal value, None if absent or no number."""
    try:
        text = read_text(path).strip()
    except OSError:
        return None
    return int(text) if UINT.fullmatch(text) and int(text) < 1 << 64 else None


class CpuCollector(Collector):
    name = "cpu"
    options = CpuConfig
    platforms = ("linux", "darwin", "freebsd", "openbsd", "netbsd", "win32")
    fallback = "psutil"

    def __init__(self, config: ExporterConfig, backend: str | None = None) -> None:
        super().__init__(config, backend)
        options = config.cpu
        self.guest = options.guest
        self.flags = re.compile(options.info_flags_include) if options.info_flags_include \
            else None
        self.bugs = re.compile(options.info_bugs_include) if options.info_bugs_include else None
        self.info = options.info or self.flags is not None or self.bugs is not None
        # Per-CPU label tuples, built once: ("0", "idle") ... in MODES order.
        self._keys: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {}

    def keys(self, cpu: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
        got = self._keys.get(cpu)
        if got is None:
            got = (tuple((cpu, m) for m in MODES), tuple((cpu, m) for m in GUEST_MODES))
            self._keys[cpu] = got
        return got

    def collect_procfs(self) -> Iterator[MetricFamily]:
        if self.info:
            yield from self.cpuinfo()
        yield from self.stat()
        yield from self.isolated()
        yield from self.throttles()

    def cpuinfo(self) -> Iterator[Family]:
        path = self.proc("cpuinfo")
        cpus = parse_cpuinfo(path, read_text(path))
        info = Family(INFO)
        for cpu in cpus:
            g = cpu.get
            info.samples.append(((g("cache size", ""), g("core id", ""),
                                  str(go_uint(g("processor", "0")) or 0), g("cpu family", ""),
                                  g("microcode", ""), g("model", ""), g("model name", ""),
                                  g("physical id", ""), g("stepping", ""), g("vendor_id", "")),
                                 1))
        yield info
        for desc, pattern, key in ((FLAG_INFO, self.flags, "flags"), (BUG_INFO, self.bugs, "bugs")):
            if pattern is not None and cpus:
                values = cpus[0].get(key, "").split()
                family = Family(desc, [((v,), 1) for v in values if pattern.search(v)])
                if family.samples:
                    yield family

    def isolated(self) -> Iterator[Family]:
        path = self.sys("devices", "system", "cpu", "isolated")
        try:
            text = read_text(path)
        except FileNotFoundError:
            return
        family = Family(ISOLATED, [((cpu,), 1) for cpu in cpu_list(text, path)])
        if family.samples:
            yield family

    def throttles(self) -> Iterator[Family]:
        """Per package and per (package, core): the first CPU's count, as 1.5 reads them."""
        base = self.sys("devices", "system", "cpu")
        packages: dict[int, int] = {}
        cores: dict[tuple[int, int], int | None] = {}
        for cpu in sorted(glob.glob(os.path.join(glob.escape(base), "cpu[0-9]*"))):
            if not os.path.isdir(os.path.join(cpu, "thermal_throttle")):
                continue  # nothing to report for it (VMs): skip its topology reads
            package = read_uint(os.path.join(cpu, "topology", "physical_package_id"))
            core = read_uint(os.path.join(cpu, "topology", "core_id"))
            if package is None or core is None:
                continue
            if (package, core) not in cores:
                cores[(package, core)] = read_uint(
                    os.path.join(cpu, "thermal_throttle", "core_throttle_count"))
            if package not in packages:
                count = read_uint(os.path.join(cpu, "thermal_throttle", "package_throttle_count"))
                if count is not None:
                    packages[package] = count
        if packages:
            yield Family(PACKAGE_THROTTLES, [((str(p),), n) for p, n in packages.items()])
        family = Family(CORE_THROTTLES, [((str(c), str(p)), n) for (p, c), n in cores.items()
                                         if n is not None])
        if family.samples:
            yield family

    def stat(self) -> Iterator[Family]:
        seconds, guest = Family(SECONDS), Family(GUEST)
        add, add_guest = seconds.samples.append, guest.samples.append
        for line in read_text(self.proc("stat")).splitlines():
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            fields = line.split()
            keys, guest_keys = self.keys(fields[0][3:])
            ticks = fields[1:]
            for key, value in zip(keys, ticks, strict=False):
                add((key, int(value) / USER_HZ))
            if len(ticks) >= 10:
                add_guest((guest_keys[0], int(ticks[8]) / USER_HZ))
                add_guest((guest_keys[1], int(ticks[9]) / USER_HZ))
        yield seconds
        if self.guest:
            yield guest

    def collect_psutil(self) -> Iterator[MetricFamily]:
        psutil = self.psutil()

        seconds, guest = Family(SECONDS), Family(GUEST)
        for i, times in enumerate(psutil.cpu_times(percpu=True)):
            cpu = str(i)
            values = times._asdict()
            for mode in MODES:
                if mode in values:
                    seconds.add((cpu, mode), float(values[mode]))
            for mode, field in (("user", "guest"), ("nice", "guest_nice")):
                if field in values:
                    guest.add((cpu, mode), float(values[field]))
        yield seconds
        if guest.samples:
            yield guest
