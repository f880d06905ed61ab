"""Loading the bridge's configuration: YAML file, then `PROMWIRE_*` environment, then flags.

`load_config` layers them into one `BridgeConfig` (bridge.config holds its shape and the bounds
of each field); the rules that span fields or list items are checked here, on each layer alone
(so an error names its source) and on the whole. Token files are read here, once.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bridge.coercion import ConfigError, build
from bridge.config import (
    BASE_URL,
    ENV_PREFIX,
    MAX_CLUSTERS,
    MAX_PAGE_BRIDGES,
    SHORTCUTS,
    AlertsConfig,
    AuthConfig,
    BridgeConfig,
    ClusterConfig,
    token_value,
)
from bridge.tokens import DEFAULT_NAME


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
        _validate(build(BridgeConfig, data, path, ""), path)
    for source, layer in layers:
        # Check each environment variable and flag on its own, so an error names its source.
        (key, value), = layer.items()
        single: dict[str, Any] = {}
        _set_dotted(single, key, value)
        _validate(build(BridgeConfig, single, source, ""), source)
        _set_dotted(data, key, value)
    config = build(BridgeConfig, data, path or "configuration", "")
    _validate(config, path or "configuration")
    _validate_store(config.alerts, path or "configuration")
    _validate_backfill(config, path or "configuration")
    _validate_tokens(config.auth, path or "configuration")
    return dataclasses.replace(config, auth=_read_token_files(config.auth, path or
                                                              "configuration"))


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


def _validate(config: BridgeConfig, source: str) -> None:
    """The rules that span fields or list items (the others sit on their fields)."""
    for i, origin in enumerate(config.http.allowed_origins):
        if origin != "*" and not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s]+", origin):
            raise ConfigError(source, f"http.allowed_origins[{i}]",
                              f"{origin!r} is not an origin (scheme://host[:port], no path) "
                              "or \"*\"")
    _validate_clusters(config.alertmanager.clusters, source)
    if len(config.page.bridges) > MAX_PAGE_BRIDGES:
        raise ConfigError(source, "page.bridges", f"at most {MAX_PAGE_BRIDGES} bridges")
    for i, url in enumerate(config.page.bridges):
        if not BASE_URL.fullmatch(url):
            raise ConfigError(source, f"page.bridges[{i}]",
                              f"{url!r} is not a base URL (http(s)://host[:port][/path])")
    if config.streams.interval < config.streams.min_interval:
        raise ConfigError(source, "streams.interval", "must be >= streams.min_interval")
    alerts = config.alerts
    if alerts.ack_extend and alerts.ack_extend_by <= alerts.ack_extend_if_expiring_in:
        # Else an extended ack would still be expiring soon, and be extended again each pass.
        raise ConfigError(source, "alerts.ack_extend_by",
                          "must be > alerts.ack_extend_if_expiring_in")
    am = config.alertmanager
    gap = am.reconcile_interval + am.timeout
    if alerts.ack_extend and am.reconcile_interval > 0 and gap >= alerts.ack_extend_if_expiring_in:
        # The extension runs after each silence-watcher pass: one reconcile interval apart,
        # plus the pass's read, which may take up to the request timeout (with 0, the watcher
        # runs once at start and nothing is extended).
        raise ConfigError(source, "alerts.ack_extend_if_expiring_in",
                          "must be > alertmanager.reconcile_interval + alertmanager.timeout "
                          f"({gap:g}), or an ack could end between two passes instead of "
                          "being extended")


def _validate_clusters(clusters: tuple[ClusterConfig, ...], source: str) -> None:
    """Names are unique, and a peer belongs to one cluster: a webhook's origin names one."""
    if len(clusters) > MAX_CLUSTERS:
        raise ConfigError(source, "alertmanager.clusters", f"at most {MAX_CLUSTERS} clusters")
    names: set[str] = set()
    owners: dict[str, str] = {}
    for i, cluster in enumerate(clusters):
        if cluster.name in names:
            raise ConfigError(source, f"alertmanager.clusters[{i}].name",
                              f"{cluster.name!r} is used twice")
        names.add(cluster.name)
        for url in cluster.peers:
            owner = owners.setdefault(url.rstrip("/"), cluster.name)
            if owner != cluster.name:
                raise ConfigError(source, f"alertmanager.clusters[{i}].peers",
                                  f"{url} is also a peer of cluster {owner!r}")


def _validate_store(alerts: AlertsConfig, source: str) -> None:
    """A database URL goes with the postgres store and only with it (checked on the whole
    configuration: the store and its URL may come from different layers)."""
    if alerts.store == "postgres" and not alerts.database_url:
        raise ConfigError(source, "alerts.database_url", "required with alerts.store: postgres "
                          "(--database-url or PROMWIRE_DATABASE_URL)")
    if alerts.store == "sqlite" and alerts.database_url:
        raise ConfigError(source, "alerts.store", "is sqlite but alerts.database_url is set: "
                          "set alerts.store to postgres (or drop the URL)")


def _validate_backfill(config: BridgeConfig, source: str) -> None:
    """`alerts.backfill_cluster` names a configured cluster (checked on the whole: the name
    and the clusters may come from different layers)."""
    name = config.alerts.backfill_cluster
    names = [c.name for c in config.alertmanager.cluster_list()]
    if name and name not in names:
        raise ConfigError(source, "alerts.backfill_cluster",
                          f"{name!r} is not a configured cluster (known: "
                          f"{', '.join(names) or 'none'})")


def _validate_tokens(auth: AuthConfig, source: str) -> None:
    """Token names are unique (they name who acted), and `default` is auth.token's when set."""
    names = {DEFAULT_NAME} if auth.token else set()
    for i, spec in enumerate(auth.tokens):
        if spec.name in names:
            taken = " (auth.token / --auth-token is the token named 'default')" \
                if spec.name == DEFAULT_NAME and auth.token else ""
            raise ConfigError(source, f"auth.tokens[{i}].name",
                              f"{spec.name!r} is used twice{taken}")
        names.add(spec.name)


def _read_token_files(auth: AuthConfig, source: str) -> AuthConfig:
    """Each `token_file` read now, so a missing or empty file stops the start with one line;
    then no two names may share a value (a request would not say who it is)."""
    specs = []
    for i, spec in enumerate(auth.tokens):
        if spec.token_file is not None:
            key = f"auth.tokens[{i}].token_file"
            try:
                text = Path(spec.token_file).read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise ConfigError(source, key, f"cannot read {spec.token_file}: {reason}") \
                    from None
            if (problem := token_value(text)) is not None:
                raise ConfigError(source, key, f"the token in {spec.token_file} {problem}")
            spec = dataclasses.replace(spec, token=text)
        specs.append(spec)
    owners: dict[str, str] = {auth.token: DEFAULT_NAME} if auth.token else {}
    for i, spec in enumerate(specs):
        other = owners.setdefault(spec.token or "", spec.name)
        if other != spec.name:
            raise ConfigError(source, f"auth.tokens[{i}]",
                              f"{spec.name!r} has the same token as {other!r}")
    return dataclasses.replace(auth, tokens=tuple(specs))
