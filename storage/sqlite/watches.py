"""Chats' watches on tickers, and members' delivery preferences."""

from __future__ import annotations

from datetime import datetime

from bot.core.models import ChatRef, UserRef
from storage.sqlite.database import Database
from storage.sqlite.rows import chat_of


class SqliteWatchStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, chat: ChatRef, ticker: str, *, now: datetime) -> bool:
        return await self._db.write(
            "INSERT OR IGNORE INTO watches (platform, chat_id, chat_kind, ticker, created_at) VALUES (?, ?, ?, ?, ?)",
            (chat.platform, chat.chat_id, chat.kind.value, ticker, now.isoformat()),
        )

    async def remove(self, chat: ChatRef, ticker: str) -> bool:
        return await self._db.write(
            "DELETE FROM watches WHERE platform = ? AND chat_id = ? AND ticker = ?", (chat.platform, chat.chat_id, ticker)
        )

    async def of_chat(self, chat: ChatRef) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT ticker FROM watches WHERE platform = ? AND chat_id = ? ORDER BY ticker", (chat.platform, chat.chat_id)
        )
        return [r["ticker"] for r in rows]

    async def watchers(self, ticker: str) -> list[ChatRef]:
        rows = await self._db.fetchall(
            "SELECT platform, chat_id, chat_kind FROM watches WHERE ticker = ? ORDER BY platform, chat_id", (ticker,)
        )
        return [chat_of(r) for r in rows]

    async def tickers(self) -> list[str]:
        return [r["ticker"] for r in await self._db.fetchall("SELECT DISTINCT ticker FROM watches ORDER BY ticker")]


class SqliteMemberPrefStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_direct(self, user: UserRef, on: bool, *, now: datetime) -> None:
        await self._db.write(
            """INSERT INTO member_prefs (platform, user_id, dm, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (platform, user_id) DO UPDATE SET dm = excluded.dm, updated_at = excluded.updated_at""",
            (user.platform, user.user_id, int(on), now.isoformat()),
        )

    async def wants_direct(self, user: UserRef) -> bool:
        row = await self._db.fetchone("SELECT dm FROM member_prefs WHERE platform = ? AND user_id = ?", (user.platform, user.user_id))
        return bool(row and row["dm"])
