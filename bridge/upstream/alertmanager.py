"""The Alertmanager API v2 clients: one `Cluster` per configured cluster, all in `Clusters`.

A cluster is an HA set of peers that gossip alerts and silences to each other. The bridge reads
it through one healthy peer at a time: the active peer is kept while it answers, and when it
cannot be reached the next peer in configured order takes over (sticky, so two reads in a row
never see two peers' slightly different gossip states). Writes (silences) go to the active peer
too, and the peers gossip them to the rest.

Every failure is an `UpstreamError`: `UpstreamUnavailable` (503) when no peer can be reached or
one refuses with 5xx, `UpstreamInvalid` for a body that is not JSON, `UpstreamTimeout` when a
probe or write runs out of time. Alertmanager's own 4xx answers to a write become `BadRequest`
(400) with Alertmanager's text, as the Prometheus client maps its `bad_data`. A write is never
retried on another peer once it may have been delivered (a timeout): a silence created twice
would be two silences.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bridge.config import DEFAULT_CLUSTER, AlertmanagerConfig, ClusterConfig
from bridge.errors import (
    BadRequest,
    UpstreamError,
    UpstreamInvalid,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bridge.keys import CONFIG_KEY, METRICS_KEY
from bridge.selfmetrics import BridgeMetrics

ALERTS_ENDPOINT = "/api/v2/alerts"
GROUPS_ENDPOINT = "/api/v2/alerts/groups"
SILENCES_ENDPOINT = "/api/v2/silences"
SILENCE_ENDPOINT = "/api/v2/silence"
STATUS_ENDPOINT = "/api/v2/status"
HEALTHY_ENDPOINT = "/-/healthy"
MAX_ERROR_TEXT = 300


def origin(url: str) -> str:
    """A URL reduced to what identifies a server: scheme://host:port/path, lower-cased host,
    default port spelled out, no trailing slash (`http://AM:9093/` == `http://am:9093`)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return url.strip()
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}{parts.path.rstrip('/')}"


@dataclass
class Peer:
    """One Alertmanager process of a cluster and what the bridge last saw of it."""

    url: str
    ok: bool | None = None
    error: str | None = None
    last_success: float | None = None
    latency: float | None = None

    def succeeded(self, latency: float) -> None:
        self.ok, self.error, self.last_success, self.latency = True, None, time.time(), latency

    def failed(self, error: UpstreamError) -> None:
        self.ok, self.error = False, error.detail[:MAX_ERROR_TEXT]

    def as_dict(self, active: bool) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "active": active, "error": self.error,
                "latency": self.latency, "last_success": self.last_success}


