"""What fired where: the outbox read back for /history (the history feature's store)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.messages import Alert
from bot.core.models import ChatRef, UserRef
from storage.payloads import mention_texts, read_payload
from storage.sqlite.database import Database

MATCHES = "payload LIKE ? ESCAPE '!'"  # with `like_escaped` text


def like_escaped(text: str) -> str:
    """Text that `LIKE ... ESCAPE '!'` matches as it is."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


class SqliteHistoryStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def fired(
        self, chats: Sequence[ChatRef], *, mentioning: UserRef | None = None, ticker: str | None = None, limit: int = 50
    ) -> list[tuple[Alert, datetime, str, str]]:
        """The newest deliveries queued for these chats (and, with `mentioning`, any that may carry
        an alert of that member's: the caller checks each alert's mention), as (alert, when queued,
        status: pending / sent / dead, the chat's key), newest first. With `ticker`, those whose first alert is about
        it (a grouped message may carry others: the caller filters the alerts themselves)."""
        where = ["(platform = ? AND chat_id = ?)" for _ in chats]
        params: list[object] = [part for chat in chats for part in (chat.platform, chat.chat_id)]
        if mentioning is not None:  # the member's mention in the payload's JSON text, top level or in a group's items, as each writer wrote it
            texts = mention_texts(mentioning.user_id)
            where.append(f"(platform = ? AND ({' OR '.join([MATCHES] * len(texts))}))")
            params += [mentioning.platform, *(f"%{like_escaped(text)}%" for text in texts)]
        if not where:
            return []
        sql = f"SELECT created_at, status, payload, platform, chat_id FROM outbox WHERE ({' OR '.join(where)})"
        if ticker is not None:
            sql += " AND (ticker = ? OR kind = 'group')"
            params.append(ticker)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        rows = await self._db.fetchall(sql, params)
        return [(read_payload(r["payload"]), datetime.fromisoformat(r["created_at"]), r["status"], f"{r['platform']}:{r['chat_id']}")
                for r in rows]
