"""The exporter's configuration: YAML file, then flags, into one frozen `ExporterConfig`.

Nothing else in the exporter reads the command line or the environment: the CLI builds the
config once and hands it to the registry and the server. Every problem is a `ConfigError`
naming the source (file or flag), the key and what is wrong, so the CLI exits 2 with one line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The effective defaults of Debian's prometheus-node-exporter (1.5), the binary users compare
# with (`prometheus-node-exporter --help`; tests/exporter/test_live.py checks they still agree).
# Debian patches upstream's mount-point default to leave out all of /run, /mnt and /media
# (upstream: only /run/credentials/.+); the other four are upstream's unchanged.
DEFAULT_MOUNT_POINTS_EXCLUDE = (
    r"^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)")
DEFAULT_FS_TYPES_EXCLUDE = (
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    r"iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
    r"sysfs|tracefs)$")
DEFAULT_DISK_DEVICE_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"
DEFAULT_NETDEV_DEVICE_EXCLUDE = r"^lo$"
DEFAULT_VMSTAT_FIELDS = r"^(oom_kill|pgpg|pswp|pg.*fault).*"
# 1.5's; later releases add TcpExt_TCPOFOQueue and TcpExt_TCPRcvQDrop.
DEFAULT_NETSTAT_FIELDS = (
    r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
    r"|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)"
    r"|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)"
    r"|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$")

LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """A configuration problem: where it came from, which key, and what is wrong."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem


@dataclass(frozen=True)
class PathsConfig:
    """Where the host's files are (containers mount the host's /proc, /sys and / elsewhere)."""

    procfs: str = "/proc"
    sysfs: str = "/sys"
    rootfs: str = "/"
    udev_data: str = "/run/udev/data"


@dataclass(frozen=True)
class TextfileConfig:
    # Directory (or glob of directories) of *.prom files; empty = none.
    directory: str = ""


@dataclass(frozen=True)
class FilesystemConfig:
    mount_points_exclude: str = DEFAULT_MOUNT_POINTS_EXCLUDE
    fs_types_exclude: str = DEFAULT_FS_TYPES_EXCLUDE
    # Seconds a statfs() may take before the mount is reported with device_error 1 and left
    # alone until that call returns.
    mount_timeout: float = 5.0


@dataclass(frozen=True)
class DiskstatsConfig:
    device_exclude: str = DEFAULT_DISK_DEVICE_EXCLUDE


@dataclass(frozen=True)
class NetdevConfig:
    device_exclude: str = DEFAULT_NETDEV_DEVICE_EXCLUDE


@dataclass(frozen=True)
class VmstatConfig:
    fields: str = DEFAULT_VMSTAT_FIELDS


@dataclass(frozen=True)
class NetstatConfig:
    fields: str = DEFAULT_NETSTAT_FIELDS


@dataclass(frozen=True)
class ArpConfig:
    # Regexes of devices to report (empty: all) and to leave out (empty: none).
    device_include: str = ""
    device_exclude: str = ""


@dataclass(frozen=True)
class NetclassConfig:
    # Regex of devices to leave out (searched in the name).
    ignored_devices: str = "^$"
    # Leave out node_network_speed_bytes where the kernel says -1 (unknown); 1.5 reports it.
    ignore_invalid_speed: bool = False


@dataclass(frozen=True)
class HttpConfig:
    # zlib level for gzip responses (only when the scraper's Accept-Encoding asks for gzip).
    gzip_level: int = 1


@dataclass(frozen=True)
class ExporterConfig:
    listen: str = ":9100"
    log_level: str = "info"
    # Leave out the exporter's own process_* metrics (--web.disable-exporter-metrics).
    disable_exporter_metrics: bool = False
    # Enabled collectors; `resolve_collectors` fills it from the defaults and the overrides.
    collectors: frozenset[str] = frozenset()
    paths: PathsConfig = field(default_factory=PathsConfig)
    textfile: TextfileConfig = field(default_factory=TextfileConfig)
    filesystem: FilesystemConfig = field(default_factory=FilesystemConfig)
    diskstats: DiskstatsConfig = field(default_factory=DiskstatsConfig)
    netdev: NetdevConfig = field(default_factory=NetdevConfig)
    vmstat: VmstatConfig = field(default_factory=VmstatConfig)
    netstat: NetstatConfig = field(default_factory=NetstatConfig)
    arp: ArpConfig = field(default_factory=ArpConfig)
    netclass: NetclassConfig = field(default_factory=NetclassConfig)
    http: HttpConfig = field(default_factory=HttpConfig)


