"""The exporter's configuration: YAML file, then flags, into one frozen `ExporterConfig`.

Nothing else in the exporter reads the command line or the environment: the CLI builds the
config once and hands it to the registry and the server. Every problem is a `ConfigError`
naming the source (file or flag), the key and what is wrong, so the CLI exits 2 with one line.

The sections are not listed here: each collector declares its options (exporter/collectors/
base.py, `option`), and this module makes them fields of `ExporterConfig` and YAML keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, make_dataclass
from typing import Any

from exporter.collectors.base import OptionSpec, option, option_specs

LOG_LEVELS = ("debug", "info", "warning", "error", "warn")  # warn: node_exporter's spelling

LOG_FORMATS = ("text", "logfmt", "json")


class ConfigError(Exception):
    """A configuration problem: where it came from, which key, and what is wrong."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem


@dataclass(frozen=True)
class PathsConfig:
    """Where the host's files are (containers mount the host's /proc, /sys and / elsewhere)."""

    procfs: str = option("--path.procfs", "/proc", "procfs mount point")
    sysfs: str = option("--path.sysfs", "/sys", "sysfs mount point")
    rootfs: str = option("--path.rootfs", "/", "root filesystem mount point")
    udev_data: str = option("--path.udev.data", "/run/udev/data", "udev data path")


@dataclass(frozen=True)
class HttpConfig:
    # zlib level for gzip responses (only when the scraper's Accept-Encoding asks for gzip).
    gzip_level: int = option(None, 1, "zlib level of gzip responses (0-9)")


def _sections() -> dict[str, type]:
    """YAML section -> its dataclass: paths, then each collector's options, then http."""
    from exporter.collectors import COLLECTORS  # they import this module only to type hints

    return {"paths": PathsConfig,
            **{name: cls.options for name, cls in COLLECTORS.items() if cls.options},
            "http": HttpConfig}


def _options(sections: Mapping[str, type]) -> list[OptionSpec]:
    """Every declared option; a collector's flags are `--collector.*` and unique (1.5 spells
    a few with another prefix than the collector's name: --collector.powersupply.*)."""
    specs = [spec for name, cls in sections.items() for spec in option_specs(name, cls)]
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.flag is None:
            continue
        if spec.section not in ("paths", "http") and not spec.flag.startswith("--collector."):
            raise RuntimeError(f"{spec.where}: flag {spec.flag} is not a --collector. flag")
        if spec.flag in seen:
            raise RuntimeError(f"{spec.flag} is declared by {seen[spec.flag]} and {spec.where}")
        seen[spec.flag] = spec.where
    return specs


SECTIONS: dict[str, type] = _sections()
OPTIONS: list[OptionSpec] = _options(SECTIONS)
BY_KEY: dict[tuple[str, str], OptionSpec] = {(s.section, s.key): s for s in OPTIONS}
for _spec in OPTIONS:  # a pair names a key of its own section
    for _other in (_spec.replaces, _spec.exclusive_with):
        if _other is not None and (_spec.section, _other) not in BY_KEY:
            raise RuntimeError(f"{_spec.where}: {_other} is no key of {_spec.section}")

# The whole configuration, one frozen dataclass: the top-level keys, then one field per
# section (config.paths, config.netclass, ...), made from the collectors' declarations.
ExporterConfig = make_dataclass("ExporterConfig", [
    ("listen", str, field(default=":9100")),
    ("log_level", str, field(default="info")),
    # text (promwire's own lines), or node_exporter's logfmt / json (--log.format).
    ("log_format", str, field(default="text")),
    # Where the metrics are served (--web.telemetry-path).
    ("telemetry_path", str, field(default="/metrics")),
    # node_exporter's cap on scrapes collected at once (--web.max-requests, 0: none). The
    # server collects one scrape at a time, so any value holds; it is checked, not used.
    ("max_requests", int, field(default=40)),
    # Leave out the exporter's own process_* metrics (--web.disable-exporter-metrics).
    ("disable_exporter_metrics", bool, field(default=False)),
    # Enabled collectors; `resolve_collectors` fills it from the defaults and the overrides.
    ("collectors", frozenset, field(default=frozenset())),
    *((name, cls, field(default_factory=cls)) for name, cls in SECTIONS.items()),
], frozen=True)
ExporterConfig.__module__ = __name__
ExporterConfig.__doc__ = "The exporter's whole configuration (see the module docstring)."


