"""The outbox: deliveries written with the change that owes them, sent once by the dispatcher."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import aiosqlite

from bot.core.messages import Alert, Delivery, Envelope
from bot.core.models import ChatRef
from bot.core.ports import OutboxCounts, StorageError
from storage.payloads import read_payload
from storage.sqlite.database import Database, insert_envelopes
from storage.sqlite.rows import chat_of


class SqliteOutboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, envelopes: Iterable[Envelope], *, now: datetime) -> int:
        async with self._db.transaction() as tx:
            return await insert_envelopes(tx, envelopes, now=now)

    async def delivered_to(self, chat: ChatRef, *, since: datetime, limit: int = 500) -> list[Alert]:
        # created_at is ISO 8601 with whatever offset the clock gave: compared as moments, not as text
        rows = await self._db.fetchall(
            """SELECT created_at, payload FROM outbox WHERE platform = ? AND chat_id = ? AND status != 'dead' ORDER BY id DESC LIMIT ?""",
            (chat.platform, chat.chat_id, limit),
        )
        return [read_payload(r["payload"]) for r in reversed(rows) if datetime.fromisoformat(r["created_at"]) >= since]

    async def due(self, *, now: datetime, platforms: Iterable[str], limit: int = 100) -> list[Delivery]:
        names = sorted(set(platforms))
        if not names:
            return []
        marks = ",".join("?" for _ in names)
        rows = await self._db.fetchall(
            f"""SELECT id, platform, chat_id, chat_kind, payload, attempts FROM outbox
                WHERE status = 'pending' AND next_attempt_at <= ? AND platform IN ({marks})
                ORDER BY id LIMIT ?""",
            (now.isoformat(), *names, limit),
        )
        return [_delivery(r) for r in rows]

    async def pending_for_chat(self, chat: ChatRef) -> list[Delivery]:
        rows = await self._db.fetchall(
            """SELECT id, platform, chat_id, chat_kind, payload, attempts FROM outbox
               WHERE status = 'pending' AND platform = ? AND chat_id = ? ORDER BY id""",
            (chat.platform, chat.chat_id),
        )
        return [_delivery(r) for r in rows]

    async def next_due_at(self, platforms: Iterable[str]) -> datetime | None:
        names = sorted(set(platforms))
        if not names:
            return None
        marks = ",".join("?" for _ in names)
        row = await self._db.fetchone(f"SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending' AND platform IN ({marks})", names)
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    async def mark_sent(self, delivery_id: int, *, now: datetime) -> None:
        await self._db.write_later(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
            (now.isoformat(), delivery_id),
        )

    async def mark_retry(self, delivery_id: int, *, at: datetime, error: str, count: bool = True) -> None:
        await self._db.write(
            "UPDATE outbox SET attempts = attempts + ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND status = 'pending'",
            (int(count), at.isoformat(), error[:500], delivery_id),
        )

    async def next_attempt_at(self, delivery_id: int) -> datetime:
        row = await self._db.fetchone("SELECT next_attempt_at FROM outbox WHERE id = ?", (delivery_id,))
        if row is None:
            raise StorageError(f"no delivery {delivery_id}")
        return datetime.fromisoformat(row["next_attempt_at"])

    async def mark_dead(self, delivery_id: int, *, error: str, now: datetime) -> None:
        await self._db.write(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?, dead_at = ? WHERE id = ?",
            (error[:500], now.isoformat(), delivery_id),
        )

    async def claim(self, *, now: datetime, platforms: Iterable[str], limit: int = 100, chats: int | None = None) -> list[Delivery]:
        """One process owns a SQLite file: every due delivery is this process's already (`chats` does
        not matter: the dispatcher serves them `max_chats` at a time)."""
        return await self.due(now=now, platforms=platforms, limit=limit)

    async def release(self, chats: Iterable[ChatRef]) -> None:
        """Nothing to give up: claims only matter with several processes (PostgreSQL)."""

    async def renew_claims(self) -> bool:
        return True

    async def counts(self) -> OutboxCounts:
        rows = await self._db.fetchall("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        counts = {r["status"]: r["n"] for r in rows}
        return OutboxCounts(counts.get("pending", 0), counts.get("sent", 0), counts.get("dead", 0))


def _delivery(row: aiosqlite.Row) -> Delivery:
    return Delivery(id=row["id"], chat=chat_of(row), alert=read_payload(row["payload"]), attempts=row["attempts"])
