"""Catalysts beyond earnings: a named event on a ticker's day (the catalysts feature's store, PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime

from storage.postgres.database import PostgresDatabase, changed


class PostgresCatalystStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def set(self, ticker: str, day: date, name: str, *, by: str, now: datetime) -> bool:
        """Record a catalyst (replacing the ticker's one on that day); True if it is new.
        An insert that yields to an existing row, then an update of it: two processes setting the
        same day at once see one of them told "new", the other "replaced" (an insert waits for the other's commit)."""
        values = (ticker, day.isoformat(), name, by, now.isoformat())
        async with self._db.transaction() as tx:
            inserted = await tx.fetchval(
                """INSERT INTO catalysts (ticker, day, name, set_by, created_at) VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (ticker, day) DO NOTHING RETURNING TRUE""",
                *values,
            )
            if inserted:
                return True
            await tx.execute("UPDATE catalysts SET name = $3, set_by = $4, created_at = $5 WHERE ticker = $1 AND day = $2", *values)
        return False

    async def clear(self, ticker: str, day: date | None = None) -> int:
        """Remove a ticker's catalyst on a day (or all of them); how many were removed."""
        if day is None:
            return changed(await self._db.execute("DELETE FROM catalysts WHERE ticker = $1", ticker))
        return changed(await self._db.execute("DELETE FROM catalysts WHERE ticker = $1 AND day = $2", ticker, day.isoformat()))

    async def between(self, start: date, end: date, ticker: str | None = None) -> list[tuple[str, date, str]]:
        """(ticker, day, name) from `start` to `end` inclusive, by day then ticker."""
        sql = "SELECT ticker, day, name FROM catalysts WHERE day >= $1 AND day <= $2"
        params: list[object] = [start.isoformat(), end.isoformat()]
        if ticker is not None:
            sql += " AND ticker = $3"
            params.append(ticker)
        rows = await self._db.fetch(sql + " ORDER BY day, ticker", *params)
        return [(r["ticker"], date.fromisoformat(r["day"]), r["name"]) for r in rows]
