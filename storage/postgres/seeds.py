"""Which primer seed levels were applied, so that a level changed in chat is never overwritten (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from storage.postgres.database import PostgresDatabase


class PostgresPrimerSeedStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def applied(self, ticker: str, level_name: str) -> str | None:
        spec = await self._db.fetchval("SELECT spec FROM primer_seeds WHERE ticker = $1 AND level_name = $2", ticker, level_name)
        return str(spec) if spec is not None else None

    async def record(self, ticker: str, level_name: str, spec: str, *, now: datetime) -> None:
        await self._db.execute(
            """INSERT INTO primer_seeds (ticker, level_name, spec, applied_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (ticker, level_name) DO UPDATE SET spec = excluded.spec, applied_at = excluded.applied_at""",
            ticker,
            level_name,
            spec,
            now.isoformat(),
        )
