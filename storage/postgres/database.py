"""One PostgreSQL database through an asyncpg pool: versioned migrations, one transaction per change.

Every statement is parameterized ($1, $2, ...). The aggregate stores beside this module share one
`PostgresDatabase`, so that a change and the deliveries it owes commit in one transaction
(`insert_envelopes(tx, ...)` inside `async with db.transaction() as tx`).

The schema is the SQLite one, version for version (`storage/migrations/postgres/NNN_*.sql`): moments
are ISO 8601 text and payloads `storage.payloads.write_payload`'s, so both backends hold the same values.

Errors: anything the driver or the network raises surfaces as `StorageError` (its cause chained), so
that the jobs' existing pause-and-retry paths handle a database that goes away while running.
`PostgresDatabase.open` says in one line why a database cannot be used, the password masked:

    [storage] url postgresql://bot:***@db:5432/tickerbell: no server answers (connection refused): start PostgreSQL ...
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.core.messages import Envelope
from bot.core.ports import StorageError
from storage.payloads import write_payload

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x7469636B  # pg_advisory_xact_lock key: one process migrates at a time ("tick")
OUTBOX_CHANNEL = "tickerbell_outbox"  # NOTIFYed by a trigger on outbox (migration 001) when deliveries are queued
CONNECT_TIMEOUT = 10.0  # seconds to reach the server and log in
VERSION_TABLE = "tickerbell_schema"

# What the driver raises when the server cannot be reached, went away, or is shutting down.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable, host not found (socket.gaierror)
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,  # class 08
    asyncpg.exceptions.OperatorInterventionError,  # class 57: admin shutdown, crash, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.exceptions.InterfaceError,  # the connection was closed under us
)


def migrations() -> list[tuple[int, str]]:
    """(version, script) of every PostgreSQL migration shipped, oldest first."""
    found = []
    for entry in resources.files("storage.migrations.postgres").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    return migrations()[-1][0]


def mask(url: str) -> str:
    """The URL with its password replaced by ***, fit for logs and messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<a URL that cannot be read>"