SECTIONS: dict[str, type] = {
    "paths": PathsConfig, "textfile": TextfileConfig, "filesystem": FilesystemConfig,
    "diskstats": DiskstatsConfig, "netdev": NetdevConfig, "vmstat": VmstatConfig,
    "netstat": NetstatConfig, "arp": ArpConfig, "netclass": NetclassConfig,
    "http": HttpConfig,
}
REGEX_KEYS = {("filesystem", "mount_points_exclude"), ("filesystem", "fs_types_exclude"),
              ("diskstats", "device_exclude"), ("netdev", "device_exclude"),
              ("vmstat", "fields"), ("netstat", "fields"), ("arp", "device_include"),
              ("arp", "device_exclude"), ("netclass", "ignored_devices")}


def unknown_collector_message(names: list[str], valid: list[str]) -> str:
    return (f"unknown collector{'s' if len(names) > 1 else ''} {', '.join(names)}; "
            f"valid collectors: {', '.join(sorted(valid))}")


def _check_value(source: str, key: str, value: Any, want: type) -> Any:
    """`value` as `want` (int accepted for float), else a ConfigError naming the key."""
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, want) and not (want is not bool and isinstance(value, bool)):
        return value
    got = "null" if value is None else type(value).__name__
    raise ConfigError(source, key, f"expected {want.__name__}, got {got} ({value!r})")


def _section(source: str, name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(source, name, f"expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(source, f"{name}.{key}",
                              f"unknown key; valid keys: {', '.join(fields)}")
        default = getattr(cls(), key)
        values[key] = _check_value(source, f"{name}.{key}", value, type(default))
    return cls(**values)


def parse_file(path: str, text: str, known: list[str]
               ) -> tuple[dict[str, Any], dict[str, bool], bool]:
    """A YAML config file into (ExporterConfig fields, collector overrides, disable_defaults)."""
    import yaml  # only when there is a file: it costs RSS

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, where, f"invalid YAML: {problem}") from None
    if raw is None:
        return {}, {}, False
    if not isinstance(raw, Mapping):
        raise ConfigError(path, "(top level)", f"expected a mapping, got {type(raw).__name__}")
    values: dict[str, Any] = {}
    collectors: dict[str, bool] = {}
    top = {"listen": str, "log_level": str, "disable_exporter_metrics": bool,
           "collectors": dict, "disable_defaults": bool,
           **{k: dict for k in SECTIONS}}
    for key, value in raw.items():
        if key not in top:
            raise ConfigError(path, str(key), f"unknown key; valid keys: {', '.join(top)}")
        if key in SECTIONS:
            values[key] = _section(path, key, SECTIONS[key], value)
        elif key == "collectors":
            if not isinstance(value, Mapping):
                raise ConfigError(path, key, f"expected a mapping of collector name to "
                                  f"true/false, got {type(value).__name__}")
            bad = [str(n) for n in value if n not in known]
            if bad:
                raise ConfigError(path, "collectors", unknown_collector_message(bad, known))
            for name, on in value.items():
                collectors[name] = _check_value(path, f"collectors.{name}", on, bool)
        else:
            values[key] = _check_value(path, key, value, top[key])
    disable_defaults = values.pop("disable_defaults", False)
    return values, collectors, disable_defaults


def resolve_collectors(defaults: list[str], overrides: Mapping[str, bool],
                       disable_defaults: bool) -> frozenset[str]:
    enabled = set() if disable_defaults else set(defaults)
    for name, on in overrides.items():
        (enabled.add if on else enabled.discard)(name)
    return frozenset(enabled)


def validate(config: ExporterConfig, source: str) -> ExporterConfig:
    """Check what types cannot: log level, regexes, numbers in range, the listen address."""
    if config.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(source, "log_level", f"must be one of {', '.join(LOG_LEVELS)}, "
                          f"got {config.log_level!r}")
    for section, key in REGEX_KEYS:
        pattern = getattr(getattr(config, section), key)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(source, f"{section}.{key}", f"invalid regular expression "
                              f"{pattern!r}: {exc}") from None
    if not config.filesystem.mount_timeout > 0:
        raise ConfigError(source, "filesystem.mount_timeout", "must be > 0")
    if not 0 <= config.http.gzip_level <= 9:
        raise ConfigError(source, "http.gzip_level", "must be between 0 and 9")
    return config


def parse_listen(listen: str) -> tuple[str | None, int]:
    """`HOST:PORT`, `[V6]:PORT` or `:PORT` (all interfaces) into (host or None, port)."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad listen address {listen!r}: expected HOST:PORT with a port "
                         f"between 1 and 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"bad listen address {listen!r}: write IPv6 hosts as [ADDR]:PORT")
    return (host or None), int(port_text)
