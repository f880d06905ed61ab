"""`promwire-exporter` / `python -m exporter`: flags, config file, logging, and a clean exit.

Exit codes: 0 after SIGINT/SIGTERM; 1 when it cannot serve (port in use, bad --listen);
2 for a bad configuration (unknown collector, invalid YAML, a wrong key or type, bad flags).
Flags override the file; node_exporter's flag names work too, so it can be dropped in.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import re
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from exporter import __version__
from exporter.collectors import COLLECTORS, default_collectors
from exporter.collectors.base import OptionSpec
from exporter.config import (
    OPTIONS,
    ConfigError,
    ExporterConfig,
    deprecated_in_use,
    parse_file,
    parse_listen,
    resolve_collectors,
    unknown_collector_message,
    validate,
)

log = logging.getLogger("exporter")

COLLECTOR_FLAG = re.compile(r"^--(?:no-)?collector\.([^=]+)")
# An option's argparse destination: "opt:SECTION.KEY".
DEST = "opt:{}"
# Go's time.ParseDuration units, which kingpin's Duration() flags take (`5s`, `1m30s`).
GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(text: str) -> float:
    """A float flag's value: plain seconds (`5`, `0.5`) or a Go duration (`5s`, `1m30s`,
    `500ms`), since node_exporter's flags are kingpin Durations and units carry them. Not
    NaN or infinite: an endless mount timeout would let a hung mount stall every scrape."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be finite")
        return value
    parts = GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: seconds or a Go "
                                         f"duration such as 5s, 1m30s, 500ms")
    return sum(float(n) * GO_UNITS[u] for n, u in parts)


def add_option(group: argparse._ArgumentGroup, spec: OptionSpec) -> None:
    """One declared option as its flag; a bool is kingpin's `--flag` / `--no-flag` pair."""
    assert spec.flag is not None
    dest = DEST.format(spec.where)
    if spec.kind is bool:
        group.add_argument(spec.flag, dest=dest, action="store_true", default=None,
                           help=f"{spec.help} (default {str(spec.default).lower()}; "
                           f"--no-{spec.flag[2:]} turns it off; YAML {spec.where})"
                           .replace("%", "%%"))
        group.add_argument(f"--no-{spec.flag[2:]}", dest=dest, action="store_false",
                           help=argparse.SUPPRESS)
        return
    if spec.kind is tuple:  # kingpin's Strings(): the flag repeats, each adds one value
        group.add_argument(spec.flag, dest=dest, action="append", type=str, default=None,
                           metavar=spec.key.upper(),
                           help=f"{spec.help} (repeatable; YAML {spec.where}, a list)"
                           .replace("%", "%%"))
        return
    default = f"default {spec.default}; " if spec.default != "" else ""
    kind = seconds if spec.kind is float else spec.kind
    group.add_argument(spec.flag, dest=dest, type=kind, metavar=spec.key.upper(),
                       help=f"{spec.help} ({default}YAML {spec.where})".replace("%", "%%"))


