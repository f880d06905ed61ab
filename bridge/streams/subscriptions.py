"""The stream subscription request: validated once, for WebSocket `subscribe` frames and SSE
query parameters alike, into the `PollerKey` that decides which shared poller serves it.

Every problem raises a `BridgeError` whose body becomes an `error` frame (WebSocket) or a 4xx
JSON answer (SSE), naming the field and what is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bridge.config import BridgeConfig
from bridge.errors import BadRequest, Forbidden, Unauthorized
from bridge.metrics.catalog import Catalog
from bridge.params import MAX_PROMQL
from bridge.protocol import SUBSCRIBED
from bridge.streams.frames import Frame, control
from bridge.tokens import ADMIN, Principal, check_scope

MAX_ID_LENGTH = 64
MAX_INSTANCES = 100
MAX_INTERVAL = 86400.0
FIELDS = frozenset({"type", "id", "metrics", "query", "instances", "interval", "delta"})


@dataclass(frozen=True, slots=True)
class PollerKey:
    """What a poller evaluates: catalog metrics (or one raw PromQL query), for which instances
    (None = all), how often. Subscriptions with equal keys share one poller."""

    metrics: tuple[str, ...] = ()
    query: str | None = None
    instances: tuple[str, ...] | None = None
    interval: float = 5.0


@dataclass(frozen=True)
class SubscribeRequest:
    id: str
    key: PollerKey
    delta: bool = False

    def ack(self) -> Frame:
        """The `subscribed` frame: what the subscription actually is, defaults filled in."""
        what: dict[str, Any] = ({"query": self.key.query} if self.key.query is not None
                                else {"metrics": list(self.key.metrics)})
        instances = list(self.key.instances) if self.key.instances is not None else None
        return control(SUBSCRIBED, **what, instances=instances,
                       interval=self.key.interval, delta=self.delta)


def parse_subscribe(msg: dict[str, Any], *, catalog: Catalog, config: BridgeConfig,
                    principal: Principal | None) -> SubscribeRequest:
    """Validate a subscribe request; `principal` is whose token the connection carried."""
    unknown = sorted(set(msg) - FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; a subscribe takes "
                         f"{', '.join(sorted(FIELDS - {'type'}))}")
    sub_id = parse_id(msg.get("id"))
    interval = _interval(msg.get("interval"), config)
    delta = msg.get("delta", False)
    if not isinstance(delta, bool):
        raise BadRequest(f"delta must be true or false, got {delta!r}")
    instances = _instances(msg.get("instances"))
    query = msg.get("query")
    if query is not None:
        _check_raw(query, msg, config, principal, delta, instances)
        return SubscribeRequest(sub_id, PollerKey(query=query, interval=interval))
    metrics = _metrics(msg.get("metrics"), catalog)
    return SubscribeRequest(sub_id, PollerKey(metrics=metrics, instances=instances,
                                              interval=interval), delta)


def parse_id(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise BadRequest(f"id must be a string of 1 to {MAX_ID_LENGTH} characters, "
                         f"got {value!r:.80}")
    return value


def _interval(value: Any, config: BridgeConfig) -> float:
    if value is None:
        return config.streams.interval
    low = config.streams.min_interval
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or not low <= value <= MAX_INTERVAL):
        raise BadRequest(f"interval must be a number of seconds from {low:g} to "
                         f"{MAX_INTERVAL:g}, got {value!r:.80}")
    return float(value)


def _instances(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or not value or len(value) > MAX_INSTANCES
            or not all(isinstance(v, str) and v for v in value)):
        raise BadRequest(f"instances must be a list of 1 to {MAX_INSTANCES} non-empty strings "
                         f"(e.g. [\"host:9100\"]), got {value!r:.80}")
    return tuple(sorted(set(value)))


def _metrics(value: Any, catalog: Catalog) -> tuple[str, ...]:
    if value is None:
        return tuple(catalog.names)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"metrics must be a non-empty list of catalog names, got {value!r:.80}")
    wanted = {catalog.get(name).name for name in value}  # NotFound listing the valid names
    return tuple(name for name in catalog.names if name in wanted)  # catalog order: one key


def _check_raw(query: Any, msg: dict[str, Any], config: BridgeConfig,
               principal: Principal | None, delta: bool,
               instances: tuple[str, ...] | None) -> None:
    if not isinstance(query, str) or not query.strip():
        raise BadRequest(f"query must be a non-empty PromQL string, got {query!r:.80}")
    if len(query) > MAX_PROMQL:
        raise BadRequest(f"query: {len(query)} characters, more than the limit of "
                         f"{MAX_PROMQL}")
    if msg.get("metrics") is not None:
        raise BadRequest("give either metrics (catalog names) or query (raw PromQL), not both")
    if delta or instances is not None:
        raise BadRequest("raw query subscriptions take no delta or instances (filter in PromQL)")
    if not config.metrics.raw_queries:
        raise Forbidden("raw PromQL subscriptions are disabled (metrics.raw_queries: false)")
    if principal is None:
        raise Unauthorized("raw PromQL subscriptions need a token with the 'admin' scope on "
                           "connect (Authorization: Bearer <token> or ?token=)")
    check_scope(principal, ADMIN)
