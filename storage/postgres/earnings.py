"""Earnings report dates and the chats subscribed to them (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from bot.core.messages import Envelope
from bot.core.models import ChatRef
from bot.core.ports import EarningsDate, EarningsSubscription
from storage.postgres.database import PostgresDatabase, insert_envelopes
from storage.postgres.rows import chat_of, day, day_text


class PostgresEarningsStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def dates(self, ticker: str) -> list[EarningsDate]:
        rows = await self._db.fetch("SELECT * FROM earnings_dates WHERE ticker = $1 ORDER BY day", ticker)
        return [
            EarningsDate(
                ticker=r["ticker"],
                day=date.fromisoformat(r["day"]),
                time=r["time"],
                source=r["source"],
                provider_day=day(r["provider_day"]),
                provider_time=r["provider_time"],
                updated_at=datetime.fromisoformat(r["updated_at"]),
            )
            for r in rows
        ]

    async def set_date(
        self,
        ticker: str,
        day: date,
        time: str,
        *,
        source: str,
        now: datetime,
        provider_day: date | None = None,
        provider_time: str | None = None,
        replaces: date | None = None,
        envelopes: Iterable[Envelope] = (),
    ) -> int:
        async with self._db.transaction() as tx:
            if replaces is not None and replaces != day:
                await tx.execute("DELETE FROM earnings_dates WHERE ticker = $1 AND day = $2", ticker, replaces.isoformat())
            await tx.execute(
                """INSERT INTO earnings_dates (ticker, day, time, source, provider_day, provider_time, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (ticker, day) DO UPDATE SET time = excluded.time, source = excluded.source,
                       provider_day = excluded.provider_day, provider_time = excluded.provider_time,
                       updated_at = excluded.updated_at""",
                ticker,
                day.isoformat(),
                time,
                source,
                day_text(provider_day),
                provider_time,
                now.isoformat(),
            )
            return await insert_envelopes(tx, envelopes, now=now)

    async def subscribe(self, chat: ChatRef, ticker: str, days_before: int, *, now: datetime) -> bool:
        inserted = await self._db.fetchval(
            """INSERT INTO earnings_subscriptions (platform, chat_id, chat_kind, ticker, days_before, created_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (platform, chat_id, ticker) DO UPDATE SET days_before = excluded.days_before
               RETURNING xmax = 0""",
            chat.platform,
            chat.chat_id,
            chat.kind.value,
            ticker,
            days_before,
            now.isoformat(),
        )
        return bool(inserted)

    async def unsubscribe(self, chat: ChatRef, ticker: str) -> bool:
        return await self._db.write(
            "DELETE FROM earnings_subscriptions WHERE platform = $1 AND chat_id = $2 AND ticker = $3", chat.platform, chat.chat_id, ticker
        )

    async def subscriptions(self, chat: ChatRef) -> list[EarningsSubscription]:
        rows = await self._db.fetch(
            "SELECT ticker, days_before FROM earnings_subscriptions WHERE platform = $1 AND chat_id = $2 ORDER BY ticker", chat.platform, chat.chat_id
        )
        return [EarningsSubscription(chat, r["ticker"], int(r["days_before"])) for r in rows]

    async def subscribers(self, ticker: str) -> list[EarningsSubscription]:
        rows = await self._db.fetch(
            """SELECT platform, chat_id, chat_kind, ticker, days_before FROM earnings_subscriptions
               WHERE ticker = $1 ORDER BY platform, chat_id""",
            ticker,
        )
        return [EarningsSubscription(chat_of(r), r["ticker"], int(r["days_before"])) for r in rows]

    async def subscribed_tickers(self) -> list[str]:
        return [r["ticker"] for r in await self._db.fetch("SELECT DISTINCT ticker FROM earnings_subscriptions ORDER BY ticker")]
