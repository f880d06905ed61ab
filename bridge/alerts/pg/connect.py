"""Connections to PostgreSQL: the pool, dedicated sessions, a URL fit to show, and the driver's
failures as the bridge's StorageUnavailable (503: Alertmanager retries, nothing is lost).

Every wait is bounded by `alerts.database_timeout`: connecting, taking a pooled connection and
each statement. A database that is down or hung makes a webhook 503 within that time, never
hangs it.
"""

from __future__ import annotations

import contextlib
import logging

import asyncpg

from bridge.config import AlertsConfig
from bridge.errors import StorageUnavailable

log = logging.getLogger("bridge.alerts.pg")

UNLOCK_ALL = "SELECT pg_advisory_unlock_all()"

# What a database that cannot serve raises: refused or reset connections, timeouts, a server
# shutting down or starting up, a connection the pool handed out that has since died.
FAILURES: tuple[type[BaseException], ...] = (OSError, TimeoutError, asyncpg.PostgresError,
                                              asyncpg.InterfaceError)


def redact(url: str) -> str:
    """The URL without its password (in the authority or as a `password=` parameter); the rest
    exactly as given."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, host = authority.rpartition("@")
    if at:
        user = userinfo.partition(":")[0]
        authority = f"{user}@{host}" if user else host
    path, qmark, query = tail.partition("?")
    if qmark:
        kept = [p for p in query.split("&") if p.partition("=")[0].lower() != "password"]
        tail = path + ("?" + "&".join(kept) if kept else "")
    return f"{scheme}://{authority}{tail}"


def unavailable(exc: BaseException, action: str = "cannot write") -> StorageUnavailable:
    """A 503 detail naming what failed, without the URL (and so without its password)."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, TimeoutError):
        text = "no answer in time (alerts.database_timeout)"
    return StorageUnavailable(f"alert database {action}: {text[:200]}")


# The server probes each idle session's peer (PostgreSQL's own settings, per session): a replica
# whose host died or was cut off, sending no FIN, has its sessions ended within about
# 5 + 3 x 2 = 11 s of their last traffic, and with them its locks, leadership included (the
# kernel's default would keep them for two hours). Unix-socket sessions ignore them.
KEEPALIVES = {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2",
              "tcp_keepalives_count": "3"}


async def create_pool(config: AlertsConfig) -> asyncpg.Pool:
    """A pool that opens connections on demand (min_size 0), so it is created whatever the
    database's state; each statement gives up after `database_timeout`."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        config.database_url, min_size=0, max_size=config.database_pool,
        timeout=config.database_timeout, command_timeout=config.database_timeout,
        max_inactive_connection_lifetime=60.0, reset=release_locks,
        server_settings={"application_name": "promwire-bridge", **KEEPALIVES})
    return pool


# Server pids of pooled connections that may hold session advisory locks (`will_lock`).
_LOCKING: set[int] = set()


def will_lock(conn: asyncpg.Connection) -> None:
    """Mark a pooled connection about to take session advisory locks: the pool releases them
    when it takes the connection back (`release_locks`)."""
    _LOCKING.add(conn.get_server_pid())


def locks_released(conn: asyncpg.Connection) -> None:
    """The connection's session advisory locks ended otherwise (handed over to a committed
    transaction): its return to the pool needs no unlock."""
    _LOCKING.discard(conn.get_server_pid())


async def release_locks(conn: asyncpg.Connection) -> None:
    """What a pooled connection is reset with on its way back (after asyncpg's own ROLLBACK of
    an open transaction): the session advisory locks of a connection marked by `will_lock`
    and not handed over since (a batch that failed or wrote nothing). Nothing else, and nothing
    at all for the others: no pool user SETs, LISTENs or keeps cursors, and asyncpg's full
    reset (RESET ALL, CLOSE ALL, UNLISTEN) is one more round trip on every use. A failure here
    ends the connection, and with it its locks."""
    pid = conn.get_server_pid()
    if pid in _LOCKING:
        await conn.fetchval(UNLOCK_ALL)  # prepared once per connection, not parsed each time
        _LOCKING.discard(pid)


async def connect(config: AlertsConfig, name: str) -> asyncpg.Connection:
    """A dedicated session (LISTEN, the leader's lock): not from the pool, it lives as long as
    the role it carries."""
    conn: asyncpg.Connection = await asyncpg.connect(
        config.database_url, timeout=config.database_timeout,
        command_timeout=config.database_timeout,
        server_settings={"application_name": f"promwire-bridge {name}", **KEEPALIVES})
    return conn


async def close_quietly(conn: asyncpg.Connection | None) -> None:
    """Close a session that may be dead already (then only its socket goes)."""
    if conn is None or conn.is_closed():
        return
    try:
        await conn.close(timeout=1.0)
    except FAILURES:
        with contextlib.suppress(Exception):
            conn.terminate()