class Cluster:
    """One cluster's peers, read and written through the active one (failover in peer order)."""

    def __init__(self, spec: ClusterConfig, config: AlertmanagerConfig,
                 metrics: BridgeMetrics | None = None) -> None:
        self.name, self.spec, self.config, self.metrics = spec.name, spec, config, metrics
        self.peers = [Peer(url.rstrip("/")) for url in spec.peers]
        self.active = 0
        self._origins = {origin(u) for u in (*spec.peers, *spec.external_urls)}
        self._headers: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None

    @property
    def configured(self) -> bool:
        return bool(self.peers)

    @property
    def active_url(self) -> str:
        return self.peers[self.active].url

    def owns(self, url: str) -> bool:
        """Whether `url` (a webhook's externalURL) is one of this cluster's peers."""
        return origin(url) in self._origins

    def bind(self, session: aiohttp.ClientSession) -> None:
        """Use the shared session; read the token file now (a missing file fails start-up)."""
        self._session = session
        if self.spec.token_file:
            token = Path(self.spec.token_file).read_text().strip()
            self._headers = {"Authorization": f"Bearer {token}"}

    def unbind(self) -> None:
        self._session = None

    def _order(self) -> Iterator[int]:
        """The active peer, then the others in configured order after it (wrapping)."""
        count = len(self.peers)
        return ((self.active + i) % count for i in range(count))

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise UpstreamUnavailable("the Alertmanager client is not open")
        return self._session

    async def get_json(self, path: str, params: dict[str, str]) -> Any:
        """GET `path` from the active peer, failing over to the next on a connection failure;
        the first peer that answers becomes active. Raises the last peer's error otherwise."""
        return await self._first_peer("no peer answered", UpstreamUnavailable,
                                      lambda i: self._exchange(i, "GET", path, params=params))

    async def send(self, method: str, path: str, body: Any = None) -> Any:
        """A write to one peer: the active one, or the next when a peer refused the
        connection (so nothing was delivered). Alertmanager's 4xx is a BadRequest."""
        return await self._first_peer(
            "no peer accepted the write", _NotDelivered,
            lambda i: self._exchange(i, method, path, json=body, write=True))

    async def _first_peer(self, failure: str, retry_on: type[UpstreamError],
                          attempt: Callable[[int], Awaitable[Any]]) -> Any:
        """`attempt` on each peer in failover order until one succeeds; it becomes active."""
        errors: list[str] = []
        for index in self._order():
            try:
                data = await attempt(index)
            except retry_on as exc:
                errors.append(exc.detail)
                continue
            self.active = index
            return data
        raise UpstreamUnavailable(f"cluster {self.name!r}: {failure}: "
                                  + "; ".join(errors)[:MAX_ERROR_TEXT])

    async def _exchange(self, index: int, method: str, path: str, *, write: bool = False,
                        **kwargs: Any) -> Any:
        """One request to one peer, counted and recorded on the peer."""
        peer, session = self.peers[index], self._open_session()
        started = time.perf_counter()
        outcome = "error"
        try:
            async with session.request(method, peer.url + path, headers=self._headers,
                                       **kwargs) as resp:
                text = await resp.text()
                data = _answer(peer.url, resp.status, text, write)
            outcome = "success"
            peer.succeeded(time.perf_counter() - started)
            return data
        except UpstreamUnavailable as exc:
            peer.failed(exc)
            raise
        except aiohttp.ClientConnectorError as exc:
            error = _NotDelivered(f"Alertmanager unreachable at {peer.url}: "
                                  f"{exc or type(exc).__name__}"[:MAX_ERROR_TEXT])
            peer.failed(error)
            raise error from None
        except TimeoutError:
            timeout = UpstreamTimeout(f"Alertmanager at {peer.url} did not answer within "
                                      f"{self.config.timeout:g} s")
            peer.failed(timeout)
            if write:
                raise timeout from None
            raise UpstreamUnavailable(timeout.detail) from None
        except (aiohttp.ClientError, OSError) as exc:
            error = UpstreamUnavailable(f"Alertmanager unreachable at {peer.url}: "
                                        f"{exc or type(exc).__name__}"[:MAX_ERROR_TEXT])
            peer.failed(error)
            if write:  # the connection broke after the request went out: maybe applied
                raise UpstreamUnavailable(error.detail) from None
            raise error from None
        finally:
            if self.metrics is not None:
                self.metrics.upstream_queries.labels("alertmanager", path, outcome).inc()
                self.metrics.upstream_latency.labels("alertmanager", path).observe(
                    time.perf_counter() - started)

    async def probe(self, limit: float) -> list[dict[str, Any]]:
        """GET /-/healthy on every peer at once, within `limit` seconds; each peer's state."""
        await asyncio.gather(*(self._probe_peer(peer, limit) for peer in self.peers))
        return [peer.as_dict(i == self.active) for i, peer in enumerate(self.peers)]

    async def _probe_peer(self, peer: Peer, limit: float) -> None:
        session = self._open_session()
        started = time.perf_counter()
        try:
            async with session.get(peer.url + HEALTHY_ENDPOINT, headers=self._headers,
                                   timeout=aiohttp.ClientTimeout(total=limit)) as resp:
                await resp.read()
                if resp.status != 200:
                    raise UpstreamUnavailable(f"Alertmanager answered {resp.status}")
            peer.succeeded(time.perf_counter() - started)
        except TimeoutError:
            peer.failed(UpstreamTimeout(f"Alertmanager did not answer within {limit:g} s"))
        except UpstreamError as exc:
            peer.failed(exc)
        except (aiohttp.ClientError, OSError) as exc:
            peer.failed(UpstreamUnavailable(str(exc) or type(exc).__name__))

    def status(self) -> dict[str, Any]:
        return {"name": self.name, "active": self.active_url,
                "ok": any(peer.ok for peer in self.peers),
                "peers": [peer.as_dict(i == self.active) for i, peer in enumerate(self.peers)]}


