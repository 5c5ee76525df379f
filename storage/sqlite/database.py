"""One SQLite file through aiosqlite: WAL mode, versioned migrations, one writer at a time.

Every statement is parameterized. The aggregate stores beside this module share one
`Database`, so that a change and the deliveries it owes commit in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path

import aiosqlite

from bot.core.messages import Envelope
from bot.core.ports import StorageError

log = logging.getLogger(__name__)


def migrations() -> list[tuple[int, str]]:
    """(version, script) of every migration shipped, oldest first."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    return migrations()[-1][0]


class Database:
    """The connection, its write lock and the migrations."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        path_text = str(path)
        if path_text != ":memory:":
            Path(path_text).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path_text, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            database = cls(conn, path_text)
            await database.migrate()
        except BaseException:
            await conn.close()
            raise
        return database

    async def close(self) -> None:
        await self.conn.close()

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> None:
        current = await self.schema_version()
        scripts = migrations()
        newest = scripts[-1][0]
        if current > newest:
            raise StorageError(
                f"{self.path} was written by a newer tickerbell (schema {current}; this one knows up to {newest}). "
                "Upgrade tickerbell or point [storage] path at another file."
            )
        for version, script in scripts:
            if version <= current:
                continue
            log.info("storage: applying migration %03d to %s", version, self.path)
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in split_sql(script):
                    await self.conn.execute(statement)
                await self.conn.execute(f"PRAGMA user_version = {int(version)}")
                await self.conn.execute("COMMIT")
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back on any error."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def write(self, sql: str, params: Iterable[object] = ()) -> bool:
        """One statement in its own transaction; True if it changed a row."""
        async with self.transaction() as tx:
            cur = await tx.execute(sql, tuple(params))
            return cur.rowcount > 0

    async def fetchall(self, sql: str, params: Iterable[object] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Iterable[object] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()


async def insert_envelopes(tx: aiosqlite.Connection, envelopes: Iterable[Envelope], *, now: datetime) -> int:
    """Queue deliveries inside a transaction; a dedupe key already queued is skipped. Returns how many were new."""
    queued = 0
    stamp = now.isoformat()
    for envelope in envelopes:
        chat, alert, fallback = envelope.chat, envelope.alert, envelope.fallback
        cur = await tx.execute(
            """INSERT OR IGNORE INTO outbox (created_at, platform, chat_id, chat_kind, kind, ticker, payload,
                   dedupe_key, next_attempt_at, fallback_platform, fallback_chat_id, fallback_kind)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                stamp,
                chat.platform,
                chat.chat_id,
                chat.kind.value,
                alert.kind.value,
                alert.ticker,
                alert.to_json(),
                envelope.dedupe_key,
                stamp,
                fallback.platform if fallback else None,
                fallback.chat_id if fallback else None,
                fallback.kind.value if fallback else None,
            ),
        )
        queued += cur.rowcount
    return queued


def split_sql(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