def build_parser() -> argparse.ArgumentParser:
    """Every flag: the fixed ones, then one group per collector built from its declaration."""
    p = argparse.ArgumentParser(
        prog="promwire-exporter", allow_abbrev=False, usage="%(prog)s [flags]",
        description="Host metrics for Prometheus with node_exporter's names. Flags override "
        "the --config file.")
    p.add_argument("--listen", "--web.listen-address", dest="listen", metavar="HOST:PORT",
                   help="address to serve on (default :9100, all interfaces)")
    p.add_argument("--config", metavar="FILE", help="YAML configuration file")
    p.add_argument("--log-level", "--log.level", dest="log_level", metavar="LEVEL",
                   help="debug, info, warning or error (default info)")
    p.add_argument("--log.format", dest="log_format", metavar="FORMAT",
                   help="text (default), or node_exporter's logfmt or json")
    p.add_argument("--web.telemetry-path", dest="telemetry_path", metavar="PATH",
                   help="path of the metrics (default /metrics)")
    p.add_argument("--web.max-requests", dest="max_requests", metavar="N", type=int,
                   help="node_exporter's cap on parallel scrapes (default 40, 0: none); "
                   "promwire collects one scrape at a time, so any value holds")
    p.add_argument("--web.disable-exporter-metrics", dest="disable_exporter_metrics",
                   action="store_true", default=None,
                   help="leave out the exporter's own process_* metrics")
    p.add_argument("--no-web.disable-exporter-metrics", dest="disable_exporter_metrics",
                   action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--collector.disable-defaults", dest="disable_defaults",
                   action="store_true", default=None,
                   help="start from no collectors; enable each with --collector.NAME")
    p.add_argument("--no-collector.disable-defaults", dest="disable_defaults",
                   action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--version", action="version", version=f"promwire-exporter {__version__}")
    by_section: dict[str, list[OptionSpec]] = {}
    for spec in OPTIONS:
        if spec.flag is not None:
            by_section.setdefault(spec.section, []).append(spec)
    paths = p.add_argument_group("paths")
    for spec in by_section.pop("paths", []):
        add_option(paths, spec)
    defaults = set(default_collectors())
    for name in COLLECTORS:
        group = p.add_argument_group(f"collector {name}")
        state = "enabled" if name in defaults else "disabled"
        group.add_argument(f"--collector.{name}", dest=f"collector_{name}",
                           action="store_true", default=None,
                           help=f"enable the {name} collector ({state} by default; "
                           f"--no-collector.{name} disables it)")
        group.add_argument(f"--no-collector.{name}", dest=f"collector_{name}",
                           action="store_false", help=argparse.SUPPRESS)
        for spec in by_section.get(name, []):
            add_option(group, spec)
    return p


def flag_names(parser: argparse.ArgumentParser) -> list[str]:
    """Every long flag the parser takes, --no- forms included."""
    return sorted(f for action in parser._actions for f in action.option_strings
                  if f.startswith("--"))


def unknown_collectors(argv: Sequence[str]) -> list[str]:
    """Names in --collector.NAME / --no-collector.NAME that are no collector."""
    bad = []
    for arg in argv:
        m = COLLECTOR_FLAG.match(arg)
        if m and "." not in m.group(1) and m.group(1) not in COLLECTORS \
                and m.group(1) != "disable-defaults":
            bad.append(m.group(1))
    return bad


def unknown_flag_message(bad: list[str], parser: argparse.ArgumentParser) -> str:
    """The unknown flags and the valid ones: a collector's own when the flag names one."""
    valid = flag_names(parser)
    m = COLLECTOR_FLAG.match(bad[0])
    if m and "." in m.group(1) and m.group(1).split(".", 1)[0] in COLLECTORS:
        prefix = f"collector.{m.group(1).split('.', 1)[0]}."
        valid = [f for f in valid if prefix in f] or valid
    return (f"unknown flag{'s' if len(bad) > 1 else ''} {', '.join(bad)}; "
            f"valid flags: {', '.join(valid)}")


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
    if args.disable_defaults is not None:
        disable_defaults = args.disable_defaults
    for name in COLLECTORS:
        flag = getattr(args, f"collector_{name}")
        if flag is not None:
            overrides[name] = flag
    for key in ("listen", "log_level", "log_format", "telemetry_path", "max_requests",
                "disable_exporter_metrics"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    config = ExporterConfig(**values)
    for spec in OPTIONS:
        value = getattr(args, DEST.format(spec.where), None)
        if value is None:
            continue
        if spec.kind is tuple:
            value = tuple(value)
        problem = spec.problem(value)
        if problem is not None:
            raise ConfigError("flags", f"{spec.flag} ({spec.where})", problem)
        part = dataclasses.replace(getattr(config, spec.section), **{spec.key: value})
        config = dataclasses.replace(config, **{spec.section: part})
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
        server = create_server(registry, host, port, config.http.gzip_level,
                               config.telemetry_path)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: server.stop())
        log.info("promwire-exporter %s listening on %s with collectors %s", __version__,
                 config.listen, ", ".join(registry.names))
        server.serve_forever()
        log.info("stopped")
    finally:
        registry.close()


class LogfmtFormatter(logging.Formatter):
    """node_exporter's logfmt lines: ts=... level=... logger=... msg="..."."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage().replace("\\", "\\\\").replace('"', '\\"')
        return (f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}Z "
                f"level={record.levelname.lower()} logger={record.name} msg=\"{msg}\"")


class JsonFormatter(logging.Formatter):
    """node_exporter's --log.format=json: one object a line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"ts": f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}Z",
                           "level": record.levelname.lower(), "logger": record.name,
                           "msg": record.getMessage()})


def setup_logging(config: ExporterConfig) -> None:
    """stderr at --log.level (node_exporter's `warn` is `warning`), as --log.format says."""
    level = {"warn": "warning"}.get(config.log_level.lower(), config.log_level).upper()
    handler = logging.StreamHandler(sys.stderr)
    if config.log_format == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        formatter = LogfmtFormatter() if config.log_format == "logfmt" else JsonFormatter()
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=[handler])


class UsageError(Exception):
    """A command line or configuration the exporter refuses: exit 2 with this message."""


def configure(argv: Sequence[str]) -> ExporterConfig:
    """The flags (and the --config file they name) into a validated ExporterConfig: all
    `python -m exporter` does before it serves. Raises UsageError (exit 2)."""
    bad = unknown_collectors(argv)
    if bad:
        raise UsageError(unknown_collector_message(bad, sorted(COLLECTORS)))
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    unknown = [a.split("=", 1)[0] for a in extra if a.startswith("-")]
    if unknown:
        raise UsageError(unknown_flag_message(unknown, parser))
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return load(args)
    except ConfigError as exc:
        raise UsageError(f"bad configuration: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        config = configure(argv)
    except UsageError as exc:
        print(f"promwire-exporter: {exc}", file=sys.stderr)
        return 2
    setup_logging(config)
    for old, new in deprecated_in_use(config):
        log.warning("%s is DEPRECATED and will be removed in node_exporter 2.0.0, use %s",
                    old, new)
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
