"""What fired where: the outbox read back for /history (the history feature's store, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.messages import Alert
from bot.core.models import ChatRef, UserRef
from storage.payloads import read_payload
from storage.postgres.database import PostgresDatabase

# A payload (`storage.payloads`, kept as text) that carries the member's mention anywhere: at its top
# level or in a group's items. SQLite finds the same rows by the mention's text in the JSON; here the
# payload is read as JSON and searched with a JSON path, the member's id passed as a variable.
MENTIONS = "jsonb_path_exists(payload::jsonb, 'strict $.** ? (@.user_id == $user)', jsonb_build_object('user', {id}::text))"


class PostgresHistoryStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def fired(
        self, chats: Sequence[ChatRef], *, mentioning: UserRef | None = None, ticker: str | None = None, limit: int = 50
    ) -> list[tuple[Alert, datetime, str, str]]:
        """The newest deliveries queued for these chats (and, with `mentioning`, any that may carry
        an alert of that member's: the caller checks each alert's mention), as (alert, when queued,
        status: pending / sent / dead, the chat's key), newest first. With `ticker`, those whose first
        alert is about it (a grouped message may carry others: the caller filters the alerts themselves)."""
        params: list[object] = []

        def arg(value: object) -> str:
            params.append(value)
            return f"${len(params)}"

        where = [f"(platform = {arg(chat.platform)} AND chat_id = {arg(chat.chat_id)})" for chat in chats]
        if mentioning is not None:
            where.append(f"(platform = {arg(mentioning.platform)} AND {MENTIONS.format(id=arg(mentioning.user_id))})")
        if not where:
            return []
        sql = f"SELECT created_at, status, payload, platform, chat_id FROM outbox WHERE ({' OR '.join(where)})"
        if ticker is not None:
            sql += f" AND (ticker = {arg(ticker)} OR kind = 'group')"
        sql += f" ORDER BY id DESC LIMIT {arg(limit)}"
        rows = await self._db.fetch(sql, *params)
        return [
            (read_payload(r["payload"]), datetime.fromisoformat(r["created_at"]), r["status"], f"{r['platform']}:{r['chat_id']}")
            for r in rows
        ]
