"""Chats' watches on tickers, and members' delivery preferences (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from bot.core.models import ChatRef, UserRef
from storage.postgres.database import PostgresDatabase
from storage.postgres.rows import chat_of


class PostgresWatchStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def add(self, chat: ChatRef, ticker: str, *, now: datetime) -> bool:
        return await self._db.write(
            """INSERT INTO watches (platform, chat_id, chat_kind, ticker, created_at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT DO NOTHING""",
            chat.platform,
            chat.chat_id,
            chat.kind.value,
            ticker,
            now.isoformat(),
        )

    async def remove(self, chat: ChatRef, ticker: str) -> bool:
        return await self._db.write("DELETE FROM watches WHERE platform = $1 AND chat_id = $2 AND ticker = $3", chat.platform, chat.chat_id, ticker)

    async def of_chat(self, chat: ChatRef) -> list[str]:
        rows = await self._db.fetch("SELECT ticker FROM watches WHERE platform = $1 AND chat_id = $2 ORDER BY ticker", chat.platform, chat.chat_id)
        return [r["ticker"] for r in rows]

    async def watchers(self, ticker: str) -> list[ChatRef]:
        rows = await self._db.fetch("SELECT platform, chat_id, chat_kind FROM watches WHERE ticker = $1 ORDER BY platform, chat_id", ticker)
        return [chat_of(r) for r in rows]

    async def tickers(self) -> list[str]:
        return [r["ticker"] for r in await self._db.fetch("SELECT DISTINCT ticker FROM watches ORDER BY ticker")]


class PostgresMemberPrefStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def set_direct(self, user: UserRef, on: bool, *, now: datetime) -> None:
        await self._db.execute(
            """INSERT INTO member_prefs (platform, user_id, dm, updated_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (platform, user_id) DO UPDATE SET dm = excluded.dm, updated_at = excluded.updated_at""",
            user.platform,
            user.user_id,
            int(on),
            now.isoformat(),
        )

    async def wants_direct(self, user: UserRef) -> bool:
        dm = await self._db.fetchval("SELECT dm FROM member_prefs WHERE platform = $1 AND user_id = $2", user.platform, user.user_id)
        return bool(dm)
