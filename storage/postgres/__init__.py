"""The PostgreSQL implementation of the storage ports (`bot.core.ports`), through an asyncpg pool.

The same schema as SQLite, version for version, so that several tickerbell processes can share one
database (see README "Scaling out"). Open with `await PostgresStorage.open(url)`."""

from __future__ import annotations

from storage.postgres.baskets import PostgresBasketStore
from storage.postgres.cashtags import PostgresCashtagStore
from storage.postgres.catalysts import PostgresCatalystStore
from storage.postgres.chats import PostgresChatStore
from storage.postgres.checks import PostgresCheckStore
from storage.postgres.database import PostgresDatabase, latest_version, mask
from storage.postgres.earnings import PostgresEarningsStore
from storage.postgres.history import PostgresHistoryStore
from storage.postgres.outbox import PostgresOutboxStore
from storage.postgres.rules import PostgresRuleStore
from storage.postgres.seeds import PostgresPrimerSeedStore
from storage.postgres.settings import PostgresChatSettingsStore
from storage.postgres.stats import PostgresStatsStore
from storage.postgres.watches import PostgresMemberPrefStore, PostgresWatchStore


class PostgresStorage:
    """Every storage port over one PostgreSQL database."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.url = db.url
        self.path = db.where  # what logs and /status show as "where the data is" (password masked)
        self.rules = PostgresRuleStore(db)
        self.watches = PostgresWatchStore(db)
        self.prefs = PostgresMemberPrefStore(db)
        self.chats = PostgresChatStore(db)
        self.baskets = PostgresBasketStore(db)
        self.earnings = PostgresEarningsStore(db)
        self.seeds = PostgresPrimerSeedStore(db)
        self.checks = PostgresCheckStore(db)
        self.outbox = PostgresOutboxStore(db)  # deliveries claimed with SKIP LOCKED across processes
        self.stats = PostgresStatsStore(db)
        self.chat_settings = PostgresChatSettingsStore(db)
        self.cashtags = PostgresCashtagStore(db)  # issue 14's features
        self.history = PostgresHistoryStore(db)
        self.catalysts = PostgresCatalystStore(db)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True, max_size: int = 10) -> PostgresStorage:
        return cls(await PostgresDatabase.open(url, migrate=migrate, max_size=max_size))

    async def schema_version(self) -> int:
        return await self.db.schema_version()

    async def close(self) -> None:
        await self.db.close()


__all__ = ["PostgresDatabase", "PostgresStorage", "latest_version", "mask"]
