"""What fired where: the outbox read back for /history (the history feature's store)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.messages import Alert
from bot.core.models import ChatRef, UserRef
from storage.sqlite.database import Database


class SqliteHistoryStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def fired(
        self, chats: Sequence[ChatRef], *, mentioning: UserRef | None = None, ticker: str | None = None, limit: int = 50
    ) -> list[tuple[Alert, datetime, str]]:
        """The newest alerts queued for these chats (and, with `mentioning`, any alert of that
        member's), as (alert, when queued, status: pending / sent / dead), newest first."""
        where = ["(platform = ? AND chat_id = ?)" for _ in chats]
        params: list[object] = [part for chat in chats for part in (chat.platform, chat.chat_id)]
        if mentioning is not None:
            where.append("(platform = ? AND json_extract(payload, '$.mention.user_id') = ?)")
            params += [mentioning.platform, mentioning.user_id]
        if not where:
            return []
        sql = f"SELECT created_at, status, payload FROM outbox WHERE ({' OR '.join(where)})"
        if ticker is not None:
            sql += " AND ticker = ?"
            params.append(ticker)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        rows = await self._db.fetchall(sql, params)
        return [(Alert.from_json(r["payload"]), datetime.fromisoformat(r["created_at"]), r["status"]) for r in rows]
