"""Whether the bot can post in each chat; a chat going inactive settles its pending deliveries."""

from __future__ import annotations

from datetime import datetime

from bot.core.messages import Envelope
from bot.core.models import ChatRef
from bot.core.routing import fallback_key
from storage.payloads import read_payload
from storage.sqlite.database import Database, insert_envelopes
from storage.sqlite.rows import chat_of


class SqliteChatStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def is_active(self, chat: ChatRef) -> bool:
        row = await self._db.fetchone("SELECT active FROM chats WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id))
        return bool(row["active"]) if row else True

    async def set_active(self, chat: ChatRef, active: bool, *, now: datetime, reason: str | None = None) -> bool:
        async with self._db.transaction() as tx:
            row = await (
                await tx.execute("SELECT active FROM chats WHERE platform = ? AND chat_id = ?", (chat.platform, chat.chat_id))
            ).fetchone()
            before = bool(row["active"]) if row else True
            await tx.execute(
                """INSERT INTO chats (platform, chat_id, kind, active, inactive_reason, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (platform, chat_id) DO UPDATE SET active = excluded.active,
                       inactive_reason = excluded.inactive_reason, updated_at = excluded.updated_at""",
                (chat.platform, chat.chat_id, chat.kind.value, int(active), None if active else reason, now.isoformat()),
            )
            if not active:
                pending = await (
                    await tx.execute(
                        """SELECT id, payload, fallback_platform, fallback_chat_id, fallback_kind FROM outbox
                           WHERE status = 'pending' AND platform = ? AND chat_id = ? ORDER BY id""",
                        (chat.platform, chat.chat_id),
                    )
                ).fetchall()
                reroutes = [
                    Envelope(chat_of(r, "fallback_platform", "fallback_chat_id", "fallback_kind"), read_payload(r["payload"]), fallback_key(r["id"]))
                    for r in pending
                    if r["fallback_platform"]
                ]
                await tx.execute(
                    "UPDATE outbox SET status = 'dead', last_error = ?, dead_at = ? WHERE status = 'pending' AND platform = ? AND chat_id = ?",
                    (f"chat inactive: {reason}", now.isoformat(), chat.platform, chat.chat_id),
                )
                await insert_envelopes(tx, reroutes, now=now)
            return before != active
