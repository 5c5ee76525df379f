"""Catalysts beyond earnings: a named event on a ticker's day (the catalysts feature's store)."""

from __future__ import annotations

from datetime import date, datetime

from storage.sqlite.database import Database


class SqliteCatalystStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, ticker: str, day: date, name: str, *, by: str, now: datetime) -> bool:
        """Record a catalyst (replacing the ticker's one on that day); True if it is new."""
        async with self._db.transaction() as tx:
            cur = await tx.execute("SELECT 1 FROM catalysts WHERE ticker = ? AND day = ?", (ticker, day.isoformat()))
            existed = await cur.fetchone() is not None
            await tx.execute(
                """INSERT INTO catalysts (ticker, day, name, set_by, created_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (ticker, day) DO UPDATE SET name = excluded.name, set_by = excluded.set_by, created_at = excluded.created_at""",
                (ticker, day.isoformat(), name, by, now.isoformat()),
            )
        return not existed

    async def clear(self, ticker: str, day: date | None = None) -> int:
        """Remove a ticker's catalyst on a day (or all of them); how many were removed."""
        async with self._db.transaction() as tx:
            if day is None:
                cur = await tx.execute("DELETE FROM catalysts WHERE ticker = ?", (ticker,))
            else:
                cur = await tx.execute("DELETE FROM catalysts WHERE ticker = ? AND day = ?", (ticker, day.isoformat()))
            return cur.rowcount

    async def between(self, start: date, end: date, ticker: str | None = None) -> list[tuple[str, date, str]]:
        """(ticker, day, name) from `start` to `end` inclusive, by day then ticker."""
        sql = "SELECT ticker, day, name FROM catalysts WHERE day >= ? AND day <= ?"
        params: list[object] = [start.isoformat(), end.isoformat()]
        if ticker is not None:
            sql += " AND ticker = ?"
            params.append(ticker)
        rows = await self._db.fetchall(sql + " ORDER BY day, ticker", params)
        return [(r["ticker"], date.fromisoformat(r["day"]), r["name"]) for r in rows]
