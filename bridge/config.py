"""The bridge's configuration: YAML file, then environment, then flags, into one frozen object.

Nothing else in the bridge reads the environment or the command line: `load_config` builds a
`BridgeConfig` once and `create_app` hands it down. Every problem is a `ConfigError` naming the
file (or source), the key and what is wrong, so the CLI can exit 2 with one clear line.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "PROMWIRE_"


class ConfigError(Exception):
    """A configuration problem: where it came from, which key, and what is wrong."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem


@dataclass(frozen=True)
class CatalogEntry:
    """A named metric: a PromQL expression evaluated per instance, with a title and a unit."""

    name: str
    query: str
    title: str = ""
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class PrometheusConfig:
    url: str = "http://127.0.0.1:9090"
    timeout: float = 10.0
    connect_timeout: float = 2.0
    # Prometheus refuses range queries above this many points per series.
    max_points: int = 11000


@dataclass(frozen=True)
class AlertmanagerConfig:
    url: str = "http://127.0.0.1:9093"
    timeout: float = 5.0
    # Seconds between reconciliations against Alertmanager's /api/v2/alerts; 0 = only at start.
    reconcile_interval: float = 60.0
    # Longest wait between retries while Alertmanager is unreachable (backoff doubles from 1 s).
    reconcile_backoff_max: float = 60.0
    # Only reconcile alerts routed to receivers matching this regex ("" = every active alert).
    receiver: str = ""


@dataclass(frozen=True)
class AuthConfig:
    # Token for write endpoints (webhook, broadcast, raw queries). When unset, the bridge reads or
    # creates `<data_dir>/auth_token` at start-up: writes are never open.
    token: str | None = None
    # When true, reads (REST, WebSocket, SSE) also require the token.
    protect_reads: bool = False


@dataclass(frozen=True)
class HttpConfig:
    # Origins allowed by CORS and for WebSocket upgrades; empty = same origin only. "*" = any.
    allowed_origins: tuple[str, ...] = ()
    # Largest request body accepted by any endpoint, in bytes.
    max_body_bytes: int = 1 << 20
    # Seconds the whole body of a request may take to arrive (a slow or broken upload is 408).
    body_timeout: float = 30.0


@dataclass(frozen=True)
class MetricsConfig:
    # Seconds a current snapshot is reused (single-flight) before Prometheus is asked again.
    cache_ttl: float = 1.0
    # Raw PromQL pass-through (/api/query, /api/query_range, raw WS subscriptions); needs the token.
    raw_queries: bool = False
    # Extra or overriding catalog entries, by name.
    catalog: tuple[CatalogEntry, ...] = ()
    # Default lookback for history when neither start nor range is given.
    default_range: float = 3600.0
    # Seconds the last good snapshot is served (`stale: true`) while Prometheus is unreachable;
    # after that GET /api/metrics/current answers 503.
    max_stale: float = 300.0
    # Most points per series one history request may ask for (larger ranges are split into
    # chunks of prometheus.max_points and stitched; beyond this the step is refused).
    max_history_points: int = 250_000
    # Prometheus jobs that scrape the exporter (GET /api/instances); empty = every job that has
    # exposed node_boot_time_seconds in the last hour.
    exporter_jobs: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamsConfig:
    interval: float = 5.0
    min_interval: float = 1.0
    max_connections: int = 20000
    max_subscriptions: int = 20
    max_message_bytes: int = 64 * 1024
    # Metric frames queued per connection before older ones are replaced by the newest.
    send_queue: int = 4
    # A consumer that cannot take a frame for this long is closed (1008/1013).
    stuck_timeout: float = 30.0
    # Seconds between WebSocket pings and application `heartbeat` frames; 0 = none.
    heartbeat: float = 15.0
    # Distinct subscriptions (shared pollers, each one Prometheus round per tick) in all.
    max_pollers: int = 256
    # Pollers one connection, or all connections from one client address, may have started
    # (a poller stays charged to its starter while shared): one reader cannot take them all.
    # Behind a reverse proxy every client has the proxy's address: raise the second to max_pollers.
    max_pollers_per_connection: int = 10
    max_pollers_per_address: int = 64


# Upper bound of alerts.resend_interval: a day (beyond it reconciliation would never resolve).
RESEND_INTERVAL_MAX = 86_400.0


