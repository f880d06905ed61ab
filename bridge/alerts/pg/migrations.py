"""Schema migrations: numbered, each applied once in its own transaction, at every start.

Every replica runs `migrate` when it opens the store. A session advisory lock serialises them:
two replicas starting at once do not both create the tables; the second waits, finds every
version in `schema_migrations`, and applies nothing. A database already at a newer version
than this bridge knows is refused (an older bridge must not write to a schema it predates).
"""

from __future__ import annotations

import logging

import asyncpg

from bridge.alerts.pg import sql

log = logging.getLogger("bridge.alerts.pg.migrations")


class SchemaTooNew(Exception):
    """The database was migrated by a newer bridge."""


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply the migrations `conn`'s database lacks; the versions applied (often none)."""
    await conn.execute(sql.LOCK, sql.MIGRATION_LOCK)
    try:
        await conn.execute(sql.SCHEMA_MIGRATIONS)
        applied = {row[0] for row in await conn.fetch(sql.APPLIED)}
        known = {version for version, _, _ in sql.MIGRATIONS}
        if applied - known:
            raise SchemaTooNew(f"the alert database has schema version {max(applied)}; this "
                               f"bridge knows up to {max(known)}: upgrade the bridge")
        done = []
        for version, name, statements in sql.MIGRATIONS:
            if version in applied:
                continue
            async with conn.transaction():
                await conn.execute(statements)
                await conn.execute(sql.MARK_APPLIED, version, name)
            log.info("alert database: applied migration %d (%s)", version, name)
            done.append(version)
        return done
    finally:
        await conn.execute(sql.UNLOCK, sql.MIGRATION_LOCK)