class _NotDelivered(UpstreamUnavailable):
    """The connection was refused: the request never reached the peer, so another may take it."""


def _answer(url: str, status: int, text: str, write: bool) -> Any:
    """A peer's answer as JSON (None for an empty 200), or the error it stands for."""
    if 400 <= status < 500 and write:
        raise BadRequest(f"Alertmanager refused it: {text.strip()[:MAX_ERROR_TEXT]}")
    if status >= 300:
        raise UpstreamUnavailable(f"Alertmanager at {url} answered {status}: "
                                  f"{text.strip()[:200]}")
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UpstreamInvalid(f"Alertmanager at {url} sent invalid JSON: {exc}") from None


class Clusters:
    """Every configured cluster by name, over one shared HTTP session."""

    def __init__(self, config: AlertmanagerConfig, metrics: BridgeMetrics | None = None) -> None:
        self.config = config
        self.by_name = {spec.name: Cluster(spec, config, metrics)
                        for spec in config.cluster_list()}
        # `alertmanager.url` alone stands for one cluster whatever its peers call themselves.
        self.shorthand = not config.clusters
        self._session: aiohttp.ClientSession | None = None

    def __iter__(self) -> Iterator[Cluster]:
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)

    @property
    def names(self) -> list[str]:
        return list(self.by_name)

    def get(self, name: str) -> Cluster:
        """The cluster called `name`, or a 400 naming the known ones."""
        cluster = self.by_name.get(name)
        if cluster is None:
            known = ", ".join(self.by_name) or "none configured"
            raise BadRequest(f"cluster: unknown cluster {name!r:.80} (known: {known})")
        return cluster

    def of_webhook(self, param: str | None, external_url: str | None) -> Cluster:
        """Which cluster sent a webhook: the receiver URL's `?cluster=`, else the cluster one
        of whose peers is the payload's externalURL. An unknown origin is a 400, except with
        the `alertmanager.url` shorthand, whose one cluster takes every webhook."""
        if param is not None:
            return self.get(param)
        if external_url:
            for cluster in self:
                if cluster.owns(external_url):
                    return cluster
        if self.shorthand and DEFAULT_CLUSTER in self.by_name:
            return self.by_name[DEFAULT_CLUSTER]
        raise BadRequest(f"externalURL: {external_url!r:.120} is not a peer of any configured "
                         "cluster; add ?cluster=NAME to the webhook URL or list it in the "
                         "cluster's external_urls")

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout))
            for cluster in self:
                cluster.bind(self._session)

    async def close(self) -> None:
        if self._session is not None:
            for cluster in self:
                cluster.unbind()
            await self._session.close()
            self._session = None


CLUSTERS_KEY = web.AppKey("alertmanager_clusters", Clusters)


def setup(app: web.Application) -> None:
    """Create the clusters now (reconciliation, silences and /health find them under
    CLUSTERS_KEY) and open their session in cleanup_ctx."""
    app[CLUSTERS_KEY] = Clusters(app[CONFIG_KEY].alertmanager, app[METRICS_KEY])
    app.cleanup_ctx.append(_session_ctx)


async def _session_ctx(app: web.Application) -> Any:
    clusters = app[CLUSTERS_KEY]
    await clusters.open()
    try:
        yield
    finally:
        await clusters.close()