def unknown_collector_message(names: list[str], valid: list[str]) -> str:
    return (f"unknown collector{'s' if len(names) > 1 else ''} {', '.join(names)}; "
            f"valid collectors: {', '.join(sorted(valid))}")


def _check_value(source: str, key: str, value: Any, want: type) -> Any:
    """`value` as `want` (int accepted for float), else a ConfigError naming the key."""
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if want is tuple:  # a repeatable flag's values: a YAML list of strings
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        got = "null" if value is None else type(value).__name__
        raise ConfigError(source, key, f"expected a list of strings, got {got} ({value!r})")
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
    top = {"listen": str, "log_level": str, "log_format": str, "telemetry_path": str,
           "max_requests": int, "disable_exporter_metrics": bool,
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
    if config.log_format not in LOG_FORMATS:
        raise ConfigError(source, "log_format", f"must be one of {', '.join(LOG_FORMATS)}, "
                          f"got {config.log_format!r}")
    if not config.telemetry_path.startswith("/"):
        raise ConfigError(source, "telemetry_path", f"must start with /, got "
                          f"{config.telemetry_path!r}")
    if config.max_requests < 0:
        raise ConfigError(source, "max_requests", "must be >= 0 (0: no limit)")
    for spec in OPTIONS:
        problem = spec.problem(getattr(getattr(config, spec.section), spec.key))
        if problem is not None:
            raise ConfigError(source, spec.where, problem)
    if not 0 <= config.http.gzip_level <= 9:
        raise ConfigError(source, "http.gzip_level", "must be between 0 and 9")
    return resolve_pairs(config, source)


def _value(config: ExporterConfig, spec: OptionSpec) -> Any:
    return getattr(getattr(config, spec.section), spec.key)


def _with(config: ExporterConfig, spec: OptionSpec, value: Any) -> ExporterConfig:
    part = dataclasses.replace(getattr(config, spec.section), **{spec.key: value})
    return dataclasses.replace(config, **{spec.section: part})


def _both(a: OptionSpec, b: OptionSpec) -> str:
    return f"{a.flag} ({a.where}) and {b.flag} ({b.where})"


def resolve_pairs(config: ExporterConfig, source: str) -> ExporterConfig:
    """node_exporter's flag pairs (see `option`): deprecated spellings into the keys they
    stand for, then include/exclude regexes that are mutually exclusive. A key counts as
    given when it differs from its default (1.5 asks whether the flag was passed: only
    passing the default itself beside the other flag is accepted here and refused there).
    Idempotent, so validating twice is harmless: a spelling whose key already holds its
    value is resolved, and a dropped exclude is empty."""
    for spec in OPTIONS:
        value = _value(config, spec)
        if spec.replaces is None or value == spec.default:
            continue
        target = BY_KEY[(spec.section, spec.replaces)]
        if _value(config, target) == value:
            continue
        if _value(config, target) != target.default:
            raise ConfigError(source, _both(spec, target), f"mutually exclusive: {spec.flag} "
                              f"is the deprecated spelling of {target.flag}; give only that")
        config = _with(config, target, value)
    for spec in OPTIONS:
        if spec.exclusive_with is None or _value(config, spec) == "":
            continue
        exclude = BY_KEY[(spec.section, spec.exclusive_with)]
        if _value(config, exclude) not in ("", exclude.default):
            raise ConfigError(source, _both(spec, exclude), "mutually exclusive: give one")
        config = _with(config, exclude, "")
    return config


def deprecated_in_use(config: ExporterConfig) -> list[tuple[str, str]]:
    """(deprecated flag, the flag to use) for each deprecated spelling the config sets, for
    the CLI to warn about once logging is set up (1.5 warns the same way)."""
    return [(str(spec.flag), str(BY_KEY[(spec.section, spec.replaces)].flag))
            for spec in OPTIONS
            if spec.replaces is not None and _value(config, spec) != spec.default]


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
