"""What every collector is: a name, its options, and `collect()` yielding metric families.

Collectors read the host through `config.paths` (procfs, sysfs, rootfs), so tests point them
at a fixture tree instead of faking anything. On Linux they read /proc and /sys directly (it is
both faster than psutil and exactly what node_exporter reads); elsewhere the ones psutil can
serve fall back to psutil, which follows `psutil.PROCFS_PATH`.

Declaring a collector (its module is all a new collector touches, besides its test and the
README's table; exporter/collectors/__init__.py finds it by itself):

    @dataclass(frozen=True)
    class NetclassConfig:                     # the YAML section `netclass:`
        # field name = YAML key; the type is the default's; regex=True: checked at start-up
        ignored_devices: str = option("--collector.netclass.ignored-devices", "^$",
                                      "regex of network devices to leave out", regex=True)
        ignore_invalid_speed: bool = option("--collector.netclass.ignore-invalid-speed",
                                            False, "leave out speeds the kernel says are -1")

    class NetclassCollector(Collector):
        name = "netclass"                     # --[no-]collector.netclass, collect[]=netclass
        options = NetclassConfig              # read as config.netclass.ignored_devices
        default_enabled = True                # False: off unless --collector.netclass

        def collect(self) -> Iterator[MetricFamily]: ...

The CLI turns each option into its flag (a bool into `--flag` / `--no-flag`, as kingpin),
exporter.config makes the section a field of `ExporterConfig` and a YAML key, and `--help`
lists them under the collector. Flags are node_exporter 1.5's spelling: `--collector.NAME.*`
(1.5 has a few others, e.g. `--collector.powersupply.*`), each declared once. A collector
with a non-Linux fallback sets `fallback = "psutil"` (or "os") and implements
`collect_procfs()` and `collect_psutil()`: the base `collect()` picks one (`by_backend`), so
collectors never test the backend themselves.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import types
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from exporter.exposition import MetricFamily

if TYPE_CHECKING:  # exporter.config builds ExporterConfig from the collectors' options
    from exporter.config import ExporterConfig

LINUX = sys.platform.startswith("linux")


def option(flag: str | None, default: Any, help: str, *, regex: bool = False,
           positive: bool = False, check: Callable[[Any], str | None] | None = None,
           replaces: str | None = None, exclusive_with: str | None = None) -> Any:
    """A dataclass field that is also a command-line flag and a YAML key.

    `flag` is node_exporter's spelling (None: YAML only); the value's type is the default's
    (int is accepted where the default is a float; a tuple default makes a repeatable flag,
    kingpin's Strings(), and a YAML list of strings); `regex=True` compiles it at start-up so
    a bad one exits 2 naming the flag; `positive=True` requires a value > 0; `check` returns
    what else is wrong with a value (a list with unknown names), or None.

    node_exporter's flag pairs, resolved by exporter.config before any collector starts:
    `replaces="KEY"` makes this a deprecated spelling of KEY (1.5's `ignored-devices`,
    `device-blacklist`, ...): its value becomes KEY's (with a warning), and both given
    exits 2 naming both flags. `exclusive_with="KEY"` on an include regex names its
    exclude regex: given together they exit 2; the include alone drops the exclude's
    default (as node_exporter does since 1.6; 1.5 refused an include beside a non-empty
    default exclude).
    """
    return dataclasses.field(default=default, metadata={
        "flag": flag, "help": help, "regex": regex, "positive": positive, "check": check,
        "replaces": replaces, "exclusive_with": exclusive_with})


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """One declared option, as the CLI and the config loader see it."""

    section: str
    key: str
    flag: str | None
    default: Any
    kind: type
    help: str
    regex: bool
    positive: bool
    check: Callable[[Any], str | None] | None = None
    replaces: str | None = None
    exclusive_with: str | None = None

    @property
    def where(self) -> str:
        return f"{self.section}.{self.key}"

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` beyond its type, or None."""
        if self.regex:
            try:
                re.compile(value)
            except re.error as exc:
                return f"invalid regular expression {value!r}: {exc}"
        if self.positive and not value > 0:
            return "must be > 0"
        return self.check(value) if self.check is not None else None


def option_specs(section: str, cls: type) -> list[OptionSpec]:
    """The options of a section dataclass, in declaration order."""
    specs = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        specs.append(OptionSpec(section, f.name, meta.get("flag"), default, type(default),
                                meta.get("help", ""), meta.get("regex", False),
                                meta.get("positive", False), meta.get("check"),
                                meta.get("replaces"), meta.get("exclusive_with")))
    return specs


class NoDataError(Exception):
    """The platform lacks this data (no PSI, no hwmon): success 0, logged at debug only."""


class Collector:
    """Base class: subclasses set `name` (and `options`) and implement `collect` (or
    `collect_procfs` and `collect_<fallback>`); see the module docstring."""

    name: ClassVar[str]
    # The frozen dataclass of its options (config section `name`), or None.
    options: ClassVar[type | None] = None
    # Enabled unless turned off (on a supported platform); False: only with --collector.NAME.
    default_enabled: ClassVar[bool] = True
    # Platforms it can work on; others never enable it by default.
    platforms: ClassVar[tuple[str, ...]] = ("linux",)
    # The backend used off Linux ("psutil", "os"); None for collectors that only read procfs.
    fallback: ClassVar[str | None] = None

    def __init__(self, config: ExporterConfig, backend: str | None = None) -> None:
        self.config = config
        # "procfs" on Linux, else the fallback; tests pick one to compare it with /proc.
        self.backend = backend or ("procfs" if LINUX or self.fallback is None
                                   else self.fallback)
        self.procfs = config.paths.procfs
        self.sysfs = config.paths.sysfs
        self.rootfs = config.paths.rootfs

    def collect(self) -> Iterator[MetricFamily]:
        """One scrape's families, from this host's backend (`collect_procfs` on Linux,
        `collect_psutil` / `collect_os` elsewhere). Procfs-only collectors override this."""
        return self.by_backend("collect")()

    def by_backend(self, what: str) -> Callable[[], Any]:
        """`self.<what>_<backend>`, e.g. `mounts_psutil`: the one place that picks a backend."""
        return getattr(self, f"{what}_{self.backend}")

    def collect_procfs(self) -> Iterator[MetricFamily]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the collector holds (threads, caches); called at shutdown."""

    def psutil(self) -> types.ModuleType:
        """psutil, reading this config's procfs (it follows psutil.PROCFS_PATH on Linux)."""
        import psutil

        if LINUX:
            psutil.PROCFS_PATH = self.procfs
        return psutil

    def proc(self, *parts: str) -> str:
        return os.path.join(self.procfs, *parts)

    def sys(self, *parts: str) -> str:
        return os.path.join(self.sysfs, *parts)


class Matcher:
    """`regex.search(value)` remembered per value: the same devices and mounts come back on
    every scrape. Bounded, since names come and go (veths, containers' mounts)."""

    def __init__(self, pattern: str, limit: int = 10_000) -> None:
        self.search = re.compile(pattern).search
        self.limit = limit
        self._seen: dict[str, bool] = {}

    def __call__(self, value: str) -> bool:
        got = self._seen.get(value)
        if got is None:
            if len(self._seen) >= self.limit:
                self._seen.clear()
            got = self._seen[value] = self.search(value) is not None
        return got


class DeviceFilter:
    """node_exporter's device filter: ignored when the exclude regex matches or an include
    regex is given and does not (empty = not given; Go's MatchString, i.e. re.search)."""

    def __init__(self, exclude: str = "", include: str = "") -> None:
        self.exclude = Matcher(exclude) if exclude else None
        self.include = Matcher(include) if include else None

    def ignored(self, name: str) -> bool:
        return (self.exclude is not None and self.exclude(name)) or \
            (self.include is not None and not self.include(name))


def read_text(path: str) -> str:
    """A whole (small) file as text; /proc files report size 0, so read until EOF."""
    with open(path, "rb", buffering=0) as f:
        return f.read().decode("utf-8", "replace")


def read_optional(path: str) -> str | None:
    """A file's stripped text, or None when it does not exist or cannot be read."""
    try:
        return read_text(path).strip()
    except OSError:
        return None


INTEGER = re.compile(r"-?[0-9]+")


def to_int(text: str, where: str) -> int:
    """A decimal integer as the kernel writes it, else ValueError naming `where`.

    Python's int() also takes "1_000", "+1", " 1" and non-ASCII digits; a file holding those
    is malformed, and the collector reading it must fail rather than report a guess.
    """
    if INTEGER.fullmatch(text) is None:
        raise ValueError(f"{where}: expected an integer, got {text[:40]!r}")
    return int(text)


def supported(collector: type[Collector]) -> bool:
    return any(sys.platform.startswith(p) for p in collector.platforms) or \
        "any" in collector.platforms


def read_attr(path: str) -> str:
    """A sysfs attribute, stripped: one read() of up to 4 KiB, as procfs' SysReadFile does,
    so a broken driver that answers EAGAIN fails the read instead of making it spin."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    return data.strip().decode("utf-8", "replace")


ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")


def valid_utf8(data: bytes) -> str:
    """Text as Go's strings.ToValidUTF8(s, "\ufffd"): each run of invalid bytes becomes one
    U+FFFD (a U+FFFD already in the text stays as it is)."""
    return ESCAPED_BYTES.sub("\ufffd", data.decode("utf-8", "surrogateescape"))


# strconv.ParseInt(s, 0, 64): an optional sign, then 0x/0o/0b or a leading-0 octal or decimal.
GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")


def go_int(text: str, signed: bool = True) -> int | None:
    """Go's ParseInt with base 0 (sysfs writes flags and dev_id as 0x...), None if invalid;
    `go_uint` is ParseUint's twin."""
    m = GO_INT.fullmatch(text)
    if m is None:
        return None
    sign, digits = m.groups()
    if digits[:2] in ("0x", "0X", "0o", "0O", "0b", "0B"):
        value = int(digits, 0)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    value = -value if sign == "-" else value
    if not signed:
        return value if sign == "" and 0 <= value < 1 << 64 else None
    return value if -(1 << 63) <= value < 1 << 63 else None


def go_uint(text: str) -> int | None:
    """Go's ParseUint with base 0 (fc_host counters are 0x...), None if invalid."""
    return go_int(text, signed=False)


def read_attr_at(dir_fd: int, name: str) -> bytes:
    """A sysfs attribute relative to its device's directory (one path walk per device, not
    per file), unstripped: one read of up to 4 KiB."""
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


UNSIGNED = re.compile(r"[0-9]+")


def to_uint(text: str, where: str) -> int:
    """A non-negative decimal (Go's ParseUint, base 10), else ValueError naming `where`."""
    if UNSIGNED.fullmatch(text) is None or int(text) >= 1 << 64:
        raise ValueError(f"{where}: expected an unsigned integer, got {text[:40]!r}")
    return int(text)


def read_uint(path: str) -> int:
    """procfs' ReadUintFromFile: the whole file, stripped, as an unsigned integer."""
    return to_uint(read_attr(path), path)


def read_int(path: str) -> int:
    """procfs' ReadIntFromFile: the whole file, stripped, as a signed integer."""
    return to_int(read_attr(path), path)


# Errors procfs' readers treat as "this attribute is not there".
ABSENT = (FileNotFoundError, PermissionError)


def optional_uint(path: str) -> int | None:
    """An unsigned attribute, or None when it does not exist or may not be read."""
    try:
        return read_uint(path)
    except ABSENT:
        return None


def numbered(path: str, prefix: str) -> list[str]:
    """Entries `prefix[0-9]*` of `path` (Go's filepath.Glob), sorted; none when `path` does
    not exist (a host without the subsystem)."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return []
    n = len(prefix)
    return sorted(e for e in names if e.startswith(prefix) and e[n:n + 1].isdigit())
