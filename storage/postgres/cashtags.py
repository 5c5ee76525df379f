"""Which chats answer cashtags ($NVDA) in ordinary messages (the cashtags feature's store, PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from bot.core.models import ChatRef
from storage.postgres.database import PostgresDatabase


class PostgresCashtagStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def set_enabled(self, chat: ChatRef, on: bool, *, now: datetime) -> None:
        await self._db.execute(
            """INSERT INTO cashtag_chats (platform, chat_id, enabled, updated_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (platform, chat_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at""",
            chat.platform,
            chat.chat_id,
            int(on),
            now.isoformat(),
        )

    async def enabled_chats(self) -> set[str]:
        """The keys (`ChatRef.key`) of the chats that have cashtags on."""
        rows = await self._db.fetch("SELECT platform, chat_id FROM cashtag_chats WHERE enabled = 1")
        return {f"{r['platform']}:{r['chat_id']}" for r in rows}
