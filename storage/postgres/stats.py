"""Counts for /status and /metrics, read in one statement (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from bot.core.ports import StoreStats
from storage.postgres.database import PostgresDatabase

_SNAPSHOT = """
SELECT
    (SELECT COUNT(*) FROM rules) AS rules,
    (SELECT COUNT(*) FROM watches) AS watches,
    (SELECT COUNT(*) FROM (
        SELECT platform, chat_id FROM watches
        UNION SELECT platform, chat_id FROM basket_watches
        UNION SELECT platform, chat_id FROM earnings_subscriptions
        UNION SELECT chat_platform, chat_id FROM rules WHERE source = 'member' AND chat_platform IS NOT NULL
    ) AS c) AS chats,
    (SELECT COUNT(*) FROM outbox WHERE status = 'pending') AS pending,
    (SELECT MIN(created_at) FROM outbox WHERE status = 'pending') AS oldest_pending_at,
    (SELECT COUNT(*) FROM outbox WHERE status = 'dead' AND dead_at >= $1) AS given_up
"""


class PostgresStatsStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def snapshot(self, *, since: datetime) -> StoreStats:
        row = await self._db.fetchrow(_SNAPSHOT, since.isoformat())
        assert row is not None  # a SELECT of subqueries always returns one row
        oldest = row["oldest_pending_at"]
        return StoreStats(
            rules=int(row["rules"]),
            watches=int(row["watches"]),
            chats=int(row["chats"]),
            pending=int(row["pending"]),
            oldest_pending_at=datetime.fromisoformat(oldest) if oldest else None,
            given_up=int(row["given_up"]),
        )
