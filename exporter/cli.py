"""`promwire-exporter` / `python -m exporter`: flags, config file, logging, and a clean exit.

Exit codes: 0 after SIGINT/SIGTERM; 1 when it cannot serve (port in use, bad --listen);
2 for a bad configuration (unknown collector, invalid YAML, a wrong key or type, bad flags).
Flags override the file; node_exporter's flag names work too, so it can be dropped in.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import signal
import sys
from collections.abc import Sequence
from typing import Any

from exporter import __version__
from exporter.collectors import COLLECTORS, default_collectors
from exporter.config import (
    ConfigError,
    ExporterConfig,
    parse_file,
    parse_listen,
    resolve_collectors,
    unknown_collector_message,
    validate,
)

log = logging.getLogger("exporter")

# flag -> (config section or None for top level, key)
OPTIONS: dict[str, tuple[str | None, str, type, str]] = {
    "--collector.textfile.directory": ("textfile", "directory", str,
                                       "directory (or glob) of *.prom files"),
    "--collector.filesystem.mount-points-exclude": ("filesystem", "mount_points_exclude", str,
                                                    "regex of mount points to leave out"),
    "--collector.filesystem.fs-types-exclude": ("filesystem", "fs_types_exclude", str,
                                                "regex of filesystem types to leave out"),
    "--collector.filesystem.mount-timeout": ("filesystem", "mount_timeout", float,
                                             "seconds before a hung statfs() is given up"),
    "--collector.diskstats.device-exclude": ("diskstats", "device_exclude", str,
                                             "regex of block devices to leave out"),
    "--collector.netdev.device-exclude": ("netdev", "device_exclude", str,
                                          "regex of network devices to leave out"),
    "--collector.vmstat.fields": ("vmstat", "fields", str, "regex of /proc/vmstat fields"),
    "--collector.netstat.fields": ("netstat", "fields", str,
                                   "regex of netstat fields (PROTOCOL_Name) to report"),
    "--collector.arp.device-include": ("arp", "device_include", str,
                                       "regex of devices whose ARP entries to report"),
    "--collector.arp.device-exclude": ("arp", "device_exclude", str,
                                       "regex of devices whose ARP entries to leave out"),
    "--collector.netclass.ignored-devices": ("netclass", "ignored_devices", str,
                                             "regex of network devices to leave out"),
    "--collector.netclass.ignore-invalid-speed": ("netclass", "ignore_invalid_speed", bool,
                                                  "leave out speeds the kernel reports as -1"),
    "--path.procfs": ("paths", "procfs", str, "procfs mount point (default /proc)"),
    "--path.sysfs": ("paths", "sysfs", str, "sysfs mount point (default /sys)"),
    "--path.rootfs": ("paths", "rootfs", str, "root filesystem mount point (default /)"),
    "--path.udev.data": ("paths", "udev_data", str, "udev data path (default /run/udev/data)"),
}
COLLECTOR_FLAG = re.compile(r"^--(?:no-)?collector\.([^=]+)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="promwire-exporter", allow_abbrev=False,
        description="Host metrics for Prometheus with node_exporter's names. Flags override "
        "the --config file.")
    p.add_argument("--listen", "--web.listen-address", dest="listen", metavar="HOST:PORT",
                   help="address to serve on (default :9100, all interfaces)")
    p.add_argument("--config", metavar="FILE", help="YAML configuration file")
    p.add_argument("--log-level", "--log.level", dest="log_level", metavar="LEVEL",
                   help="debug, info, warning or error (default info)")
    p.add_argument("--web.disable-exporter-metrics", dest="disable_exporter_metrics",
                   action="store_true", default=None,
                   help="leave out the exporter's own process_* metrics")
    p.add_argument("--collector.disable-defaults", dest="disable_defaults",
                   action="store_true", default=None,
                   help="start from no collectors; enable each with --collector.NAME")
    for name in sorted(COLLECTORS):
        p.add_argument(f"--collector.{name}", dest=f"collector_{name}", action="store_true",
                       default=None, help=f"enable the {name} collector "
                       f"(--no-collector.{name} disables it)")
        p.add_argument(f"--no-collector.{name}", dest=f"collector_{name}",
                       action="store_false", help=argparse.SUPPRESS)
    for flag, (_, key, kind, help) in OPTIONS.items():
        if kind is bool:  # kingpin's spelling: --flag / --no-flag
            p.add_argument(flag, dest=f"opt_{flag}", action="store_true", default=None,
                           help=f"{help} (--no-{flag[2:]} turns it off)")
            p.add_argument(f"--no-{flag[2:]}", dest=f"opt_{flag}", action="store_false",
                           help=argparse.SUPPRESS)
        else:
            p.add_argument(flag, dest=f"opt_{flag}", type=kind, metavar=key.upper(),
                           help=help)
    p.add_argument("--version", action="version", version=f"promwire-exporter {__version__}")
    return p


def unknown_collectors(argv: Sequence[str]) -> list[str]:
    """Names in --collector.NAME / --no-collector.NAME that are no collector."""
    bad = []
    for arg in argv:
        m = COLLECTOR_FLAG.match(arg)
        if m and "." not in m.group(1) and m.group(1) not in COLLECTORS \
                and m.group(1) != "disable-defaults":
            bad.append(m.group(1))
    return bad


def load(args: argparse.Namespace) -> ExporterConfig:
    """File, then flags, into one validated ExporterConfig; raises ConfigError."""
    values: dict[str, Any] = {}
    overrides: dict[str, bool] = {}
    disable_defaults = False
    source = "flags"
    if args.config:
        source = args.config
        try:
            with open(args.config, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise ConfigError(args.config, "--config", f"cannot read: {exc.strerror}") from None
        values, overrides, disable_defaults = parse_file(args.config, text, sorted(COLLECTORS))
    if args.disable_defaults:
        disable_defaults = True
    for name in COLLECTORS:
        flag = getattr(args, f"collector_{name}")
        if flag is not None:
            overrides[name] = flag
    for key in ("listen", "log_level", "disable_exporter_metrics"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    config = ExporterConfig(**values)
    for flag, (section, key, _, _) in OPTIONS.items():
        value = getattr(args, f"opt_{flag}")
        if value is not None:
            part = dataclasses.replace(getattr(config, section), **{key: value})
            config = dataclasses.replace(config, **{section: part})
    enabled = resolve_collectors(default_collectors(), overrides, disable_defaults)
    config = dataclasses.replace(config, collectors=enabled)
    return validate(config, source)


def serve(config: ExporterConfig) -> None:
    """Serve until SIGINT/SIGTERM; bind errors propagate as OSError for `main`."""
    from exporter.registry import Registry
    from exporter.server import create_server

    host, port = parse_listen(config.listen)
    registry = Registry(config)
    try:
        server = create_server(registry, host, port, config.http.gzip_level)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: server.stop())
        log.info("promwire-exporter %s listening on %s with collectors %s", __version__,
                 config.listen, ", ".join(registry.names))
        server.serve_forever()
        log.info("stopped")
    finally:
        registry.close()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    bad = unknown_collectors(argv)
    if bad:
        print(f"promwire-exporter: {unknown_collector_message(bad, sorted(COLLECTORS))}",
              file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        config = load(args)
    except ConfigError as exc:
        print(f"promwire-exporter: bad configuration: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        parse_listen(config.listen)
    except ValueError as exc:
        print(f"promwire-exporter: {exc}", file=sys.stderr)
        return 1
    try:
        serve(config)
    except OSError as exc:
        print(f"promwire-exporter: cannot listen on {config.listen}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
