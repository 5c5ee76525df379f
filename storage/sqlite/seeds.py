"""Which primer seed levels were applied, so that a level changed in chat is never overwritten."""

from __future__ import annotations

from datetime import datetime

from storage.sqlite.database import Database


class SqlitePrimerSeedStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def applied(self, ticker: str, level_name: str) -> str | None:
        row = await self._db.fetchone("SELECT spec FROM primer_seeds WHERE ticker = ? AND level_name = ?", (ticker, level_name))
        return row["spec"] if row else None

    async def record(self, ticker: str, level_name: str, spec: str, *, now: datetime) -> None:
        await self._db.write(
            """INSERT INTO primer_seeds (ticker, level_name, spec, applied_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (ticker, level_name) DO UPDATE SET spec = excluded.spec, applied_at = excluded.applied_at""",
            (ticker, level_name, spec, now.isoformat()),
        )
