"""Baskets, the chats that follow them, and what was last told about each (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.core.messages import Envelope
from bot.core.models import ChatRef
from bot.core.ports import BasketState
from storage.postgres.database import PostgresDatabase, changed, insert_envelopes
from storage.postgres.rows import chat_of, day, day_text


class PostgresBasketStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def set(self, name: str, tickers: Sequence[str], *, by: str, now: datetime) -> bool:
        async with self._db.transaction() as tx:
            inserted = await tx.fetchval(
                """INSERT INTO baskets (name, tickers, updated_by, updated_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (name) DO UPDATE SET tickers = excluded.tickers, updated_by = excluded.updated_by,
                       updated_at = excluded.updated_at
                   RETURNING xmax = 0""",
                name,
                " ".join(tickers),
                by,
                now.isoformat(),
            )
            await tx.execute("DELETE FROM basket_state WHERE name = $1", name)
            return bool(inserted)

    async def all(self) -> dict[str, list[str]]:
        rows = await self._db.fetch("SELECT name, tickers FROM baskets ORDER BY name")
        return {r["name"]: r["tickers"].split() for r in rows}

    async def delete(self, name: str) -> bool:
        async with self._db.transaction() as tx:
            status = await tx.execute("DELETE FROM baskets WHERE name = $1", name)
            await tx.execute("DELETE FROM basket_watches WHERE name = $1", name)
            await tx.execute("DELETE FROM basket_state WHERE name = $1", name)
            return changed(status) > 0

    async def watch(self, chat: ChatRef, name: str, *, now: datetime) -> bool:
        return await self._db.write(
            "INSERT INTO basket_watches (platform, chat_id, chat_kind, name, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            chat.platform,
            chat.chat_id,
            chat.kind.value,
            name,
            now.isoformat(),
        )

    async def unwatch(self, chat: ChatRef, name: str) -> bool:
        return await self._db.write("DELETE FROM basket_watches WHERE platform = $1 AND chat_id = $2 AND name = $3", chat.platform, chat.chat_id, name)

    async def watchers(self, name: str) -> list[ChatRef]:
        rows = await self._db.fetch("SELECT platform, chat_id, chat_kind FROM basket_watches WHERE name = $1 ORDER BY platform, chat_id", name)
        return [chat_of(r) for r in rows]

    async def watched(self, chat: ChatRef | None = None) -> list[str]:
        if chat is None:
            rows = await self._db.fetch("SELECT DISTINCT name FROM basket_watches ORDER BY name")
        else:
            rows = await self._db.fetch("SELECT name FROM basket_watches WHERE platform = $1 AND chat_id = $2 ORDER BY name", chat.platform, chat.chat_id)
        return [r["name"] for r in rows]

    async def state(self, name: str) -> BasketState:
        row = await self._db.fetchrow("SELECT selloff_session, drawdown_peak_day FROM basket_state WHERE name = $1", name)
        if row is None:
            return BasketState()
        return BasketState(day(row["selloff_session"]), day(row["drawdown_peak_day"]))

    async def record_alerts(self, name: str, state: BasketState, envelopes: Iterable[Envelope], *, now: datetime) -> int:
        async with self._db.transaction() as tx:
            await tx.execute(
                """INSERT INTO basket_state (name, selloff_session, drawdown_peak_day, updated_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (name) DO UPDATE SET selloff_session = excluded.selloff_session,
                       drawdown_peak_day = excluded.drawdown_peak_day, updated_at = excluded.updated_at""",
                name,
                day_text(state.selloff_session),
                day_text(state.drawdown_peak_day),
                now.isoformat(),
            )
            return await insert_envelopes(tx, envelopes, now=now)