class PostgresDatabase:
    """The pool, the migrations and the helpers every store uses."""

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self.pool = pool
        self.url = url
        self.where = mask(url)  # the URL as it may be shown

    # -- opening --------------------------------------------------------------------------

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True, min_size: int = 1, max_size: int = 10) -> PostgresDatabase:
        """Connect, check the database and (unless `migrate=False`) apply the migrations.
        Raises StorageError, in one line naming `[storage] url` (password masked), when it cannot be used."""
        try:
            pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, timeout=CONNECT_TIMEOUT, command_timeout=60)
        except Exception as problem:
            log.debug("storage: connecting to %s failed", mask(url), exc_info=True)
            raise unreachable(url, problem) from None
        database = cls(pool, url)
        try:
            if migrate:
                await database.migrate()
            else:
                await database.check_version()
            await database.check_writable()
        except BaseException as problem:
            await database.close()
            if isinstance(problem, StorageError) or not isinstance(problem, Exception):
                raise
            raise unreachable(url, problem) from None
        return database

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.pool.close(), 5)
        except CONNECTION_ERRORS:
            self.pool.terminate()

    # -- helpers --------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """One transaction on one pooled connection; committed at the end, rolled back on any error.
        Driver and connection errors surface as StorageError."""
        with self.surfacing():
            async with self.pool.acquire() as conn, conn.transaction():
                yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection outside any transaction (LISTEN, advisory locks held across statements)."""
        with self.surfacing():
            async with self.pool.acquire() as conn:
                yield conn

    async def execute(self, sql: str, *args: object) -> str:
        """One statement in its own transaction; the server's status line ('UPDATE 1')."""
        with self.surfacing():
            return str(await self.pool.execute(sql, *args))

    async def write(self, sql: str, *args: object) -> bool:
        """One statement in its own transaction; True if it changed a row."""
        return changed(await self.execute(sql, *args)) > 0

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        with self.surfacing():
            return list(await self.pool.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: object) -> asyncpg.Record | None:
        with self.surfacing():
            return await self.pool.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: object) -> Any:
        with self.surfacing():
            return await self.pool.fetchval(sql, *args)

    @contextmanager
    def surfacing(self) -> Iterator[None]:
        """Driver and connection errors raised inside become StorageError (cause chained)."""
        try:
            yield
        except StorageError:
            raise
        except CONNECTION_ERRORS as problem:
            raise StorageError(f"{self.where}: the database cannot be reached ({reason(problem)})") from problem
        except asyncpg.PostgresError as problem:
            raise StorageError(f"{self.where}: {reason(problem)}") from problem

    # -- schema ---------------------------------------------------------------------------

    async def schema_version(self) -> int:
        """The version of the schema in the database; 0 for a database tickerbell never used."""
        with self.surfacing():
            async with self.pool.acquire() as conn:
                return await _version(conn)

    async def check_version(self) -> None:
        """Refuse a database written by a newer tickerbell, or one older than this tickerbell needs."""
        current, newest = await self.schema_version(), latest_version()
        if current > newest:
            raise self._newer(current, newest)
        if current < newest:
            raise StorageError(
                f"[storage] url {self.where}: schema {current} is older than this tickerbell's ({newest}): run `tickerbell migrate` first"
            )

    async def migrate(self) -> list[int]:
        """Bring the schema forward to the newest version; returns the versions applied. One process at a
        time (an advisory lock), each migration in its own transaction with its version."""
        scripts = migrations()
        newest = scripts[-1][0]
        applied: list[int] = []
        with self.surfacing():
            async with self.pool.acquire() as conn:
                for version, script in scripts:
                    async with conn.transaction():
                        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                        await conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)")
                        current = await _version(conn)
                        if current > newest:
                            raise self._newer(current, newest)
                        if current == 0 and (others := await _other_tables(conn)):
                            raise StorageError(
                                f"[storage] url {self.where}: not a tickerbell database (it holds other tables: {', '.join(others[:3])}): "
                                "point [storage] url at an empty database"
                            )
                        if version <= current:
                            continue
                        log.info("storage: applying migration %03d to %s", version, self.where)
                        await conn.execute(script)
                        await conn.execute(f"DELETE FROM {VERSION_TABLE}")
                        await conn.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES ($1)", version)
                        applied.append(version)
        return applied

    async def check_writable(self) -> None:
        """A standby or read-only database fails here, not at the first alert."""
        with self.surfacing():
            async with self.pool.acquire() as conn:
                read_only = await conn.fetchval("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'")
                if read_only:
                    raise StorageError(f"[storage] url {self.where}: read-only (a standby server, or read-only by default): point [storage] url at the primary")
                denied = await conn.fetchval(
                    """SELECT string_agg(tablename, ', ' ORDER BY tablename) FROM pg_tables
                       WHERE schemaname = current_schema() AND tablename IN ('rules', 'outbox')
                         AND NOT has_table_privilege(quote_ident(tablename), 'SELECT, INSERT, UPDATE, DELETE')"""
                )
                if denied:
                    raise StorageError(f"[storage] url {self.where}: this user may not write {denied}: grant it SELECT, INSERT, UPDATE, DELETE on tickerbell's tables")

    def _newer(self, current: int, newest: int) -> StorageError:
        return StorageError(
            f"[storage] url {self.where}: written by a newer tickerbell (schema {current}; this one knows up to {newest}): "
            "upgrade tickerbell, or point [storage] url at another database"
        )


async def _version(conn: asyncpg.Connection) -> int:
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", VERSION_TABLE):
        return 0
    return int(await conn.fetchval(f"SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}"))


async def _other_tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> $1 ORDER BY tablename", VERSION_TABLE)
    return [str(r[0]) for r in rows]


def changed(status: str) -> int:
    """Rows a statement changed, from its status line ('INSERT 0 3', 'UPDATE 2', 'DELETE 0')."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


# -- the outbox, shared by every store whose change owes deliveries ------------------------

_INSERT_ENVELOPES = """
INSERT INTO outbox (created_at, platform, chat_id, chat_kind, kind, ticker, payload, dedupe_key, next_attempt_at,
                    fallback_platform, fallback_chat_id, fallback_kind)
