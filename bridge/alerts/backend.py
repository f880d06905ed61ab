"""The one alert store interface: what the hub, the streams, the REST handlers, history and the
reconciler may use, whichever backend keeps the log.

Two backends satisfy it: `bridge.alerts.store.AlertStore` (embedded SQLite, one bridge) and
`bridge.alerts.pg.store.PgAlertStore` (PostgreSQL, any number of replicas sharing one log).
Both decide events with the same rules (`bridge.alerts.store.decide`), number them with one
`seq` and name the log with one `epoch`, and publish committed events through `on_commit`
exactly once each, in seq order. `make_store` picks one from `alerts.store`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Collection
from typing import Any, Protocol

from aiohttp import web

from bridge.alerts.episodes import Episode
from bridge.alerts.history import Page, Timeline
from bridge.alerts.matchers import Matcher
from bridge.alerts.model import Notice
from bridge.alerts.query import EventQuery
from bridge.alerts.selection import Selection
from bridge.alerts.silences import SilenceEvent
from bridge.alerts.store import AlertStore, Event, MayResolve, Opened, Reconciled
from bridge.config import BridgeConfig


class AlertLog(Protocol):
    """An alert event log (see the module docstring)."""

    epoch: str
    # Why the store could not be opened, and why the last write failed (None: fine).
    error: str | None
    write_error: str | None
    # Where the log lives, fit for logs and /health (never a password).
    where: str
    # Whether this replica reconciles and prunes, and its name among replicas.
    leader: bool
    replica: str

    def on_commit(self, listener: Callable[[list[Event]], None]) -> None: ...
    def on_reset(self, listener: Callable[[str], None]) -> None: ...
    def on_status(self, listener: Callable[[str | None], None]) -> None: ...
    def on_leader(self, listener: Callable[[bool], None]) -> None: ...
    def on_reconcile_asked(self, listener: Callable[[], None]) -> None: ...
    def unavailable(self) -> str | None: ...
    def status(self) -> dict[str, Any]: ...

    async def open(self) -> Opened: ...
    async def close(self) -> None: ...
    async def record(self, notices: list[Notice]) -> list[Event]: ...
    async def reconcile(self, notices: list[Notice], fetched_ms: int,
                        may_resolve: MayResolve = ..., cluster: str = ...) -> Reconciled: ...
    async def record_silences(self, cluster: str, silences: list[dict[str, Any]],
                              by: str | None, fetched_ms: int | None = None,
                              previous: Collection[str] | None = None
                              ) -> list[SilenceEvent]: ...
    async def known_silences(self) -> list[tuple[int, dict[str, Any]]]: ...
    async def prune(self, now: int | None = None) -> int: ...
    async def reset(self) -> str: ...
    async def ask_reconcile(self) -> None: ...
    async def events_after(self, since: int, limit: int, until: int | None = None
                           ) -> list[tuple[int, str]]: ...
    async def bounds(self) -> tuple[int | None, int]: ...
    async def history(self, since: int, until: int, limit: int,
                      query: EventQuery | Selection | tuple[Matcher, ...]) -> Page: ...
    async def backfill(self, found: list[Episode], cluster: str) -> list[Event]: ...
    async def resolved(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]: ...
    async def timeline(self, fingerprint: str, cluster: str | None, since: int, limit: int
                       ) -> Timeline: ...


def replica_id(config: BridgeConfig) -> str:
    """`alerts.replica_id`, or HOSTNAME:PORT: unique among replicas on distinct hosts or ports."""
    return config.alerts.replica_id or f"{socket.gethostname()}:{config.port}"


def make_store(config: BridgeConfig) -> AlertLog:
    """The backend `alerts.store` names."""
    if config.alerts.store == "postgres":
        from bridge.alerts.pg.store import PgAlertStore  # asyncpg only when it is used

        return PgAlertStore(config.alerts, replica_id(config))
    store = AlertStore(config.data_dir, config.alerts)
    store.replica = replica_id(config)
    return store


STORE_KEY = web.AppKey("alert_store", AlertLog)
