"""The bridge's configuration: YAML file, then environment, then flags, into one frozen object.

Nothing else in the bridge reads the environment or the command line: `load_config`
(bridge.configload) builds a `BridgeConfig` once and `create_app` hands it down. This
module holds the shape: every section, each field with its default and bounds beside it.
Every problem is a `ConfigError` naming the file (or source), the key and what is wrong, so
the CLI can exit 2 with one clear line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bridge.coercion import ConfigError, checked
from bridge.configrules import (
    MAX_SILENCE_SECONDS,
    RESEND_INTERVAL_MAX,
    database_url,
    http_url,
    listen_address,
    non_negative,
    one_of,
    parse_listen,
    positive,
    regex,
    resend_range,
    silence_length,
)
from bridge.metrics.entry import CatalogEntry
from bridge.tokens import SCOPES

__all__ = ["MAX_SILENCE_SECONDS", "RESEND_INTERVAL_MAX", "BridgeConfig", "CatalogEntry",
           "ConfigError", "parse_listen"]

ENV_PREFIX = "PROMWIRE_"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
STORES = ("sqlite", "postgres")
EVENT_LOOPS = ("uvloop", "asyncio")
# The name of the one cluster `alertmanager.url` stands for.
DEFAULT_CLUSTER = "default"
MAX_PAGE_BRIDGES = 64
# A base URL the page can connect to: http(s), a host name or IP literal with an optional
# port, an optional plain path; nothing that could spill into the page's policy or markup.
BASE_URL = re.compile(r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
                       r"(?:/[A-Za-z0-9._~%/-]*)?")


# --- the schema ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrometheusConfig:
    url: str = checked("http://127.0.0.1:9090", check=http_url)
    timeout: float = positive(10.0)
    connect_timeout: float = positive(2.0)
    # Prometheus refuses range queries above this many points per series.
    max_points: int = positive(11000)


CLUSTER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
MAX_CLUSTERS = 32
MAX_PEERS = 16


def _cluster_name(name: str) -> str | None:
    if not CLUSTER_NAME.fullmatch(name):
        return (f"expected 1-63 of a-z 0-9 _ . - starting with a letter or digit, "
                f"got {name!r}")
    return None


def _maybe_cluster_name(name: str) -> str | None:
    return _cluster_name(name) if name else None


def _peers(peers: tuple[str, ...]) -> str | None:
    if not 1 <= len(peers) <= MAX_PEERS:
        return f"expected 1..{MAX_PEERS} peer URLs, got {len(peers)}"
    for url in peers:
        if not url or (problem := http_url(url)):
            return problem or "a peer URL must not be empty"
    if len(set(peers)) != len(peers):
        return "a peer is listed twice"
    return None


def _urls(urls: tuple[str, ...]) -> str | None:
    return next((p for url in urls if (p := http_url(url) or (None if url else "empty URL"))),
                None)


@dataclass(frozen=True)
class ClusterConfig:
    """One Alertmanager cluster: its peers, read one at a time in this order (failover)."""

    name: str = checked(check=_cluster_name)
    peers: tuple[str, ...] = checked(check=_peers)
    # The peers' `--web.external-url`s when they differ from `peers`: a webhook names its
    # sender by externalURL, matched against both lists.
    external_urls: tuple[str, ...] = checked((), check=_urls)
    # A file holding a bearer token the peers' proxy expects (read at start-up); None = none.
    token_file: str | None = None


@dataclass(frozen=True)
class AlertmanagerConfig:
    # Shorthand for one cluster named "default" with this one peer; used only when `clusters`
    # is empty. "" = no Alertmanager.
    url: str = checked("http://127.0.0.1:9093", check=http_url)
    # Several clusters (each an HA set of peers); when given, `url` is not used.
    clusters: tuple[ClusterConfig, ...] = ()
    timeout: float = positive(5.0)
    # Seconds between reconciliations against Alertmanager's /api/v2/alerts; 0 = only at start.
    reconcile_interval: float = non_negative(60.0)
    # Longest wait between retries while Alertmanager is unreachable (backoff doubles from 1 s).
    reconcile_backoff_max: float = positive(60.0)
    # Only reconcile alerts routed to receivers matching this regex ("" = every active alert).
    receiver: str = checked("", check=regex)

    def cluster_list(self) -> tuple[ClusterConfig, ...]:
        """The clusters the bridge talks to: `clusters`, or `url` as the one "default"."""
        if self.clusters:
            return self.clusters
        return (ClusterConfig(DEFAULT_CLUSTER, (self.url,)),) if self.url else ()


TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}")
MAX_TOKENS = 64
# A token as a header carries it: printable ASCII, no spaces (Bearer values are stripped).
_TOKEN_VALUE = re.compile(r"[!-~]+")


def _token_name(name: str) -> str | None:
    if not TOKEN_NAME.fullmatch(name):
        return f"expected 1-63 of A-Z a-z 0-9 _ . @ - starting with a letter or digit, got {name!r}"
    return None


def token_value(token: str | None) -> str | None:
    """Never echoes the value."""
    if token is not None and not _TOKEN_VALUE.fullmatch(token):
        return "must be non-empty printable ASCII without spaces"
    return None


def _scopes(scopes: tuple[str, ...]) -> str | None:
    if not scopes:
        return f"list at least one scope of {', '.join(SCOPES)}"
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        return f"unknown scope {unknown[0]!r} (valid: {', '.join(SCOPES)})"
    return None


def _at_most_tokens(tokens: tuple[Any, ...]) -> str | None:
    return f"at most {MAX_TOKENS} tokens, got {len(tokens)}" if len(tokens) > MAX_TOKENS else None


@dataclass(frozen=True)
class TokenConfig:
    """One named token and the scopes it grants (see bridge.tokens). The value is given inline
    (`token`) or in a file (`token_file`, read once by `load_config`, stripped)."""

    name: str = checked(check=_token_name)
    scopes: tuple[str, ...] = checked(check=_scopes)
    token: str | None = field(default=None, repr=False, metadata={"check": token_value})
    token_file: str | None = None

    def problem(self) -> str | None:
        if (self.token is None) == (self.token_file is None):
            return f"token {self.name!r}: give exactly one of token and token_file"
        return None


@dataclass(frozen=True)
class AuthConfig:
    # Token for write endpoints (webhook, broadcast, raw queries): the token named "default",
    # holding every scope. When unset and `tokens` is empty, the bridge reads or creates
    # `<data_dir>/auth_token` at start-up: writes are never open.
    token: str | None = field(default=None, repr=False)
    # Named tokens with scopes (read, silence, admin, webhook), at most MAX_TOKENS.
    tokens: tuple[TokenConfig, ...] = checked((), check=_at_most_tokens)
    # When true, reads (REST, WebSocket, SSE) also require a token with the `read` scope.
    protect_reads: bool = False
    # When true, every user write is 403 whatever the token; webhooks are still accepted.
    read_only: bool = False


@dataclass(frozen=True)
class HttpConfig:
    # Origins allowed by CORS and for WebSocket upgrades; empty = same origin only. "*" = any.
    allowed_origins: tuple[str, ...] = ()
    # Largest request body accepted by any endpoint, in bytes.
    max_body_bytes: int = positive(1 << 20)
    # Seconds the whole body of a request may take to arrive (a slow or broken upload is 408).
    body_timeout: float = positive(30.0)
    # The event loop: uvloop (libuv; about a quarter less CPU per request and per frame sent)
    # or the standard library's asyncio loop.
    event_loop: str = checked("uvloop", check=one_of(*EVENT_LOOPS))


@dataclass(frozen=True)
class MetricsConfig:
    # Seconds a current snapshot is reused (single-flight) before Prometheus is asked again.
    cache_ttl: float = non_negative(1.0)
    # Raw PromQL pass-through (/api/query, /api/query_range, raw WS subscriptions); needs `admin`.
    raw_queries: bool = False
    # Extra or overriding catalog entries, by name.
    catalog: tuple[CatalogEntry, ...] = ()
    # Default lookback for history when neither start nor range is given.
    default_range: float = positive(3600.0)
    # Seconds the last good snapshot is served (`stale: true`) while Prometheus is unreachable;
    # after that GET /api/metrics/current answers 503.
    max_stale: float = positive(300.0)
    # Most points per series one history request may ask for (larger ranges are split into
    # chunks of prometheus.max_points and stitched; beyond this the step is refused).
    max_history_points: int = positive(250_000)
    # Prometheus jobs that scrape the exporter (GET /api/instances); empty = every job that has
    # exposed node_boot_time_seconds in the last hour.
    exporter_jobs: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamsConfig:
    interval: float = positive(5.0)
    min_interval: float = positive(1.0)
    max_connections: int = positive(20000)
    max_subscriptions: int = positive(20)
    max_message_bytes: int = positive(64 * 1024)
    # Metric frames queued per connection before older ones are replaced by the newest.
    send_queue: int = positive(4)
    # A consumer that cannot take a frame for this long is closed (1008/1013).
    stuck_timeout: float = positive(30.0)
    # Seconds between WebSocket pings and application `heartbeat` frames; 0 = none.
    heartbeat: float = non_negative(15.0)
    # Distinct subscriptions (shared pollers, each one Prometheus round per tick) in all.
    max_pollers: int = positive(256)
    # Pollers one connection, or all connections from one client address, may have started
    # (a poller stays charged to its starter while shared): one reader cannot take them all.
    # Behind a reverse proxy every client has the proxy's address: raise the second to max_pollers.
    max_pollers_per_connection: int = positive(10)
    max_pollers_per_address: int = positive(64)


@dataclass(frozen=True)
class AlertsConfig:
    retention_days: float = positive(30.0)
    retention_rows: int = positive(100_000)
    prune_interval: float = positive(300.0)
    heartbeat: float = positive(15.0)
    # SQLite synchronous setting for the event log: FULL survives power loss, NORMAL (WAL) a crash.
    sync: str = checked("FULL", check=one_of(*SYNC_MODES))
    # Seconds a webhook waits for a locked database before answering 503.
    busy_timeout: float = positive(5.0)
    # Largest webhook / manual-alert body in bytes (413 above); Alertmanager groups can be big.
    max_body_bytes: int = positive(4 << 20)
    # Frames queued per alert subscriber; one that falls further behind is closed (it resumes).
    send_queue: int = positive(10_000)
    max_subscribers: int = positive(10_000)
    # Matchers per stream or REST request (`filter=`).
    max_matchers: int = positive(20)
    # Largest page of GET /api/alerts/history.
    history_limit: int = positive(1000)
    # History queries served at once (> 0; each on its own reader thread); a few more wait up to
    # 2 s, the rest get 503.
    history_concurrency: int = positive(4)
    # Seconds an alert must be missing from Alertmanager, within Alertmanager's uptime, before
    # reconciliation resolves it: Prometheus' resend delay (1m) plus its rule evaluation
    # interval. 0 = at once (trusts a just-restarted Alertmanager's empty list).
    resend_interval: float = checked(90.0, check=resend_range)
    # Where the event log lives: "sqlite" (DATA_DIR/alerts.db, one bridge) or "postgres"
    # (`database_url`, shared by any number of bridge replicas).
    store: str = checked("sqlite", check=one_of(*STORES))
    database_url: str = checked("", check=database_url)
    # Connections this replica keeps to PostgreSQL (writes, replays, history), at most.
    database_pool: int = positive(10)
    # Seconds to connect to PostgreSQL or run one statement before giving up (webhooks 503).
    database_timeout: float = positive(5.0)
    # Seconds between reads of the log that catch up without a NOTIFY (a safety net).
    poll_interval: float = positive(1.0)
    # Seconds between a non-leader replica's attempts to become the reconciler.
    leader_retry: float = positive(5.0)
    # This replica's name in /health ("" = HOSTNAME:PORT).
    replica_id: str = ""
    # Fill the history from Prometheus' ALERTS series (episodes the log lacks, over the
    # retention window; `bridge.alerts.backfill`), on the leader, at start and every
    # `backfill_interval` seconds. Only episodes that ended `backfill_holdoff` seconds ago or
    # more (Alertmanager has stopped telling anyone about them by then); read on a grid of
    # `backfill_step` seconds (no longer than the rules' evaluation interval: exact startsAt).
    # The first run waits `backfill_delay` seconds once this replica may run it, so start-up
    # (first polls, reconciliation) goes first. The episodes go to `backfill_cluster` (the
    # cluster Prometheus sends to; "" = the only one configured, `default` for
    # alertmanager.url; with several clusters and none named, backfill is off).
    backfill: bool = True
    backfill_cluster: str = checked("", check=_maybe_cluster_name)
    backfill_delay: float = non_negative(60.0)
    backfill_holdoff: float = positive(3600.0)
    backfill_interval: float = positive(600.0)
    backfill_step: float = positive(15.0)
    # kthxbye's extension (`bridge.alerts.ackextend`): after each silence-watcher pass the leader
    # moves an ack ending within `ack_extend_if_expiring_in` s whose alert fires to end
    # `ack_extend_by` s from now (> the threshold), at most `ack_max_duration` s after its start.
    # The threshold must exceed alertmanager.reconcile_interval + alertmanager.timeout.
    ack_extend: bool = True
    ack_extend_if_expiring_in: float = positive(300.0)
    ack_extend_by: float = positive(900.0)
    ack_max_duration: float = checked(86_400.0, check=silence_length)


@dataclass(frozen=True)
class PageConfig:
    # Other bridge replicas the live page rotates to when its connection is lost (base URLs,
    # http(s), at most MAX_PAGE_BRIDGES); its own origin always comes first. Empty = this one.
    bridges: tuple[str, ...] = ()


@dataclass(frozen=True)
class BridgeConfig:
    listen: str = checked("127.0.0.1:8000", check=listen_address)
    data_dir: str = "./data"
    log_level: str = checked("info", check=one_of(*LOG_LEVELS))
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    alertmanager: AlertmanagerConfig = field(default_factory=AlertmanagerConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    streams: StreamsConfig = field(default_factory=StreamsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    page: PageConfig = field(default_factory=PageConfig)

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
    "read_only": "auth.read_only",
    "log_level": "log_level",
    "alerts_store": "alerts.store",
    "database_url": "alerts.database_url",
    "replica_id": "alerts.replica_id",
}