@dataclass(frozen=True)
class AlertsConfig:
    retention_days: float = 30.0
    retention_rows: int = 100_000
    prune_interval: float = 300.0
    heartbeat: float = 15.0
    # SQLite synchronous setting for the event log: FULL survives power loss, NORMAL (WAL) a crash.
    sync: str = "FULL"
    # Seconds a webhook waits for a locked database before answering 503.
    busy_timeout: float = 5.0
    # Largest webhook / manual-alert body in bytes (413 above); Alertmanager groups can be big.
    max_body_bytes: int = 4 << 20
    # Frames queued per alert subscriber; one that falls further behind is closed (it resumes).
    send_queue: int = 10_000
    max_subscribers: int = 10_000
    # Matchers per stream or REST request (`filter=`).
    max_matchers: int = 20
    # Largest page of GET /api/alerts/history.
    history_limit: int = 1000
    # History queries served at once (> 0; each on its own reader thread); a few more wait up to
    # 2 s, the rest get 503.
    history_concurrency: int = 4
    # Seconds an alert must be missing from Alertmanager, within Alertmanager's uptime, before
    # reconciliation resolves it: Prometheus' resend delay (1m) plus its rule evaluation
    # interval. 0 = at once (trusts a just-restarted Alertmanager's empty list).
    # Bounds: 0..RESEND_INTERVAL_MAX (checked in `_validate`).
    resend_interval: float = 90.0


@dataclass(frozen=True)
class BridgeConfig:
    listen: str = "127.0.0.1:8000"
    data_dir: str = "./data"
    log_level: str = "info"
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    alertmanager: AlertmanagerConfig = field(default_factory=AlertmanagerConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    streams: StreamsConfig = field(default_factory=StreamsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]


# Flag / environment name -> dotted key in the file. `--prometheus-url` is PROMWIRE_PROMETHEUS_URL.
SHORTCUTS: dict[str, str] = {
    "listen": "listen",
    "prometheus_url": "prometheus.url",
    "alertmanager_url": "alertmanager.url",
    "data_dir": "data_dir",
    "auth_token": "auth.token",
    "log_level": "log_level",
}

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
# `str.isdigit` accepts '²', which `int` then refuses with a traceback.
_ASCII_INT = re.compile(r"-?[0-9]{1,19}")


def parse_listen(value: str) -> tuple[str, int]:
    """Split HOST:PORT (":PORT" = all interfaces, "[::1]:PORT" for IPv6) or raise ValueError."""
    host, sep, port_s = value.rpartition(":")
    if not sep or not _ASCII_INT.fullmatch(port_s) or not 0 <= int(port_s) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_s)


