"""Each chat's own settings (/settings, /digest), stored as one JSON value per chat (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from bot.core.chat_settings import ChatSettings
from bot.core.models import ChatKind, ChatRef
from storage.postgres.database import PostgresDatabase


class PostgresChatSettingsStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def get(self, chat: ChatRef) -> ChatSettings:
        data = await self._db.fetchval("SELECT data FROM chat_settings WHERE platform = $1 AND chat_id = $2", chat.platform, chat.chat_id)
        return ChatSettings.from_json(data) if data is not None else ChatSettings()

    async def put(self, chat: ChatRef, settings: ChatSettings, *, now: datetime) -> None:
        await self._db.execute(
            """INSERT INTO chat_settings (platform, chat_id, data, updated_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (platform, chat_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at""",
            chat.platform,
            chat.chat_id,
            settings.to_json(),
            now.isoformat(),
        )

    async def all(self) -> list[tuple[ChatRef, ChatSettings]]:
        """Every chat with settings of its own (for the digest job)."""
        rows = await self._db.fetch(
            """SELECT s.platform, s.chat_id, s.data, COALESCE(c.kind, 'private') AS kind FROM chat_settings s
               LEFT JOIN chats c ON c.platform = s.platform AND c.chat_id = s.chat_id ORDER BY s.platform, s.chat_id"""
        )
        return [(ChatRef(r["platform"], r["chat_id"], ChatKind(r["kind"])), ChatSettings.from_json(r["data"])) for r in rows]