SELECT $1, platform, chat_id, chat_kind, kind, ticker, payload, dedupe_key, $1, fallback_platform, fallback_chat_id, fallback_kind
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
     WITH ORDINALITY AS e (platform, chat_id, chat_kind, kind, ticker, payload, dedupe_key, fallback_platform, fallback_chat_id, fallback_kind, n)
ORDER BY n
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""


async def insert_envelopes(tx: asyncpg.Connection, envelopes: Iterable[Envelope], *, now: datetime) -> int:
    """Queue deliveries inside a transaction (one statement, ids in the order given); a dedupe key
    already queued is skipped. Returns how many were new. The outbox's trigger NOTIFYs `OUTBOX_CHANNEL`
    (delivered when the transaction commits), which wakes idle delivery workers."""
    columns: list[list[str | None]] = [[] for _ in range(10)]
    for envelope in envelopes:
        chat, alert, fallback = envelope.chat, envelope.alert, envelope.fallback
        values = (
            chat.platform,
            chat.chat_id,
            chat.kind.value,
            alert.kind.value,
            alert.ticker,
            write_payload(alert),
            envelope.dedupe_key,
            fallback.platform if fallback else None,
            fallback.chat_id if fallback else None,
            fallback.kind.value if fallback else None,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if not columns[0]:
        return 0
    rows = await tx.fetch(_INSERT_ENVELOPES, now.isoformat(), *columns)
    return len(rows)


# -- why a database cannot be used, in one line --------------------------------------------


def reason(problem: BaseException) -> str:
    """The error's own words, on one line."""
    if isinstance(problem, OSError) and problem.strerror and not isinstance(problem, socket.gaierror):
        return problem.strerror.lower()
    lines = [line.strip() for line in str(problem).splitlines() if line.strip()]
    text = lines[0] if lines else type(problem).__name__
    return text if len(text) <= 160 else text[:159] + "…"


def unreachable(url: str, problem: BaseException) -> StorageError:
    """StorageError("[storage] url URL: PROBLEM (the driver's words): WHAT TO DO") for an error met connecting."""
    where = mask(url)
    why = reason(problem)
    what, remedy = _explain(url, problem, why)
    return StorageError(f"[storage] url {where}: {what}: {remedy}")


def _explain(url: str, problem: BaseException, why: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    database = parts.path.lstrip("/") or parts.username or "the default database"
    exc = asyncpg.exceptions
    if isinstance(problem, socket.gaierror):
        return f"host {parts.hostname} not found ({why})", "fix the host name in the URL"
    if isinstance(problem, ConnectionRefusedError):
        return f"no server answers at {host} ({why})", "start PostgreSQL there, or fix the host and port in the URL"
    if isinstance(problem, TimeoutError):
        return f"no answer from {host} within {CONNECT_TIMEOUT:.0f} s", "check that the server is up and reachable (firewall, address)"
    if isinstance(problem, exc.InvalidCatalogNameError):
        return f"database {database} does not exist ({why})", f"create it (createdb {database}) or fix the database name in the URL"
    if isinstance(problem, exc.InvalidPasswordError | exc.InvalidAuthorizationSpecificationError):
        return f"the server refused the login ({why})", "fix the user or password in the URL, or the server's pg_hba.conf"
    if isinstance(problem, exc.InsufficientPrivilegeError):
        return f"permission denied ({why})", "grant this user the right to create tables in the database, or run `tickerbell migrate` as its owner"
    if isinstance(problem, exc.TooManyConnectionsError | exc.CannotConnectNowError):
        return f"the server refuses connections now ({why})", "try again when it has room (max_connections) or has finished starting"
    if isinstance(problem, OSError):
        return f"cannot be reached at {host} ({why})", "check the host, the port and the network"
    if isinstance(problem, ValueError | TypeError | exc.ClientConfigurationError):
        return f"not a usable PostgreSQL URL ({why})", 'write it as postgresql://user:password@host:5432/database'
    return f"cannot be used ({why})", "check the URL and the server's log"