def load_config(
    path: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> BridgeConfig:
    """Build the config from a YAML file, then `PROMWIRE_*` environment, then flag overrides.

    `overrides` maps shortcut names (see SHORTCUTS) to values; None values are ignored.
    """
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = []
    for name, key in SHORTCUTS.items():
        value = env.get(ENV_PREFIX + name.upper())
        if value is not None and value != "":
            layers.append((f"environment {ENV_PREFIX}{name.upper()}", {key: value}))
    for name, value in (overrides or {}).items():
        if value is not None:
            layers.append((f"flag --{name.replace('_', '-')}", {SHORTCUTS.get(name, name): value}))
    data: dict[str, Any] = _read_yaml(path) if path else {}
    if path:
        _validate(_build(BridgeConfig, data, path, ""), path)
    for source, layer in layers:
        # Check each environment variable and flag on its own, so an error names its source.
        (key, value), = layer.items()
        single: dict[str, Any] = {}
        _set_dotted(single, key, value)
        _validate(_build(BridgeConfig, single, source, ""), source)
        _set_dotted(data, key, value)
    config = _build(BridgeConfig, data, path or "configuration", "")
    _validate(config, path or "configuration")
    return config


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(path, "(file)", exc.strerror or str(exc)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(path, where, f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "(top level)", "expected a mapping of keys")
    return data


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _build(cls: type, data: Any, source: str, prefix: str) -> Any:
    """Turn a mapping into the frozen dataclass `cls`, checking every key and type."""
    where = prefix.rstrip(".") or "(top level)"
    if not isinstance(data, Mapping):
        raise ConfigError(source, where, "expected a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(source, dotted, f"unknown key (valid: {', '.join(sorted(names))})")
        kwargs[key] = _coerce(hints[key], value, source, dotted)
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(source, where, f"missing required key(s): {', '.join(missing)}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, source, key)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, key + ".")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(source, key, f"expected a list, got {type(value).__name__}")
        if hint == tuple[CatalogEntry, ...]:
            return tuple(_catalog_entry(v, source, f"{key}[{i}]") for i, v in enumerate(value))
        return tuple(_coerce(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value))
    return _scalar(hint, value, source, key)


def _catalog_entry(value: Any, source: str, key: str) -> CatalogEntry:
    entry = _build(CatalogEntry, value, source, key + ".")
    if not entry.name or not entry.query:
        raise ConfigError(source, key, "a catalog entry needs a name and a query")
    return entry


def _scalar(hint: Any, value: Any, source: str, key: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _ASCII_INT.fullmatch(value.strip()):
            return int(value)
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    else:  # pragma: no cover - a field type this loader does not know is a programming error
        raise TypeError(f"unsupported config type {hint!r} for {key}")
    raise ConfigError(source, key, f"expected {hint.__name__}, got {value!r}")


def _validate(config: BridgeConfig, source: str) -> None:
    try:
        parse_listen(config.listen)
    except ValueError as exc:
        raise ConfigError(source, "listen", str(exc)) from None
    if config.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(source, "log_level", f"expected one of {', '.join(LOG_LEVELS)}")
    for key, url in (("prometheus.url", config.prometheus.url),
                     ("alertmanager.url", config.alertmanager.url)):
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(source, key, f"expected an http(s) URL, got {url!r}")
    if config.alerts.sync.upper() not in SYNC_MODES:
        raise ConfigError(source, "alerts.sync", f"expected one of {', '.join(SYNC_MODES)}")
    positives = {
        "prometheus.timeout": config.prometheus.timeout,
        "streams.interval": config.streams.interval,
        "streams.min_interval": config.streams.min_interval,
        "streams.max_connections": config.streams.max_connections,
        "streams.max_subscriptions": config.streams.max_subscriptions,
        "streams.send_queue": config.streams.send_queue,
        "http.max_body_bytes": config.http.max_body_bytes,
        "http.body_timeout": config.http.body_timeout,
        "prometheus.connect_timeout": config.prometheus.connect_timeout,
        "prometheus.max_points": config.prometheus.max_points,
        "metrics.default_range": config.metrics.default_range,
        "metrics.max_stale": config.metrics.max_stale,
        "metrics.max_history_points": config.metrics.max_history_points,
        "alerts.heartbeat": config.alerts.heartbeat,
        "alerts.busy_timeout": config.alerts.busy_timeout,
        "alerts.max_body_bytes": config.alerts.max_body_bytes,
        "alerts.send_queue": config.alerts.send_queue,
        "alerts.max_subscribers": config.alerts.max_subscribers,
        "alerts.history_limit": config.alerts.history_limit,
        "alerts.history_concurrency": config.alerts.history_concurrency,
        "alerts.prune_interval": config.alerts.prune_interval,
        "alerts.retention_days": config.alerts.retention_days,
        "alerts.retention_rows": config.alerts.retention_rows,
        "alertmanager.reconcile_backoff_max": config.alertmanager.reconcile_backoff_max,
        "alertmanager.timeout": config.alertmanager.timeout,
        # 0 would not mean "none": aiohttp reads a 0 message limit as "unlimited".
        "streams.max_message_bytes": config.streams.max_message_bytes,
        "streams.stuck_timeout": config.streams.stuck_timeout,
        "streams.max_pollers": config.streams.max_pollers,
        "streams.max_pollers_per_connection": config.streams.max_pollers_per_connection,
        "streams.max_pollers_per_address": config.streams.max_pollers_per_address,
        "alerts.max_matchers": config.alerts.max_matchers,
    }
    for key, number in positives.items():
        if number <= 0:
            raise ConfigError(source, key, f"must be > 0, got {number}")
    non_negatives = {
        "metrics.cache_ttl": config.metrics.cache_ttl,
        "streams.heartbeat": config.streams.heartbeat,
        "alertmanager.reconcile_interval": config.alertmanager.reconcile_interval,
    }
    for key, number in non_negatives.items():
        if number < 0:
            raise ConfigError(source, key, f"must be >= 0, got {number}")
    resend = config.alerts.resend_interval
    if not 0 <= resend <= RESEND_INTERVAL_MAX:  # also refuses NaN
        raise ConfigError(source, "alerts.resend_interval",
                          f"must be 0..{RESEND_INTERVAL_MAX:g}, got {resend}")
    try:
        re.compile(config.alertmanager.receiver)
    except re.error as exc:
        raise ConfigError(source, "alertmanager.receiver", f"not a regular expression: {exc}"
                          ) from None
    for i, origin in enumerate(config.http.allowed_origins):
        if origin != "*" and not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s]+", origin):
            raise ConfigError(source, f"http.allowed_origins[{i}]",
                              f"{origin!r} is not an origin (scheme://host[:port], no path) "
                              "or \"*\"")
    for i, entry in enumerate(config.metrics.catalog):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", entry.name) or entry.name == "current":
            raise ConfigError(source, f"metrics.catalog[{i}].name",
                              f"{entry.name!r} must be an identifier other than 'current'")
    if config.streams.interval < config.streams.min_interval:
        raise ConfigError(source, "streams.interval", "must be >= streams.min_interval")
