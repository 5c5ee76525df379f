"""Whether the bot can post in each chat; a chat going inactive settles its pending deliveries (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from bot.core.messages import Envelope
from bot.core.models import ChatRef
from bot.core.routing import fallback_key
from storage.payloads import read_payload
from storage.postgres.database import PostgresDatabase, insert_envelopes
from storage.postgres.rows import chat_of


class PostgresChatStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def is_active(self, chat: ChatRef) -> bool:
        active = await self._db.fetchval("SELECT active FROM chats WHERE platform = $1 AND chat_id = $2", chat.platform, chat.chat_id)
        return bool(active) if active is not None else True

    async def set_active(self, chat: ChatRef, active: bool, *, now: datetime, reason: str | None = None) -> bool:
        async with self._db.transaction() as tx:
            # One change of a chat at a time, across processes: the row may not exist yet, so a row lock is not enough.
            await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"chat:{chat.platform}:{chat.chat_id}")
            row = await tx.fetchval("SELECT active FROM chats WHERE platform = $1 AND chat_id = $2", chat.platform, chat.chat_id)
            before = bool(row) if row is not None else True
            await tx.execute(
                """INSERT INTO chats (platform, chat_id, kind, active, inactive_reason, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (platform, chat_id) DO UPDATE SET active = excluded.active,
                       inactive_reason = excluded.inactive_reason, updated_at = excluded.updated_at""",
                chat.platform,
                chat.chat_id,
                chat.kind.value,
                int(active),
                None if active else reason,
                now.isoformat(),
            )
            if not active:
                pending = await tx.fetch(
                    """UPDATE outbox SET status = 'dead', last_error = $1, dead_at = $2
                       WHERE status = 'pending' AND platform = $3 AND chat_id = $4
                       RETURNING id, payload, fallback_platform, fallback_chat_id, fallback_kind""",
                    f"chat inactive: {reason}",
                    now.isoformat(),
                    chat.platform,
                    chat.chat_id,
                )
                reroutes = [
                    Envelope(chat_of(r, "fallback_platform", "fallback_chat_id", "fallback_kind"), read_payload(r["payload"]), fallback_key(r["id"]))
                    for r in sorted(pending, key=lambda r: r["id"])
                    if r["fallback_platform"]
                ]
                await insert_envelopes(tx, reroutes, now=now)
            return before != active
